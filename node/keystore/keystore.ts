import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { bytesToHex } from '@noble/hashes/utils.js'
import {
  generateVotePrivateKey,
  isVotePrivateKey,
  isVotePublicKey,
  voteAddress,
  votePublicKey,
} from '../../protocol/index.js'
import {
  atomicWrite,
  checkKdf,
  checkPassphrase,
  corrupt as corruptFile,
  cryptoHeaderJson,
  DEFAULT_KDF,
  deriveKey,
  JsonFields,
  pathExists,
  randomSalt,
  readJsonFile,
  seal,
  sealedJson,
  unseal,
  type KdfParams,
  type Sealed,
} from './encrypted-file.js'
import { KeystoreError } from './errors.js'

/**
 * Encrypted guardian keystore: one JSON file holding both guardian keys.
 *
 *   {
 *     "format": "ubtc-guardian-keystore", "version": 1,
 *     "public": { "votePublicKey": hex33, "address": "0x…", "peerId": "12D3Koo…" },
 *     "crypto": {
 *       "kdf": "scrypt", "kdfparams": { "n", "r", "p", "salt": hex32 },
 *       "cipher": "aes-256-gcm", "iv": hex12, "ciphertext": hex, "tag": hex16
 *     }
 *   }
 *
 * scrypt(passphrase as UTF-8, salt) → 32-byte AES-256-GCM key. The plaintext is the UTF-8 JSON
 * `{"vote":hex32,"p2p":hex}` — the raw secp256k1 vote key and the libp2p protobuf encoding of
 * the Ed25519 key. The AAD is the UTF-8 JSON `{"format","version","public":{votePublicKey,
 * address,peerId}}` in exactly that key order, so editing the public section (or format/version)
 * breaks authentication. kdfparams need not be in the AAD: changing them changes the key.
 *
 * All hex is lower case with no 0x prefix (except `address`). Parsing is strict: unknown or
 * missing fields, wrong types or lengths are 'corrupt', before any scrypt work is spent. The
 * scheme (scrypt, AES-256-GCM, atomic 0600 writes) is shared with the share file: see
 * encrypted-file.ts.
 */

const FORMAT = 'ubtc-guardian-keystore'
const VERSION = 1
/** What the file is called in error messages. */
const KIND = 'keystore'
/** The plaintext is ~230 bytes; anything far bigger was not written by us. */
const MAX_CIPHERTEXT_BYTES = 1024
const MAX_FILE_BYTES = 64 * 1024

export interface GuardianKeys {
  readonly votePrivateKey: Uint8Array
  /** Ed25519 libp2p key: the guardian's peer id. */
  readonly p2pPrivateKey: PrivateKey
}

export interface KeystorePublic {
  /** Compressed (33-byte) secp256k1 public key, lower-case hex. */
  readonly votePublicKey: string
  /** Ethereum address of the vote key, 0x-prefixed, lower case. */
  readonly address: string
  readonly peerId: string
}

export async function generateGuardianKeys(): Promise<GuardianKeys> {
  return { votePrivateKey: generateVotePrivateKey(), p2pPrivateKey: await generateKeyPair('Ed25519') }
}

export function publicInfo(keys: GuardianKeys): KeystorePublic {
  if (!isVotePrivateKey(keys.votePrivateKey)) throw new RangeError('invalid vote private key')
  if (keys.p2pPrivateKey.type !== 'Ed25519') throw new RangeError('p2p key must be Ed25519')
  const pub = votePublicKey(keys.votePrivateKey)
  return {
    votePublicKey: bytesToHex(pub),
    address: voteAddress(pub),
    peerId: peerIdFromPrivateKey(keys.p2pPrivateKey).toString(),
  }
}

/**
 * Encrypts `keys` into a new keystore at `path`. The file appears atomically with mode 0600;
 * an existing file is left untouched ('exists') unless `overwrite` is set.
 */
export async function writeKeystore(
  path: string,
  keys: GuardianKeys,
  passphrase: string,
  opts: { kdf?: KdfParams; overwrite?: boolean } = {},
): Promise<KeystorePublic> {
  checkPassphrase(KIND, path, passphrase)
  const kdf = opts.kdf ?? DEFAULT_KDF
  checkKdf(KIND, kdf)
  const overwrite = opts.overwrite === true
  const pub = publicInfo(keys)
  // Fail before the expensive KDF; the no-clobber link below is what actually guarantees it.
  if (!overwrite && (await pathExists(path))) throw existsError(path)

  const salt = randomSalt()
  const plaintext = encodeSecrets(keys)
  const key = await deriveKey(passphrase, salt, kdf)
  let sealed: Sealed
  try {
    sealed = seal(key, additionalData(pub), plaintext)
  } finally {
    key.fill(0)
    plaintext.fill(0)
  }

  const doc = {
    format: FORMAT,
    version: VERSION,
    public: { votePublicKey: pub.votePublicKey, address: pub.address, peerId: pub.peerId },
    crypto: { ...cryptoHeaderJson(kdf, salt), ...sealedJson(sealed) },
  }
  await atomicWrite(KIND, path, `${JSON.stringify(doc, null, 2)}\n`, { replace: overwrite, exists: () => existsError(path) })
  return pub
}

