import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { bytesToHex } from '@noble/hashes/utils.js'
import {
  generateVotePrivateKey,
  isVotePrivateKey,
  isVotePublicKey,
  voteAddress,
  votePublicKey,
} from '../../protocol/index.js'
import type { JsonFields } from './encrypted-file.js'
import { p2pPeerId, parsePublicPeerId, sealedKeystore } from './sealed-keystore.js'

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
 * layout and its flows are shared with the oracle keystore (sealed-keystore.ts), the scheme
 * (scrypt, AES-256-GCM, atomic 0600 writes) also with the share file (encrypted-file.ts).
 */

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
  const peerId = p2pPeerId(keys.p2pPrivateKey)
  const pub = votePublicKey(keys.votePrivateKey)
  return { votePublicKey: bytesToHex(pub), address: voteAddress(pub), peerId }
}

const KEYSTORE = sealedKeystore<GuardianKeys, KeystorePublic>({
  format: 'ubtc-guardian-keystore',
  version: 1,
  kind: 'keystore',
  publicFields: ['votePublicKey', 'address', 'peerId'],
  secret: { field: 'vote', name: 'private key', valid: isVotePrivateKey },
  secretOf: (keys) => keys.votePrivateKey,
  keysOf: (votePrivateKey, p2pPrivateKey) => ({ votePrivateKey, p2pPrivateKey }),
  publicOf: publicInfo,
  parsePublic,
})

/**
 * Encrypts `keys` into a new keystore at `path`. The file appears atomically with mode 0600;
 * an existing file is left untouched ('exists') unless `overwrite` is set.
 */
export const writeKeystore = KEYSTORE.write

/** Decrypts the keystore; the returned public info is re-derived from the private keys. */
export const readKeystore = KEYSTORE.read

/**
 * The public section, without the passphrase. It is checked for internal consistency (the
 * address matches the vote key) but is only authenticated by a successful readKeystore.
 */
export const readKeystorePublic = KEYSTORE.readPublic

function parsePublic(fields: JsonFields, pub: Record<string, unknown>): KeystorePublic {
  const votePub = fields.hex(pub, 'public', 'votePublicKey', 33, 33)
  if (!isVotePublicKey(votePub)) throw fields.corrupt('public.votePublicKey is not a secp256k1 point')
  const address = fields.string(pub, 'public', 'address')
  if (!/^0x[0-9a-f]{40}$/.test(address)) throw fields.corrupt('public.address is not a lower-case 0x address')
  if (address !== voteAddress(votePub)) throw fields.corrupt('public.address does not match public.votePublicKey')
  return { votePublicKey: bytesToHex(votePub), address, peerId: parsePublicPeerId(fields, pub) }
}
