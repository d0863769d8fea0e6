import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { chmod, link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
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
import { errnoCode, ioError, KeystoreError } from './errors.js'

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
 * missing fields, wrong types or lengths are 'corrupt', before any scrypt work is spent.
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

export interface KdfParams {
  readonly n: number
  readonly r: number
  readonly p: number
}

/** ~128 MiB and a fraction of a second per unlock: guardians unlock once per start. */
export const DEFAULT_KDF: KdfParams = Object.freeze({ n: 2 ** 17, r: 8, p: 1 })
/** For generated local testnets, where many keystores are written and read at once. */
export const TESTNET_KDF: KdfParams = Object.freeze({ n: 2 ** 14, r: 8, p: 1 })

const FORMAT = 'ubtc-guardian-keystore'
const VERSION = 1
const KDF = 'scrypt'
const CIPHER = 'aes-256-gcm'
const SALT_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
const MIN_PASSPHRASE_CHARS = 8
/** The plaintext is ~230 bytes; anything far bigger was not written by us. */
const MAX_CIPHERTEXT_BYTES = 1024
const MAX_FILE_BYTES = 64 * 1024
/** scrypt needs ~128·n·r bytes; refuse parameters that would need more than 1 GiB. */
const MAX_KDF_MEMORY = 2 ** 30
/** …and ~128·n·r·p bytes of mixing: cap it at 16× DEFAULT_KDF so a file can't stall startup. */
const MAX_KDF_WORK = 2 ** 31

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
  if (Array.from(passphrase).length < MIN_PASSPHRASE_CHARS) {
    throw new KeystoreError('weak_passphrase', `keystore passphrase must be at least ${MIN_PASSPHRASE_CHARS} characters`, {
      path,
    })
  }
  const kdf = opts.kdf ?? DEFAULT_KDF
  const kdfIssue = kdfProblem(kdf)
  if (kdfIssue !== undefined) throw new RangeError(`bad keystore kdf parameters: ${kdfIssue}`)
  const overwrite = opts.overwrite === true
  const pub = publicInfo(keys)
  // Fail before the expensive KDF; the no-clobber link below is what actually guarantees it.
  if (!overwrite && (await pathExists(path))) throw existsError(path)

  const salt = randomBytes(SALT_BYTES)
  const iv = randomBytes(IV_BYTES)
  const plaintext = encodeSecrets(keys)
  const key = await deriveKey(passphrase, salt, kdf)
  let ciphertext: Buffer
  let tag: Buffer
  try {
    const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(additionalData(pub))
    ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
    tag = cipher.getAuthTag()
  } finally {
    key.fill(0)
    plaintext.fill(0)
  }

  const doc = {
    format: FORMAT,
    version: VERSION,
    public: { votePublicKey: pub.votePublicKey, address: pub.address, peerId: pub.peerId },
    crypto: {
      kdf: KDF,
      kdfparams: { n: kdf.n, r: kdf.r, p: kdf.p, salt: salt.toString('hex') },
      cipher: CIPHER,
      iv: iv.toString('hex'),
      ciphertext: ciphertext.toString('hex'),
      tag: tag.toString('hex'),
    },
  }
  await atomicWrite(path, `${JSON.stringify(doc, null, 2)}\n`, overwrite)
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
    const decipher = createDecipheriv(CIPHER, key, file.iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(additionalData(file.public))
    decipher.setAuthTag(file.tag)
    plaintext = Buffer.concat([decipher.update(file.ciphertext), decipher.final()])
  } catch {
    // GCM cannot tell a wrong key from altered bytes: both are an authentication failure.
    throw new KeystoreError('wrong_passphrase', `wrong passphrase for keystore ${path} (or the file was altered)`, {
      path,
    })
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
  readonly iv: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

type JsonObject = Record<string, unknown>

async function loadKeystore(path: string): Promise<ParsedKeystore> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new KeystoreError('not_found', `keystore ${path} does not exist`, { path })
    }
    throw ioError('read keystore', path, err)
  }
  if (text.length > MAX_FILE_BYTES) throw corrupt(path, 'file is too large')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw corrupt(path, 'not valid JSON')
  }
  return parseKeystore(json, path)
}

