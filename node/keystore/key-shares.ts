import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { chmod, link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import {
  decodeCanonical,
  encodeReserveKey,
  frostPublicOf,
  guardianIdentifier,
  readReserveKey,
  type ReserveKey,
} from '../../protocol/index.js'
import { errnoCode, ioError, KeystoreError } from './errors.js'
import { DEFAULT_KDF, type KdfParams } from './keystore.js'

/**
 * The guardian's FROST key shares: an encrypted file beside the keystore (see
 * {@link keySharesPath}), one entry per DKG session that this guardian finished, prior sessions
 * kept. The scheme is the keystore's: scrypt(passphrase, salt) → AES-256-GCM key, mode 0600,
 * atomic replace.
 *
 *   {
 *     "format": "ubtc-key-shares", "version": 1,
 *     "crypto": { "kdf": "scrypt", "kdfparams": { "n", "r", "p", "salt": hex32 }, "cipher": "aes-256-gcm" },
 *     "entries": [{
 *       "public": { "sessionId": hex32, "groupKey": hex33, "identifier": int, "threshold": int, "reserveKey": hex },
 *       "iv": hex12, "ciphertext": hex, "tag": hex16
 *     }, …]
 *   }
 *
 * One key (one scrypt) per file; each entry has its own IV. An entry's plaintext is the UTF-8
 * JSON `{"signingShare":hex32}`; its AAD is the UTF-8 JSON `{"format","version","public":{…}}`
 * with the public fields in exactly the order above, so the public part (session, group key,
 * identifier, threshold and the canonical CBOR of the ReserveKey) is authenticated. Reading
 * also checks that each share is valid for its key (`schnorr_FROST.validateSecret`).
 *
 * Shares are written nowhere else, and never logged: errors name the file, never its content.
 */

export interface KeyShareEntry {
  readonly sessionId: Uint8Array
  readonly threshold: number
  /** FROST identifier as a number: the guardian index + 1. */
  readonly identifier: number
  /** The guardian's FROST signing share (32-byte scalar, TapTweaked as noble's DKG outputs it). */
  readonly signingShare: Uint8Array
  readonly key: ReserveKey
}

const FORMAT = 'ubtc-key-shares'
const VERSION = 1
const KDF = 'scrypt'
const CIPHER = 'aes-256-gcm'
const SALT_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
const SHARE_BYTES = 32
const MIN_PASSPHRASE_CHARS = 8
const MAX_ENTRIES = 256
const MAX_RESERVE_KEY_BYTES = 16 * 1024
const MAX_FILE_BYTES = 8 * 1024 * 1024
/** The plaintext is {"signingShare":"<64 hex>"}: 83 bytes. */
const MAX_CIPHERTEXT_BYTES = 256
const MAX_KDF_MEMORY = 2 ** 30
const MAX_KDF_WORK = 2 ** 31

/** The share file of the keystore at `keystoreFile`: `guardian.json` → `guardian.shares.json`. */
export function keySharesPath(keystoreFile: string): string {
  return keystoreFile.endsWith('.json') ? `${keystoreFile.slice(0, -'.json'.length)}.shares.json` : `${keystoreFile}.shares.json`
}

/** noble's secret package of an entry, for `schnorr_FROST.commit/signShare`. */
export function frostSecretOf(entry: KeyShareEntry): { identifier: string; signingShare: Uint8Array } {
  return { identifier: guardianIdentifier(entry.identifier - 1), signingShare: entry.signingShare }
}

/**
 * Adds `entry` to the share file (creating it with `kdf`, default DEFAULT_KDF; an existing
 * file keeps its own parameters and must open with `passphrase`). Writing the same entry again
 * is a no-op; a different entry for a session already in the file is refused ('exists').
 */
export async function writeKeyShare(file: string, passphrase: string, entry: KeyShareEntry, kdf: KdfParams = DEFAULT_KDF): Promise<void> {
  // Read-modify-write: writers of one file in this process take turns.
  const previous = writing.get(file) ?? Promise.resolve()
  const mine = previous.then(() => addEntry(file, passphrase, entry, kdf))
  const settled = mine.catch(() => undefined)
  writing.set(file, settled)
  try {
    await mine
  } finally {
    if (writing.get(file) === settled) writing.delete(file)
  }
}

const writing = new Map<string, Promise<void>>()

async function addEntry(file: string, passphrase: string, entry: KeyShareEntry, kdf: KdfParams): Promise<void> {
  if (Array.from(passphrase).length < MIN_PASSPHRASE_CHARS) {
    throw new KeystoreError('weak_passphrase', `share file passphrase must be at least ${MIN_PASSPHRASE_CHARS} characters`, { path: file })
  }
  checkEntry(entry, file)
  const existing = await loadFile(file)
  let params: { kdf: KdfParams; salt: Buffer }
  if (existing === undefined) {
    const issue = kdfProblem(kdf)
    if (issue !== undefined) throw new RangeError(`bad share file kdf parameters: ${issue}`)
    params = { kdf, salt: randomBytes(SALT_BYTES) }
  } else {
    params = { kdf: existing.kdf, salt: existing.salt }
  }
  if (existing !== undefined && existing.entries.length >= MAX_ENTRIES) throw corrupt(file, `holds ${MAX_ENTRIES} entries already`)

  const key = await deriveKey(passphrase, params.salt, params.kdf)
  try {
    if (existing !== undefined) {
      // Authenticates the passphrase (and every entry) before the file is rewritten.
      for (const e of existing.entries) {
        const old = decryptEntry(key, e, file)
        if (equalBytes(old.sessionId, entry.sessionId)) {
          const same = equalBytes(old.signingShare, entry.signingShare) && old.identifier === entry.identifier && equalBytes(encodeReserveKey(old.key), encodeReserveKey(entry.key))
          old.signingShare.fill(0)
          if (same) return
          throw new KeystoreError('exists', `share file ${file} already holds another share of session ${bytesToHex(entry.sessionId)}`, { path: file })
        }
        old.signingShare.fill(0)
      }
    }
    const entries = [...(existing?.entries ?? []), encryptEntry(key, entry)]
    const doc = {
      format: FORMAT,
      version: VERSION,
      crypto: { kdf: KDF, kdfparams: { n: params.kdf.n, r: params.kdf.r, p: params.kdf.p, salt: params.salt.toString('hex') }, cipher: CIPHER },
      entries: entries.map((e) => ({ public: e.public, iv: e.iv.toString('hex'), ciphertext: e.ciphertext.toString('hex'), tag: e.tag.toString('hex') })),
    }
    await atomicWrite(file, `${JSON.stringify(doc, null, 2)}\n`, existing !== undefined)
  } finally {
    key.fill(0)
  }
}

/** Every entry of the share file, oldest first; [] if the file does not exist. */
export async function readKeyShares(file: string, passphrase: string): Promise<KeyShareEntry[]> {
  const parsed = await loadFile(file)
  if (parsed === undefined) return []
  const key = await deriveKey(passphrase, parsed.salt, parsed.kdf)
  try {
    return parsed.entries.map((e) => decryptEntry(key, e, file))
  } finally {
    key.fill(0)
  }
}

/** The entry of session `sessionId`, if the file holds one. */
export async function readKeyShare(file: string, passphrase: string, sessionId: Uint8Array): Promise<KeyShareEntry | undefined> {
  const entries = await readKeyShares(file, passphrase)
  let found: KeyShareEntry | undefined
  for (const e of entries) {
    if (equalBytes(e.sessionId, sessionId)) found = e
    else e.signingShare.fill(0)
  }
  return found
}

// --- entries ---------------------------------------------------------------------------------------

interface PublicPart {
  readonly sessionId: string
  readonly groupKey: string
  readonly identifier: number
  readonly threshold: number
  readonly reserveKey: string
}

interface RawEntry {
  readonly public: PublicPart
  readonly iv: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

function checkEntry(entry: KeyShareEntry, file: string): void {
  const problem = entryProblem(entry)
  if (problem !== undefined) throw new RangeError(`refusing to write share file ${file}: ${problem}`)
}

/** Why `entry` is inconsistent, or undefined. */
function entryProblem(entry: KeyShareEntry): string | undefined {
  const { key } = entry
  if (!equalBytes(entry.sessionId, key.sessionId)) return 'sessionId differs from the key’s'
  if (entry.threshold !== key.threshold) return 'threshold differs from the key’s'
  if (!Number.isSafeInteger(entry.identifier) || entry.identifier < 1 || entry.identifier > key.verifyingShares.length) return 'identifier is not one of the key’s participants'
  if (entry.signingShare.length !== SHARE_BYTES) return 'signing share is not 32 bytes'
  try {
    schnorr_FROST.validateSecret(frostSecretOf(entry), frostPublicOf(key))
  } catch {
    return 'signing share does not match the key'
  }
  return undefined
}

function publicPart(entry: KeyShareEntry): PublicPart {
  return {
    sessionId: bytesToHex(entry.sessionId),
    groupKey: bytesToHex(entry.key.groupKey),
    identifier: entry.identifier,
    threshold: entry.threshold,
    reserveKey: bytesToHex(encodeReserveKey(entry.key)),
  }
}

function additionalData(pub: PublicPart): Buffer {
  // Field by field, so the bytes do not depend on the caller's object layout.
  const aad = {
    format: FORMAT,
    version: VERSION,
    public: { sessionId: pub.sessionId, groupKey: pub.groupKey, identifier: pub.identifier, threshold: pub.threshold, reserveKey: pub.reserveKey },
  }
  return Buffer.from(JSON.stringify(aad), 'utf8')
}

function encryptEntry(key: Buffer, entry: KeyShareEntry): RawEntry {
  const pub = publicPart(entry)
  const iv = randomBytes(IV_BYTES)
  const plaintext = Buffer.from(JSON.stringify({ signingShare: bytesToHex(entry.signingShare) }), 'utf8')
  try {
    const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(additionalData(pub))
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return { public: pub, iv, ciphertext, tag: cipher.getAuthTag() }
  } finally {
    plaintext.fill(0)
  }
}

function decryptEntry(key: Buffer, raw: RawEntry, file: string): KeyShareEntry {
  let plaintext: Buffer
  try {
    const decipher = createDecipheriv(CIPHER, key, raw.iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(additionalData(raw.public))
    decipher.setAuthTag(raw.tag)
    plaintext = Buffer.concat([decipher.update(raw.ciphertext), decipher.final()])
  } catch {
    throw new KeystoreError('wrong_passphrase', `wrong passphrase for share file ${file} (or the file was altered)`, { path: file })
  }
  let signingShare: Uint8Array
  try {
    let json: unknown
    try {
      json = JSON.parse(plaintext.toString('utf8'))
    } catch {
      throw corrupt(file, 'an encrypted entry is not valid JSON')
    }
    const obj = expectObject(json, 'entry payload', ['signingShare'], file)
    const hex = expectHex(obj, 'entry payload', 'signingShare', SHARE_BYTES, SHARE_BYTES, file)
    signingShare = new Uint8Array(hex)
    hex.fill(0)
  } finally {
    plaintext.fill(0)
  }
  let key2: ReserveKey
  try {
    key2 = readReserveKey(decodeCanonical(Buffer.from(raw.public.reserveKey, 'hex'), MAX_RESERVE_KEY_BYTES, 'reserve key'), 'reserve key')
  } catch (err) {
    signingShare.fill(0)
    throw corrupt(file, `an entry's reserveKey is invalid (${(err as Error).message})`)
  }
  const entry: KeyShareEntry = { sessionId: key2.sessionId, threshold: raw.public.threshold, identifier: raw.public.identifier, signingShare, key: key2 }
  const problem =
    raw.public.sessionId !== bytesToHex(key2.sessionId) ? 'sessionId differs from the key’s'
    : raw.public.groupKey !== bytesToHex(key2.groupKey) ? 'groupKey differs from the key’s'
    : entryProblem(entry)
  if (problem !== undefined) {
    signingShare.fill(0)
    throw corrupt(file, `entry of session ${raw.public.sessionId}: ${problem}`)
  }
  return entry
}

// --- file parsing ----------------------------------------------------------------------------------

interface ParsedFile {
  readonly kdf: KdfParams
  readonly salt: Buffer
  readonly entries: readonly RawEntry[]
}

type JsonObject = Record<string, unknown>

async function loadFile(file: string): Promise<ParsedFile | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw ioError('read share file', file, err)
  }
  if (text.length > MAX_FILE_BYTES) throw corrupt(file, 'file is too large')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw corrupt(file, 'not valid JSON')
  }
  const top = expectObject(json, '', ['format', 'version', 'crypto', 'entries'], file)
  if (top.format !== FORMAT) throw corrupt(file, `format is not "${FORMAT}"`)
  if (top.version !== VERSION) throw corrupt(file, `unsupported version (expected ${VERSION})`)
  const crypto = expectObject(top.crypto, 'crypto', ['kdf', 'kdfparams', 'cipher'], file)
  if (crypto.kdf !== KDF) throw corrupt(file, `crypto.kdf is not "${KDF}"`)
  if (crypto.cipher !== CIPHER) throw corrupt(file, `crypto.cipher is not "${CIPHER}"`)
  const params = expectObject(crypto.kdfparams, 'crypto.kdfparams', ['n', 'r', 'p', 'salt'], file)
  const kdf = {
    n: expectInteger(params, 'crypto.kdfparams', 'n', file),
    r: expectInteger(params, 'crypto.kdfparams', 'r', file),
    p: expectInteger(params, 'crypto.kdfparams', 'p', file),
  }
  const issue = kdfProblem(kdf)
  if (issue !== undefined) throw corrupt(file, `crypto.kdfparams: ${issue}`)
  const salt = expectHex(params, 'crypto.kdfparams', 'salt', SALT_BYTES, SALT_BYTES, file)
  if (!Array.isArray(top.entries) || top.entries.length > MAX_ENTRIES) throw corrupt(file, `entries is not an array of at most ${MAX_ENTRIES}`)
  const entries = top.entries.map((value: unknown, i): RawEntry => {
    const where = `entries[${i}]`
    const e = expectObject(value, where, ['public', 'iv', 'ciphertext', 'tag'], file)
    const pw = `${where}.public`
    const pub = expectObject(e.public, pw, ['sessionId', 'groupKey', 'identifier', 'threshold', 'reserveKey'], file)
    return {
      public: {
        sessionId: expectHex(pub, pw, 'sessionId', 32, 32, file).toString('hex'),
        groupKey: expectHex(pub, pw, 'groupKey', 33, 33, file).toString('hex'),
        identifier: expectInteger(pub, pw, 'identifier', file),
        threshold: expectInteger(pub, pw, 'threshold', file),
        reserveKey: expectHex(pub, pw, 'reserveKey', 1, MAX_RESERVE_KEY_BYTES, file).toString('hex'),
      },
      iv: expectHex(e, where, 'iv', IV_BYTES, IV_BYTES, file),
      ciphertext: expectHex(e, where, 'ciphertext', 1, MAX_CIPHERTEXT_BYTES, file),
      tag: expectHex(e, where, 'tag', TAG_BYTES, TAG_BYTES, file),
    }
  })
  return { kdf, salt, entries }
}

