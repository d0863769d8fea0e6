/**
 * dlcspecs oracles (enum events): announcement and attestation messages, their wire codec, checks,
 * the oracle's signing side, and the attestation points CETs are locked under.
 */
export {
  ENUM_EVENT_DESCRIPTOR_TYPE,
  MAX_EVENT_ID_BYTES,
  MAX_OUTCOME_BYTES,
  MAX_OUTCOMES,
  ORACLE_ANNOUNCEMENT_TYPE,
  ORACLE_ATTESTATION_TYPE,
  ORACLE_EVENT_TYPE,
  announcementId,
  attestationId,
  decodeOracleAnnouncement,
  decodeOracleAttestation,
  decodeOracleMessage,
  encodeOracleAnnouncement,
  encodeOracleAttestation,
  encodeOracleMessage,
  type OracleAnnouncement,
  type OracleAttestation,
  type OracleEvent,
  type OracleMessage,
} from './messages.js'
export { ANNOUNCEMENT_TAG, ATTESTATION_TAG, attestationMessage } from './bip340.js'
export { verifyAttestationSignatures, verifyOracleAnnouncement, verifyOracleAttestation } from './verify.js'
export { announceEvent, attestOutcome, createOracleNonce, type EventToAnnounce } from './sign.js'
export { attestationPoint, attestationSecret, oraclePairPoint } from './points.js'