function parseKeystore(json: unknown, path: string): ParsedKeystore {
  const top = expectObject(json, '', ['format', 'version', 'public', 'crypto'], path)
  if (top.format !== FORMAT) throw corrupt(path, `format is not "${FORMAT}"`)
  if (top.version !== VERSION) throw corrupt(path, `unsupported version (expected ${VERSION})`)

  const pub = expectObject(top.public, 'public', ['votePublicKey', 'address', 'peerId'], path)
  const votePub = expectHex(pub, 'public', 'votePublicKey', 33, 33, path)
  if (!isVotePublicKey(votePub)) throw corrupt(path, 'public.votePublicKey is not a secp256k1 point')
  const address = expectString(pub, 'public', 'address', path)
  if (!/^0x[0-9a-f]{40}$/.test(address)) throw corrupt(path, 'public.address is not a lower-case 0x address')
  if (address !== voteAddress(votePub)) throw corrupt(path, 'public.address does not match public.votePublicKey')
  const peerId = expectString(pub, 'public', 'peerId', path)
  if (!isEd25519PeerId(peerId)) throw corrupt(path, 'public.peerId is not an Ed25519 peer id')

  const crypto = expectObject(top.crypto, 'crypto', ['kdf', 'kdfparams', 'cipher', 'iv', 'ciphertext', 'tag'], path)
  if (crypto.kdf !== KDF) throw corrupt(path, `crypto.kdf is not "${KDF}"`)
  if (crypto.cipher !== CIPHER) throw corrupt(path, `crypto.cipher is not "${CIPHER}"`)
  const params = expectObject(crypto.kdfparams, 'crypto.kdfparams', ['n', 'r', 'p', 'salt'], path)
  const kdf = {
    n: expectInteger(params, 'crypto.kdfparams', 'n', path),
    r: expectInteger(params, 'crypto.kdfparams', 'r', path),
    p: expectInteger(params, 'crypto.kdfparams', 'p', path),
  }
  const kdfIssue = kdfProblem(kdf)
  if (kdfIssue !== undefined) throw corrupt(path, `crypto.kdfparams: ${kdfIssue}`)

  return {
    public: { votePublicKey: bytesToHex(votePub), address, peerId },
    kdf,
    salt: expectHex(params, 'crypto.kdfparams', 'salt', SALT_BYTES, SALT_BYTES, path),
    iv: expectHex(crypto, 'crypto', 'iv', IV_BYTES, IV_BYTES, path),
    ciphertext: expectHex(crypto, 'crypto', 'ciphertext', 1, MAX_CIPHERTEXT_BYTES, path),
    tag: expectHex(crypto, 'crypto', 'tag', TAG_BYTES, TAG_BYTES, path),
  }
}

function expectObject(value: unknown, where: string, fields: readonly string[], path: string): JsonObject {
  const name = where === '' ? 'top level' : where
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corrupt(path, `${name} is not an object`)
  }
  const obj = value as JsonObject
  for (const field of fields) {
    if (!Object.hasOwn(obj, field)) throw corrupt(path, `missing field ${qualify(where, field)}`)
  }
  for (const field of Object.keys(obj)) {
    if (!fields.includes(field)) throw corrupt(path, `unexpected field ${qualify(where, field)}`)
  }
  return obj
}

function expectString(obj: JsonObject, where: string, field: string, path: string): string {
  const value = obj[field]
  if (typeof value !== 'string') throw corrupt(path, `${qualify(where, field)} is not a string`)
  return value
}

function expectInteger(obj: JsonObject, where: string, field: string, path: string): number {
  const value = obj[field]
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw corrupt(path, `${qualify(where, field)} is not an integer`)
  }
  return value
}

function expectHex(obj: JsonObject, where: string, field: string, min: number, max: number, path: string): Buffer {
  const value = expectString(obj, where, field, path)
  const name = qualify(where, field)
  if (!/^(?:[0-9a-f]{2})*$/.test(value)) throw corrupt(path, `${name} is not lower-case hex`)
  const bytes = value.length / 2
  if (bytes < min || bytes > max) {
    const want = min === max ? `${min}` : `${min}..${max}`
    throw corrupt(path, `${name} is ${bytes} bytes, expected ${want}`)
  }
  return Buffer.from(value, 'hex')
}