/** Decrypts the keystore; the returned public info is re-derived from the private keys. */
export async function readKeystore(
  path: string,
  passphrase: string,
): Promise<{ keys: GuardianKeys; public: KeystorePublic }> {
  const file = await loadKeystore(path)
  const key = await deriveKey(passphrase, file.salt, file.kdf)
  let plaintext: Buffer
  try {
    plaintext = unseal(KIND, path, key, additionalData(file.public), file.sealed)
  } finally {
    key.fill(0)
  }
  let keys: GuardianKeys
  try {
    keys = decodeSecrets(plaintext, path)
  } finally {
    plaintext.fill(0)
  }
  const derived = publicInfo(keys)
  for (const field of ['votePublicKey', 'address', 'peerId'] as const) {
    if (derived[field] !== file.public[field]) {
      throw corrupt(path, `public.${field} does not match the encrypted private keys`)
    }
  }
  return { keys, public: derived }
}

/**
 * The public section, without the passphrase. It is checked for internal consistency (the
 * address matches the vote key) but is only authenticated by a successful readKeystore.
 */
export async function readKeystorePublic(path: string): Promise<KeystorePublic> {
  return (await loadKeystore(path)).public
}

// --- file parsing -----------------------------------------------------------------------------

interface ParsedKeystore {
  readonly public: KeystorePublic
  readonly kdf: KdfParams
  readonly salt: Buffer
  readonly sealed: Sealed
}

async function loadKeystore(path: string): Promise<ParsedKeystore> {
  const json = await readJsonFile(KIND, path, MAX_FILE_BYTES)
  if (json === undefined) throw new KeystoreError('not_found', `keystore ${path} does not exist`, { path })
  return parseKeystore(json, path)
}

function parseKeystore(json: unknown, path: string): ParsedKeystore {
  const fields = new JsonFields(KIND, path)
  const top = fields.document(json, FORMAT, VERSION, ['public', 'crypto'])

  const pub = fields.object(top.public, 'public', ['votePublicKey', 'address', 'peerId'])
  const votePub = fields.hex(pub, 'public', 'votePublicKey', 33, 33)
  if (!isVotePublicKey(votePub)) throw corrupt(path, 'public.votePublicKey is not a secp256k1 point')
  const address = fields.string(pub, 'public', 'address')
  if (!/^0x[0-9a-f]{40}$/.test(address)) throw corrupt(path, 'public.address is not a lower-case 0x address')
  if (address !== voteAddress(votePub)) throw corrupt(path, 'public.address does not match public.votePublicKey')
  const peerId = fields.string(pub, 'public', 'peerId')
  if (!isEd25519PeerId(peerId)) throw corrupt(path, 'public.peerId is not an Ed25519 peer id')

  const crypto = fields.object(top.crypto, 'crypto', ['kdf', 'kdfparams', 'cipher', 'iv', 'ciphertext', 'tag'])
  const { kdf, salt } = fields.cryptoHeader(crypto)
  return {
    public: { votePublicKey: bytesToHex(votePub), address, peerId },
    kdf,
    salt,
    sealed: fields.sealed(crypto, 'crypto', MAX_CIPHERTEXT_BYTES),
  }
}

function isEd25519PeerId(text: string): boolean {
  try {
    const id = peerIdFromString(text)
    return id.type === 'Ed25519' && id.toString() === text
  } catch {
    return false
  }
}

function corrupt(path: string, what: string): KeystoreError {
  return corruptFile(KIND, path, what)
}

function existsError(path: string): KeystoreError {
  return new KeystoreError('exists', `keystore ${path} already exists (refusing to overwrite)`, { path })
}

// --- crypto -----------------------------------------------------------------------------------

function additionalData(pub: KeystorePublic): Buffer {
  // Built field by field so the byte string does not depend on the caller's object layout.
  const aad = {
    format: FORMAT,
    version: VERSION,
    public: { votePublicKey: pub.votePublicKey, address: pub.address, peerId: pub.peerId },
  }
  return Buffer.from(JSON.stringify(aad), 'utf8')
}

function encodeSecrets(keys: GuardianKeys): Buffer {
  const secrets = { vote: bytesToHex(keys.votePrivateKey), p2p: bytesToHex(privateKeyToProtobuf(keys.p2pPrivateKey)) }
  return Buffer.from(JSON.stringify(secrets), 'utf8')
}

function decodeSecrets(plaintext: Buffer, path: string): GuardianKeys {
  // Authenticated, so only a buggy writer gets here with bad content; still, never trust it blindly.
  const fields = new JsonFields(KIND, path)
  const json = fields.parse(plaintext.toString('utf8'), 'encrypted payload is not valid JSON')
  const obj = fields.object(json, 'payload', ['vote', 'p2p'])
  const vote = fields.hex(obj, 'payload', 'vote', 32, 32)
  const p2p = fields.hex(obj, 'payload', 'p2p', 1, MAX_CIPHERTEXT_BYTES)
  try {
    const votePrivateKey = new Uint8Array(vote)
    if (!isVotePrivateKey(votePrivateKey)) throw corrupt(path, 'payload.vote is not a valid secp256k1 private key')
    let p2pPrivateKey: PrivateKey
    try {
      p2pPrivateKey = privateKeyFromProtobuf(p2p)
    } catch {
      throw corrupt(path, 'payload.p2p is not a libp2p private key')
    }
    if (p2pPrivateKey.type !== 'Ed25519') throw corrupt(path, 'payload.p2p is not an Ed25519 key')
    return { votePrivateKey, p2pPrivateKey }
  } finally {
    vote.fill(0)
    p2p.fill(0)
  }
}
