export { KeystoreError, type KeystoreErrorCode } from './errors.js'
export {
  DEFAULT_KDF,
  generateGuardianKeys,
  publicInfo,
  readKeystore,
  readKeystorePublic,
  TESTNET_KDF,
  writeKeystore,
  type GuardianKeys,
  type KdfParams,
  type KeystorePublic,
} from './keystore.js'
export { PASSPHRASE_ENV, readPassphrase } from './passphrase.js'
export { frostSecretOf, keySharesPath, readKeyShare, readKeyShares, writeKeyShare, type KeyShareEntry } from './key-shares.js'