function expectObject(value: unknown, where: string, fields: readonly string[], file: string): JsonObject {
  const name = where === '' ? 'top level' : where
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(file, `${name} is not an object`)
  const obj = value as JsonObject
  for (const field of fields) if (!Object.hasOwn(obj, field)) throw corrupt(file, `missing field ${qualify(where, field)}`)
  for (const field of Object.keys(obj)) if (!fields.includes(field)) throw corrupt(file, `unexpected field ${qualify(where, field)}`)
  return obj
}

function expectInteger(obj: JsonObject, where: string, field: string, file: string): number {
  const value = obj[field]
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw corrupt(file, `${qualify(where, field)} is not an integer`)
  return value
}

function expectHex(obj: JsonObject, where: string, field: string, min: number, max: number, file: string): Buffer {
  const value = obj[field]
  const name = qualify(where, field)
  if (typeof value !== 'string') throw corrupt(file, `${name} is not a string`)
  if (!/^(?:[0-9a-f]{2})*$/.test(value)) throw corrupt(file, `${name} is not lower-case hex`)
  const bytes = value.length / 2
  if (bytes < min || bytes > max) throw corrupt(file, `${name} is ${bytes} bytes, expected ${min === max ? `${min}` : `${min}..${max}`}`)
  return Buffer.from(value, 'hex')
}

