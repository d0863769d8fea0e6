import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { chmod, link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { errnoCode, ioError, KeystoreError } from './errors.js'

/**
 * The scheme shared by the keystores (guardian, oracle), the FROST share file and the oracle
 * journal: a JSON file whose
 * `crypto` section is `{ "kdf": "scrypt", "kdfparams": { "n", "r", "p", "salt": hex32 },
 * "cipher": "aes-256-gcm", … }`, whose secrets are AES-256-GCM boxes `{ "iv": hex12,
 * "ciphertext": hex, "tag": hex16 }` under the key scrypt(passphrase as UTF-8, salt), and which
 * is written atomically with mode 0600.
 *
 * Each file's own layout, AAD and plaintext stay with its module (the guardian and oracle
 * keystores share theirs: sealed-keystore.ts); this one only knows the scheme. Errors are
 * KeystoreErrors whose messages name the file as `${kind} ${path}` (kind: "keystore", "share
 * file"), never its content or the passphrase.
 */

export interface KdfParams {
  readonly n: number
  readonly r: number
  readonly p: number
}

/** ~128 MiB and a fraction of a second per unlock: guardians unlock once per start. */
export const DEFAULT_KDF: KdfParams = Object.freeze({ n: 2 ** 17, r: 8, p: 1 })
/** For generated local testnets, where many keystores are written and read at once. */
export const TESTNET_KDF: KdfParams = Object.freeze({ n: 2 ** 14, r: 8, p: 1 })

/** An AES-256-GCM box: the ciphertext of one secret, with its own IV. */
export interface Sealed {
  readonly iv: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

type JsonObject = Record<string, unknown>

const KDF = 'scrypt'
const CIPHER = 'aes-256-gcm'
const SALT_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
const MIN_PASSPHRASE_CHARS = 8
/** scrypt needs ~128·n·r bytes; refuse parameters that would need more than 1 GiB. */
const MAX_KDF_MEMORY = 2 ** 30
/** …and ~128·n·r·p bytes of mixing: cap it at 16× DEFAULT_KDF so a file can't stall startup. */
const MAX_KDF_WORK = 2 ** 31

// --- writing ----------------------------------------------------------------------------------

/** Refuses ('weak_passphrase') a passphrase too short to protect the file. */
export function checkPassphrase(kind: string, path: string, passphrase: string): void {
  if (Array.from(passphrase).length < MIN_PASSPHRASE_CHARS) {
    throw new KeystoreError('weak_passphrase', `${kind} passphrase must be at least ${MIN_PASSPHRASE_CHARS} characters`, {
      path,
    })
  }
}

/** Refuses (RangeError: a caller bug, not a bad file) parameters outside kdfProblem's bounds. */
export function checkKdf(kind: string, kdf: KdfParams): void {
  const issue = kdfProblem(kdf)
  if (issue !== undefined) throw new RangeError(`bad ${kind} kdf parameters: ${issue}`)
}

/** The salt of a new file; kept for the file's lifetime (one scrypt per file). */
export function randomSalt(): Buffer {
  return randomBytes(SALT_BYTES)
}

/** The `crypto` section's scheme fields, in file order; a file may append its own. */
export function cryptoHeaderJson(kdf: KdfParams, salt: Buffer): { kdf: string; kdfparams: JsonObject; cipher: string } {
  return { kdf: KDF, kdfparams: { n: kdf.n, r: kdf.r, p: kdf.p, salt: salt.toString('hex') }, cipher: CIPHER }
}

/** `sealed` as it is stored: lower-case hex. */
export function sealedJson(sealed: Sealed): { iv: string; ciphertext: string; tag: string } {
  return { iv: sealed.iv.toString('hex'), ciphertext: sealed.ciphertext.toString('hex'), tag: sealed.tag.toString('hex') }
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

/** The AES-256 key of `passphrase`. The caller zeroes it when done. */
export function deriveKey(passphrase: string, salt: Uint8Array, kdf: KdfParams): Promise<Buffer> {
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

/** Encrypts `plaintext` under `key` with a fresh IV, authenticating `aad` too. */
export function seal(key: Buffer, aad: Buffer, plaintext: Buffer): Sealed {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(aad)
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return { iv, ciphertext, tag: cipher.getAuthTag() }
}

/** The plaintext of `sealed`; any failure is 'wrong_passphrase'. The caller zeroes the result. */
export function unseal(kind: string, path: string, key: Buffer, aad: Buffer, sealed: Sealed): Buffer {
  try {
    const decipher = createDecipheriv(CIPHER, key, sealed.iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(aad)
    decipher.setAuthTag(sealed.tag)
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()])
  } catch {
    // GCM cannot tell a wrong key from altered bytes: both are an authentication failure.
    throw new KeystoreError('wrong_passphrase', `wrong passphrase for ${kind} ${path} (or the file was altered)`, { path })
  }
}

// --- parsing ----------------------------------------------------------------------------------

export function corrupt(kind: string, path: string, what: string): KeystoreError {
  return new KeystoreError('corrupt', `${kind} ${path} is corrupt: ${what}`, { path })
}

/** The parsed JSON of the file, or undefined if it does not exist. Too large or not JSON: 'corrupt'. */
export async function readJsonFile(kind: string, path: string, maxBytes: number): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw ioError(`read ${kind}`, path, err)
  }
  const fields = new JsonFields(kind, path)
  if (text.length > maxBytes) throw fields.corrupt('file is too large')
  return fields.parse(text, 'not valid JSON')
}

/**
 * Strict readers of one file's parsed JSON: missing or unknown fields, wrong types or lengths
 * are 'corrupt', so a file is rejected before any scrypt work is spent on it. `where` is the
 * dotted path of the object read ('' for the top level), used in messages only.
 */
export class JsonFields {
  readonly #kind: string
  readonly #path: string

  constructor(kind: string, path: string) {
    this.#kind = kind
    this.#path = path
  }

  corrupt(what: string): KeystoreError {
    return corrupt(this.#kind, this.#path, what)
  }

  /** `text` parsed as JSON; if it is not JSON, 'corrupt' with the message `invalid`. */
  parse(text: string, invalid: string): unknown {
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw this.corrupt(invalid)
    }
  }

  /** The top-level object, with exactly `format`, `version` and `fields`; format and version must match. */
  document(json: unknown, format: string, version: number, fields: readonly string[]): JsonObject {
    const top = this.object(json, '', ['format', 'version', ...fields])
    if (top.format !== format) throw this.corrupt(`format is not "${format}"`)
    if (top.version !== version) throw this.corrupt(`unsupported version (expected ${version})`)
    return top
  }

  /** `value` as an object with exactly `fields`. */
  object(value: unknown, where: string, fields: readonly string[]): JsonObject {
    const name = where === '' ? 'top level' : where
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.corrupt(`${name} is not an object`)
    }
    const obj = value as JsonObject
    for (const field of fields) {
      if (!Object.hasOwn(obj, field)) throw this.corrupt(`missing field ${qualify(where, field)}`)
    }
    for (const field of Object.keys(obj)) {
      if (!fields.includes(field)) throw this.corrupt(`unexpected field ${qualify(where, field)}`)
    }
    return obj
  }

  string(obj: JsonObject, where: string, field: string): string {
    const value = obj[field]
    if (typeof value !== 'string') throw this.corrupt(`${qualify(where, field)} is not a string`)
    return value
  }

  integer(obj: JsonObject, where: string, field: string): number {
    const value = obj[field]
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw this.corrupt(`${qualify(where, field)} is not an integer`)
    }
    return value
  }

  /** Lower-case hex, no 0x, of `min`..`max` bytes. */
  hex(obj: JsonObject, where: string, field: string, min: number, max: number): Buffer {
    const value = this.string(obj, where, field)
    const name = qualify(where, field)
    if (!/^(?:[0-9a-f]{2})*$/.test(value)) throw this.corrupt(`${name} is not lower-case hex`)
    const bytes = value.length / 2
    if (bytes < min || bytes > max) {
      const want = min === max ? `${min}` : `${min}..${max}`
      throw this.corrupt(`${name} is ${bytes} bytes, expected ${want}`)
    }
    return Buffer.from(value, 'hex')
  }

  /**
   * The scheme fields of the `crypto` object (already checked for its fields by the caller): kdf
   * and cipher must be ours and the KDF parameters within bounds.
   */
  cryptoHeader(crypto: JsonObject): { kdf: KdfParams; salt: Buffer } {
    if (crypto.kdf !== KDF) throw this.corrupt(`crypto.kdf is not "${KDF}"`)
    if (crypto.cipher !== CIPHER) throw this.corrupt(`crypto.cipher is not "${CIPHER}"`)
    const params = this.object(crypto.kdfparams, 'crypto.kdfparams', ['n', 'r', 'p', 'salt'])
    const kdf = {
      n: this.integer(params, 'crypto.kdfparams', 'n'),
      r: this.integer(params, 'crypto.kdfparams', 'r'),
      p: this.integer(params, 'crypto.kdfparams', 'p'),
    }
    const issue = kdfProblem(kdf)
    if (issue !== undefined) throw this.corrupt(`crypto.kdfparams: ${issue}`)
    return { kdf, salt: this.hex(params, 'crypto.kdfparams', 'salt', SALT_BYTES, SALT_BYTES) }
  }

  /** The box stored in `obj` as iv, ciphertext and tag. */
  sealed(obj: JsonObject, where: string, maxCiphertextBytes: number): Sealed {
    return {
      iv: this.hex(obj, where, 'iv', IV_BYTES, IV_BYTES),
      ciphertext: this.hex(obj, where, 'ciphertext', 1, maxCiphertextBytes),
      tag: this.hex(obj, where, 'tag', TAG_BYTES, TAG_BYTES),
    }
  }
}

function qualify(where: string, field: string): string {
  return where === '' ? field : `${where}.${field}`
}

// --- files ------------------------------------------------------------------------------------

export async function pathExists(path: string): Promise<boolean> {
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
 * see the old file or the new one, never a torn write. With `replace`, rename() installs it;
 * without, link() (which fails with EEXIST) does, so a file created concurrently is not
 * clobbered either and `exists()` is thrown instead.
 */
export async function atomicWrite(
  kind: string,
  path: string,
  text: string,
  opts: { replace: boolean; exists: () => KeystoreError },
): Promise<void> {
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
    throw ioError(`write ${kind}`, tmp, err)
  }

  try {
    if (opts.replace) {
      await rename(tmp, path)
    } else {
      try {
        await link(tmp, path)
        await unlink(tmp).catch(() => undefined) // installed already; a stray temp file is harmless
      } catch (err) {
        // Filesystems without hard links: fall back to check-then-rename.
        const code = errnoCode(err)
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
        if (await pathExists(path)) throw opts.exists()
        await rename(tmp, path)
      }
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    if (err instanceof KeystoreError) throw err
    if (errnoCode(err) === 'EEXIST') throw opts.exists()
    throw ioError(`install ${kind}`, path, err)
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
