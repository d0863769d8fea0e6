import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { bytesToHex } from '@noble/hashes/utils.js'
import {
  generateVotePrivateKey,
  isVotePrivateKey,
  isVotePublicKey,
  voteAddress,
  votePublicKey,
} from '../../protocol/index.js'
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
 * layout and scheme (scrypt, AES-256-GCM, atomic 0600 writes) are shared with the oracle
 * keystore and the share file: see encrypted-file.ts.
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
export function writeKeystore(
  path: string,
  keys: GuardianKeys,
  passphrase: string,
  opts: { kdf?: KdfParams; overwrite?: boolean } = {},
): Promise<KeystorePublic> {
  return writeSealedKeystore(LAYOUT, path, keys, passphrase, opts)
}

/** Decrypts the keystore; the returned public info is re-derived from the private keys. */
export function readKeystore(path: string, passphrase: string): Promise<{ keys: GuardianKeys; public: KeystorePublic }> {
  return readSealedKeystore(LAYOUT, path, passphrase)
}

/**
 * The public section, without the passphrase. It is checked for internal consistency (the
 * address matches the vote key) but is only authenticated by a successful readKeystore.
 */
export function readKeystorePublic(path: string): Promise<KeystorePublic> {
  return readSealedKeystorePublic(LAYOUT, path)
}

const LAYOUT: SealedKeystoreLayout<GuardianKeys, KeystorePublic> = {
  format: FORMAT,
  version: VERSION,
  kind: KIND,
  publicFields: ['votePublicKey', 'address', 'peerId'],
  maxCiphertextBytes: MAX_CIPHERTEXT_BYTES,
  maxFileBytes: MAX_FILE_BYTES,
  publicOf: publicInfo,
  parsePublic,
  encodeSecrets: (keys) => Buffer.from(JSON.stringify({ vote: bytesToHex(keys.votePrivateKey), p2p: p2pKeyHex(keys.p2pPrivateKey) }), 'utf8'),
  decodeSecrets,
}

function parsePublic(fields: JsonFields, pub: Record<string, unknown>): KeystorePublic {
  const votePub = fields.hex(pub, 'public', 'votePublicKey', 33, 33)
  if (!isVotePublicKey(votePub)) throw fields.corrupt('public.votePublicKey is not a secp256k1 point')
  const address = fields.string(pub, 'public', 'address')
  if (!/^0x[0-9a-f]{40}$/.test(address)) throw fields.corrupt('public.address is not a lower-case 0x address')
  if (address !== voteAddress(votePub)) throw fields.corrupt('public.address does not match public.votePublicKey')
  const peerId = fields.string(pub, 'public', 'peerId')
  if (!isEd25519PeerId(peerId)) throw fields.corrupt('public.peerId is not an Ed25519 peer id')
  return { votePublicKey: bytesToHex(votePub), address, peerId }
}

function decodeSecrets(fields: JsonFields, plaintext: Buffer): GuardianKeys {
  // Authenticated, so only a buggy writer gets here with bad content; still, never trust it blindly.
  const json = fields.parse(plaintext.toString('utf8'), 'encrypted payload is not valid JSON')
  const obj = fields.object(json, 'payload', ['vote', 'p2p'])
  const vote = fields.hex(obj, 'payload', 'vote', 32, 32)
  const p2p = fields.hex(obj, 'payload', 'p2p', 1, MAX_CIPHERTEXT_BYTES)
  try {
    const votePrivateKey = new Uint8Array(vote)
    if (!isVotePrivateKey(votePrivateKey)) throw fields.corrupt('payload.vote is not a valid secp256k1 private key')
    return { votePrivateKey, p2pPrivateKey: p2pKeyFromBytes(fields, p2p, 'payload.p2p') }
  } finally {
    vote.fill(0)
    p2p.fill(0)
  }
}
