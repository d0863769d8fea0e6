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