function qualify(where: string, field: string): string {
  return where === '' ? field : `${where}.${field}`
}

function corrupt(file: string, what: string): KeystoreError {
  return new KeystoreError('corrupt', `share file ${file} is corrupt: ${what}`, { path: file })
}

// --- crypto and files (the keystore's scheme) ------------------------------------------------------

function kdfProblem(kdf: KdfParams): string | undefined {
  const { n, r, p } = kdf
  if (!Number.isSafeInteger(n) || n < 2 ** 10 || n > 2 ** 20 || (n & (n - 1)) !== 0) return 'n must be a power of two from 2^10 to 2^20'
  if (!Number.isSafeInteger(r) || r < 1 || r > 32) return 'r must be an integer from 1 to 32'
  if (!Number.isSafeInteger(p) || p < 1 || p > 16) return 'p must be an integer from 1 to 16'
  if (128 * n * r > MAX_KDF_MEMORY) return 'n·r needs more than 1 GiB of memory'
  if (128 * n * r * p > MAX_KDF_WORK) return 'n·r·p is more than 16 times the default cost'
  return undefined
}

function deriveKey(passphrase: string, salt: Uint8Array, kdf: KdfParams): Promise<Buffer> {
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
 * Writes `text` to a 0600 temp file beside `file`, fsyncs it and moves it into place (readers
 * see the old file or the new one). A new file is installed with link(), which fails if another
 * writer created it meanwhile; a replaced file with rename().
 */
async function atomicWrite(file: string, text: string, replace: boolean): Promise<void> {
  const dir = dirname(file)
  try {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 })
    if (created !== undefined) await chmod(dir, 0o700)
  } catch (err) {
    throw ioError('create directory', dir, err)
  }
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(tmp, 'wx', 0o600)
    try {
      await handle.writeFile(text, 'utf8')
      await handle.chmod(0o600)
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw ioError('write share file', tmp, err)
  }
  try {
    if (replace) {
      await rename(tmp, file)
    } else {
      try {
        await link(tmp, file)
        await unlink(tmp).catch(() => undefined)
      } catch (err) {
        const code = errnoCode(err)
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
        if (await pathExists(file)) throw new KeystoreError('exists', `share file ${file} appeared while writing it`, { path: file })
        await rename(tmp, file)
      }
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    if (err instanceof KeystoreError) throw err
    if (errnoCode(err) === 'EEXIST') throw new KeystoreError('exists', `share file ${file} appeared while writing it`, { path: file })
    throw ioError('install share file', file, err)
  }
  await syncDir(dir)
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // best effort
  }
}
