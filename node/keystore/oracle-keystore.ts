import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE } from '@noble/curves/utils.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { JsonFields } from './encrypted-file.js'
import { p2pPeerId, parsePublicPeerId, sealedKeystore } from './sealed-keystore.js'

/**
 * Encrypted oracle keystore: one JSON file holding the oracle's two keys, laid out exactly as
 * the guardian keystore (see keystore.ts and sealed-keystore.ts):
 *
 *   {
 *     "format": "ubtc-oracle-keystore", "version": 1,
 *     "public": { "publicKey": hex32, "peerId": "12D3Koo…" },
 *     "crypto": {
 *       "kdf": "scrypt", "kdfparams": { "n", "r", "p", "salt": hex32 },
 *       "cipher": "aes-256-gcm", "iv": hex12, "ciphertext": hex, "tag": hex16
 *     }
 *   }
 *
 * `publicKey` is the BIP-340 x-only key that signs the oracle's dlcspecs announcements and
 * attestations; `peerId` its libp2p identity. Both go into genesis.oracles. The plaintext is the
 * UTF-8 JSON `{"oracle":hex32,"p2p":hex}` (the secp256k1 secret, and the libp2p protobuf of the
 * Ed25519 key); the AAD is `{"format","version","public":{publicKey,peerId}}` in that order.
 *
 * The oracle's nonces live in its journal beside this file (oracle-journal.ts), not here.
 */

const SECRET_BYTES = 32

export interface OracleKeys {
  /** secp256k1 secret scalar of the BIP-340 oracle key. */
  readonly oracleSecretKey: Uint8Array
  /** Ed25519 libp2p key: the oracle's peer id, admitted by the guardians' gater. */
  readonly p2pPrivateKey: PrivateKey
}

export interface OracleKeystorePublic {
  /** BIP-340 x-only public key (32 bytes), lower-case hex. */
  readonly publicKey: string
  readonly peerId: string
}

export async function generateOracleKeys(): Promise<OracleKeys> {
  return { oracleSecretKey: schnorr.utils.randomSecretKey(), p2pPrivateKey: await generateKeyPair('Ed25519') }
}

/** The public part of `keys`: what an operator lists in genesis.oracles. */
export function oraclePublicInfo(keys: OracleKeys): OracleKeystorePublic {
  if (!isOracleSecretKey(keys.oracleSecretKey)) throw new RangeError('invalid oracle secret key')
  const peerId = p2pPeerId(keys.p2pPrivateKey)
  return { publicKey: bytesToHex(schnorr.getPublicKey(keys.oracleSecretKey)), peerId }
}

const KEYSTORE = sealedKeystore<OracleKeys, OracleKeystorePublic>({
  format: 'ubtc-oracle-keystore',
  version: 1,
  kind: 'oracle keystore',
  publicFields: ['publicKey', 'peerId'],
  secret: { field: 'oracle', name: 'secret key', valid: isOracleSecretKey },
  secretOf: (keys) => keys.oracleSecretKey,
  keysOf: (oracleSecretKey, p2pPrivateKey) => ({ oracleSecretKey, p2pPrivateKey }),
  publicOf: oraclePublicInfo,
  parsePublic,
})

/**
 * Encrypts `keys` into a new oracle keystore at `path` (mode 0600, atomic); an existing file is
 * left untouched ('exists') unless `overwrite` is set.
 */
export const writeOracleKeystore = KEYSTORE.write

/**
 * Decrypts the oracle keystore; the returned public info is re-derived from the private keys.
 * `kdf` is the keystore's scrypt parameters: the oracle's journal is created with the same.
 */
export const readOracleKeystore = KEYSTORE.read

/** The public section, without the passphrase; only authenticated by a successful readOracleKeystore. */
export const readOracleKeystorePublic = KEYSTORE.readPublic

function isOracleSecretKey(key: Uint8Array): boolean {
  return key.length === SECRET_BYTES && secp256k1.utils.isValidSecretKey(key)
}

function isXOnlyKey(key: Uint8Array): boolean {
  try {
    schnorr.utils.lift_x(bytesToNumberBE(key))
    return true
  } catch {
    return false
  }
}

function parsePublic(fields: JsonFields, pub: Record<string, unknown>): OracleKeystorePublic {
  const publicKey = fields.hex(pub, 'public', 'publicKey', 32, 32)
  if (!isXOnlyKey(publicKey)) throw fields.corrupt('public.publicKey is not an x-only secp256k1 point')
  return { publicKey: bytesToHex(publicKey), peerId: parsePublicPeerId(fields, pub) }
}
