/**
 * The DLC engine: contract terms, their compiler to a taproot output with miniscript leaves,
 * the security rules and spending-path analysis, dlcspecs oracle messages, Schnorr adaptor
 * signatures, CETs and the spending-path transactions. Pure: no networking, no storage.
 */
export { DlcError, type DlcErrorCode } from './errors.js'
// Terms, compiler, security rules, spending-path analysis, example terms.
export {
  bitcoinjsNetwork,
  contractId,
  encodeTerms,
  LOCKTIME_THRESHOLD,
  lockUnitOf,
  MAX_ANNOUNCEMENTS,
  MAX_LOCKED_UNTIL,
  MAX_MONEY_SAT,
  MAX_PAYOUT_OUTPUTS,
  parseTerms,
  termsToJson,
  type ContractTerms,
  type LockUnit,
  type OutcomePayout,
  type PayoutOutput,
} from './terms.js'
export { NUMS_INTERNAL_KEY } from './nums.js'
export {
  assembleMiniscriptAsm,
  compileContract,
  compiledContractToJson,
  compileTaproot,
  LEAF_KEY_SET,
  LEAF_NAMES,
  leafKeys,
  leafMiniscript,
  leafSatisfaction,
  leafThreshold,
  leafWitness,
  parseSatisfaction,
  TAPSCRIPT_LEAF_VERSION,
  tapLeafHash,
  type CompiledContract,
  type CompiledLeaf,
  type KeySet,
  type LeafName,
  type LeafSatisfaction,
} from './compiler.js'
export {
  cetFee,
  checkTerms,
  defaultDlcRules,
  dlcRulesFromGenesis,
  estimateCetVsize,
  ORACLES_PER_CONTRACT,
  payoutTotal,
  SUPPORTED_ORACLE_THRESHOLD,
  TermsRejectedError,
  type DlcRules,
  type RuleContext,
  type RuleViolation,
} from './rules.js'
export { analyzeLeaves, type LeafAnalysis, type PathAnalysis } from './analysis.js'
export {
  devAnnouncements,
  devKey,
  devOracleNonceSecret,
  devOracles,
  EXAMPLE_AMOUNT_SAT,
  EXAMPLE_LOCK_BLOCKS,
  EXAMPLE_LOCK_SECONDS,
  EXAMPLE_MATURITY_SECONDS,
  EXAMPLE_OUTCOMES,
  exampleTerms,
  type DevKey,
  type ExampleTermsOptions,
} from './example-terms.js'
// dlcspecs oracles (enum events): messages, wire codec, checks, signing, attestation points.
export {
  ANNOUNCEMENT_TAG,
  ATTESTATION_TAG,
  ENUM_EVENT_DESCRIPTOR_TYPE,
  MAX_EVENT_ID_BYTES,
  MAX_OUTCOME_BYTES,
  MAX_OUTCOMES,
  ORACLE_ANNOUNCEMENT_TYPE,
  ORACLE_ATTESTATION_TYPE,
  ORACLE_EVENT_TYPE,
  announceEvent,
  announcementId,
  attestationId,
  attestationMessage,
  attestationPoint,
  attestationSecret,
  attestOutcome,
  createOracleNonce,
  decodeOracleAnnouncement,
  decodeOracleAttestation,
  decodeOracleMessage,
  encodeOracleAnnouncement,
  encodeOracleAttestation,
  encodeOracleMessage,
  oraclePairPoint,
  verifyAttestationSignatures,
  verifyOracleAnnouncement,
  verifyOracleAttestation,
  type EventToAnnounce,
  type OracleAnnouncement,
  type OracleAttestation,
  type OracleEvent,
  type OracleMessage,
} from './oracle/index.js'
// BIP-340-compatible Schnorr adaptor signatures.
export {
  ADAPTOR_SIGNATURE_BYTES,
  adaptorSign,
  adaptorVerify,
  adaptSignature,
  decodeAdaptorSignature,
  encodeAdaptorSignature,
  extractAdaptorSecret,
  type AdaptorSignature,
} from './adaptor.js'
// CETs (oracle path), ephemeral-key pre-signing, and the guardians' timelock / emergency spends.
export { checkFunding, leafSighash, SPEND_SEQUENCE, SPEND_TX_VERSION, type FundingOutpoint } from './funding.js'
export {
  buildCet,
  cetAdaptorPoint,
  cetSighash,
  cetSigningJobs,
  completeCet,
  contractOutcomes,
  oraclePairs,
  verifyCetPreSignatures,
  type CetPreSignature,
  type CetSigningJob,
  type CompletedCet,
} from './cet.js'
export { EphemeralKey } from './ephemeral-key.js'
export {
  addGuardianSignature,
  emergencySpend,
  finalizeGuardianSpend,
  guardianSpendSighash,
  signGuardianSpend,
  timelockSpend,
  type FinalizedSpend,
  type GuardianLeaf,
} from './spend.js'
