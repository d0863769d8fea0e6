export { KeystoreError, type KeystoreErrorCode } from './errors.js'
export { DEFAULT_KDF, TESTNET_KDF, type KdfParams } from './encrypted-file.js'
export {
  generateGuardianKeys,
  publicInfo,
  readKeystore,
  readKeystorePublic,
  writeKeystore,
  type GuardianKeys,
  type KeystorePublic,
} from './keystore.js'
export { PASSPHRASE_ENV, readPassphrase } from './passphrase.js'
export { frostSecretOf, keySharesPath, readKeyShare, readKeyShares, writeKeyShare, type KeyShareEntry } from './key-shares.js'
export {
  generateOracleKeys,
  oraclePublicInfo,
  readOracleKeystore,
  readOracleKeystorePublic,
  writeOracleKeystore,
  type OracleKeys,
  type OracleKeystorePublic,
} from './oracle-keystore.js'
export {
  journalAnnounce,
  journalAttest,
  OracleJournalError,
  oracleJournalPath,
  readOracleJournal,
  type OracleEventTerms,
  type OracleJournalEntry,
  type OracleJournalErrorCode,
} from './oracle-journal.js'