function qualify(where: string, field: string): string {
  return where === '' ? field : `${where}.${field}`
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
  return new KeystoreError('corrupt', `keystore ${path} is corrupt: ${what}`, { path })
}

function existsError(path: string): KeystoreError {
  return new KeystoreError('exists', `keystore ${path} already exists (refusing to overwrite)`, { path })
}

// --- crypto -----------------------------------------------------------------------------------

/** Why `kdf` is out of bounds, or undefined. Checked before deriving so a hostile file can't DoS us. */
function kdfProblem(kdf: KdfParams): string | undefined {
  const { n, r, p } = kdf
  if (!Number.isSafeInteger(n) || n < 2 ** 10 || n > 2 ** 20 || (n & (n - 1)) !== 0) {
    return 'n must be a power of two from 2^10 to 2^20'
  }
  if (!Number.isSafeInteger(r) || r < 1 || r > 32) return 'r must be an integer from 1 to 32'
  if (!Number.isSafeInteger(p) || p < 1 || p > 16) return 'p must be an integer from 1 to 16'
  if (128 * n * r > MAX_KDF_MEMORY) return 'n·r needs more than 1 GiB of memory'
  if (128 * n * r * p > MAX_KDF_WORK) return 'n·r·p is more than 16 times the default cost'
  return undefined
}

function deriveKey(passphrase: string, salt: Uint8Array, kdf: KdfParams): Promise<Buffer> {
  // OpenSSL needs 128·r·(n + p + 2) bytes; node's default maxmem (32 MiB) is too small for n = 2^17.
  const maxmem = Math.max(256 * 2 ** 20, 128 * kdf.r * (kdf.n + kdf.p + 2) + 2 ** 20)
  const password = Buffer.from(passphrase, 'utf8')
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, { N: kdf.n, r: kdf.r, p: kdf.p, maxmem }, (err, key) => {
      password.fill(0)
      if (err !== null) reject(err)
      else resolve(key)
    })
  })
}

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
  let json: unknown
  try {
    json = JSON.parse(plaintext.toString('utf8'))
  } catch {
    throw corrupt(path, 'encrypted payload is not valid JSON')
  }
  const obj = expectObject(json, 'payload', ['vote', 'p2p'], path)
  const vote = expectHex(obj, 'payload', 'vote', 32, 32, path)
  const p2p = expectHex(obj, 'payload', 'p2p', 1, MAX_CIPHERTEXT_BYTES, path)
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

// --- files ------------------------------------------------------------------------------------

async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false
    throw ioError('inspect', path, err)
  }
}

/**
 * Writes `text` to a 0600 temp file beside `path`, fsyncs it, then moves it into place: readers
 * see the old file or the new one, never a torn write. Without `overwrite`, link() (which fails
 * with EEXIST) installs it, so a file created concurrently is not clobbered either.
 */
async function atomicWrite(path: string, text: string, overwrite: boolean): Promise<void> {
  const dir = dirname(path)
  try {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 })
    if (created !== undefined) await chmod(dir, 0o700)
  } catch (err) {
    throw ioError('create directory', dir, err)
  }
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(tmp, 'wx', 0o600)
    try {
      await handle.writeFile(text, 'utf8')
      await handle.chmod(0o600) // the open() mode is subject to umask; chmod is not
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw ioError('write keystore', tmp, err)
  }

  try {
    if (overwrite) {
      await rename(tmp, path)
    } else {
      try {
        await link(tmp, path)
        await unlink(tmp).catch(() => undefined) // installed already; a stray temp file is harmless
      } catch (err) {
        // Filesystems without hard links: fall back to check-then-rename.
        const code = errnoCode(err)
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
        if (await pathExists(path)) throw existsError(path)
        await rename(tmp, path)
      }
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    if (err instanceof KeystoreError) throw err
    if (errnoCode(err) === 'EEXIST') throw existsError(path)
    throw ioError('install keystore', path, err)
  }
  await syncDir(dir)
}

/** Makes the rename durable across a crash. Best effort: not every platform can fsync a directory. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // ignore
  }
}
