import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { DlcError } from '../errors.js'
import { announcementMessage, attestationMessage, liftX, verifyBip340 } from './bip340.js'
import { MAX_OUTCOMES, type OracleAnnouncement, type OracleAttestation, type OracleEvent } from './messages.js'

/**
 * Checks of oracle messages beyond their encoding: the rules an enum event must meet, the
 * announcement's BIP-340 signature, and an attestation's signatures and its match with the
 * announcement (dlcspecs Oracle-Validation.md, "oracle_attestation Authentication": same oracle
 * key, signatures valid against the announced nonces). Cheap checks run before signatures.
 */

function invalidAnnouncement(message: string): DlcError {
  return new DlcError('invalid_announcement', message)
}

function invalidAttestation(message: string): DlcError {
  return new DlcError('invalid_attestation', message)
}

/**
 * The rules of an enum event, whoever built it: one nonce that is a valid x-only point and not the
 * oracle key itself (an attestation under R = P would reveal the key, letting anyone attest any
 * outcome), a maturity, 2..MAX_OUTCOMES distinct non-empty outcomes and an event id.
 */
export function checkOracleEvent(event: OracleEvent, oraclePublicKey: Uint8Array): void {
  if (liftX(oraclePublicKey) === undefined) throw invalidAnnouncement('oracle public key is not a valid x-only point')
  if (event.nonces.length !== 1) throw invalidAnnouncement(`an enum event commits to exactly 1 nonce, found ${event.nonces.length}`)
  const nonce = event.nonces[0]!
  if (liftX(nonce) === undefined) throw invalidAnnouncement('the event nonce is not a valid x-only point')
  if (equalBytes(nonce, oraclePublicKey)) throw invalidAnnouncement('the event nonce equals the oracle public key')
  if (!Number.isInteger(event.maturity) || event.maturity <= 0 || event.maturity > 0xffff_ffff) {
    throw invalidAnnouncement(`event maturity ${event.maturity} is not a positive u32 unix time`)
  }
  if (event.outcomes.length < 2 || event.outcomes.length > MAX_OUTCOMES) {
    throw invalidAnnouncement(`an enum event lists 2 to ${MAX_OUTCOMES} outcomes, found ${event.outcomes.length}`)
  }
  const seen = new Set<string>()
  event.outcomes.forEach((outcome, i) => {
    if (outcome.length === 0) throw invalidAnnouncement(`outcome ${i} is empty`)
    if (seen.has(outcome)) throw invalidAnnouncement(`outcome ${JSON.stringify(outcome)} is listed twice`)
    seen.add(outcome)
  })
  if (event.eventId.length === 0) throw invalidAnnouncement('the event id is empty')
}

/** Throws DlcError invalid_announcement (a broken rule) or bad_signature; returns if valid. */
export function verifyOracleAnnouncement(announcement: OracleAnnouncement): void {
  checkOracleEvent(announcement.event, announcement.oraclePublicKey)
  if (!verifyBip340(announcement.signature, announcementMessage(announcement.event), announcement.oraclePublicKey)) {
    throw new DlcError('bad_signature', `announcement of event ${JSON.stringify(announcement.event.eventId)} is not signed by oracle ${bytesToHex(announcement.oraclePublicKey)}`)
  }
}

/**
 * Self-contained check, without the announcement: each signature is a valid BIP-340 signature of
 * attestationMessage(outcome) under the attestation's oracle key. Throws invalid_attestation or
 * bad_signature.
 */
export function verifyAttestationSignatures(attestation: OracleAttestation): void {
  const { signatures, outcomes, oraclePublicKey } = attestation
  if (signatures.length === 0 || signatures.length !== outcomes.length) {
    throw invalidAttestation(`an attestation pairs each signature with one outcome, found ${signatures.length} signatures and ${outcomes.length} outcomes`)
  }
  if (liftX(oraclePublicKey) === undefined) throw invalidAttestation('oracle public key is not a valid x-only point')
  signatures.forEach((signature, i) => {
    if (!verifyBip340(signature, attestationMessage(outcomes[i]!), oraclePublicKey)) {
      throw new DlcError('bad_signature', `attestation of outcome ${JSON.stringify(outcomes[i])} for event ${JSON.stringify(attestation.eventId)} does not verify under oracle ${bytesToHex(oraclePublicKey)}`)
    }
  })
}

/**
 * The attestation answers this announcement: same oracle key and event id, one signature per
 * announced nonce whose R is that nonce, outcomes among the announced ones, and valid signatures.
 * The announcement itself is taken as already verified (verifyOracleAnnouncement).
 */
export function verifyOracleAttestation(attestation: OracleAttestation, announcement: OracleAnnouncement): void {
  if (!equalBytes(attestation.oraclePublicKey, announcement.oraclePublicKey)) {
    throw invalidAttestation(`attestation is from oracle ${bytesToHex(attestation.oraclePublicKey)}, the announcement from ${bytesToHex(announcement.oraclePublicKey)}`)
  }
  const event = announcement.event
  if (attestation.eventId !== event.eventId) {
    throw invalidAttestation(`attestation is for event ${JSON.stringify(attestation.eventId)}, the announcement for ${JSON.stringify(event.eventId)}`)
  }
  if (attestation.signatures.length !== event.nonces.length || attestation.outcomes.length !== event.nonces.length) {
    throw invalidAttestation(`the event has ${event.nonces.length} nonce(s); the attestation carries ${attestation.signatures.length} signature(s) and ${attestation.outcomes.length} outcome(s)`)
  }
  attestation.outcomes.forEach((outcome, i) => {
    if (!event.outcomes.includes(outcome)) throw invalidAttestation(`outcome ${JSON.stringify(outcome)} is not one of the announced outcomes`)
    const signature = attestation.signatures[i]!
    if (signature.length !== 64 || !equalBytes(signature.subarray(0, 32), event.nonces[i]!)) {
      throw invalidAttestation(`attestation signature ${i} does not use the announced nonce`)
    }
  })
  verifyAttestationSignatures(attestation)
}
