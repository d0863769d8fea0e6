import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE } from '@noble/curves/utils.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import {
  isEd25519PeerId,
  p2pKeyFromBytes,
  p2pKeyHex,
  readSealedKeystore,
  readSealedKeystorePublic,
  writeSealedKeystore,
  type JsonFields,
  type KdfParams,
  type SealedKeystoreLayout,
} from './encrypted-file.js'

/**
 * Encrypted oracle keystore: one JSON file holding the oracle's two keys, laid out exactly as
 * the guardian keystore (see keystore.ts and encrypted-file.ts):
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

const FORMAT = 'ubtc-oracle-keystore'
const VERSION = 1
/** What the file is called in error messages. */
const KIND = 'oracle keystore'
/** The plaintext is ~230 bytes; anything far bigger was not written by us. */
const MAX_CIPHERTEXT_BYTES = 1024
const MAX_FILE_BYTES = 64 * 1024
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
  if (keys.p2pPrivateKey.type !== 'Ed25519') throw new RangeError('p2p key must be Ed25519')
  return {
    publicKey: bytesToHex(schnorr.getPublicKey(keys.oracleSecretKey)),
    peerId: peerIdFromPrivateKey(keys.p2pPrivateKey).toString(),
  }
}

/**
 * Encrypts `keys` into a new oracle keystore at `path` (mode 0600, atomic); an existing file is
 * left untouched ('exists') unless `overwrite` is set.
 */
export function writeOracleKeystore(
  path: string,
  keys: OracleKeys,
  passphrase: string,
  opts: { kdf?: KdfParams; overwrite?: boolean } = {},
): Promise<OracleKeystorePublic> {
  return writeSealedKeystore(LAYOUT, path, keys, passphrase, opts)
}

/**
 * Decrypts the oracle keystore; the returned public info is re-derived from the private keys.
 * `kdf` is the keystore's scrypt parameters: the oracle's journal is created with the same.
 */
export function readOracleKeystore(path: string, passphrase: string): Promise<{ keys: OracleKeys; public: OracleKeystorePublic; kdf: KdfParams }> {
  return readSealedKeystore(LAYOUT, path, passphrase)
}

/** The public section, without the passphrase; only authenticated by a successful readOracleKeystore. */
export function readOracleKeystorePublic(path: string): Promise<OracleKeystorePublic> {
  return readSealedKeystorePublic(LAYOUT, path)
}

const LAYOUT: SealedKeystoreLayout<OracleKeys, OracleKeystorePublic> = {
  format: FORMAT,
  version: VERSION,
  kind: KIND,
  publicFields: ['publicKey', 'peerId'],
  maxCiphertextBytes: MAX_CIPHERTEXT_BYTES,
  maxFileBytes: MAX_FILE_BYTES,
  publicOf: oraclePublicInfo,
  parsePublic,
  encodeSecrets: (keys) => Buffer.from(JSON.stringify({ oracle: bytesToHex(keys.oracleSecretKey), p2p: p2pKeyHex(keys.p2pPrivateKey) }), 'utf8'),
  decodeSecrets,
}

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
  const peerId = fields.string(pub, 'public', 'peerId')
  if (!isEd25519PeerId(peerId)) throw fields.corrupt('public.peerId is not an Ed25519 peer id')
  return { publicKey: bytesToHex(publicKey), peerId }
}

function decodeSecrets(fields: JsonFields, plaintext: Buffer): OracleKeys {
  // Authenticated, so only a buggy writer gets here with bad content; still, never trust it blindly.
  const json = fields.parse(plaintext.toString('utf8'), 'encrypted payload is not valid JSON')
  const obj = fields.object(json, 'payload', ['oracle', 'p2p'])
  const oracle = fields.hex(obj, 'payload', 'oracle', SECRET_BYTES, SECRET_BYTES)
  const p2p = fields.hex(obj, 'payload', 'p2p', 1, MAX_CIPHERTEXT_BYTES)
  try {
    const oracleSecretKey = new Uint8Array(oracle)
    if (!isOracleSecretKey(oracleSecretKey)) throw fields.corrupt('payload.oracle is not a valid secp256k1 secret key')
    return { oracleSecretKey, p2pPrivateKey: p2pKeyFromBytes(fields, p2p, 'payload.p2p') }
  } finally {
    oracle.fill(0)
    p2p.fill(0)
  }
}
