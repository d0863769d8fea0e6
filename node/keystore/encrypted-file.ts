import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { chmod, link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { errnoCode, ioError, KeystoreError } from './errors.js'

/**
 * The scheme shared by the keystores (guardian, oracle), the FROST share file and the oracle
 * journal: a JSON file whose
 * `crypto` section is `{ "kdf": "scrypt", "kdfparams": { "n", "r", "p", "salt": hex32 },
 * "cipher": "aes-256-gcm", … }`, whose secrets are AES-256-GCM boxes `{ "iv": hex12,
 * "ciphertext": hex, "tag": hex16 }` under the key scrypt(passphrase as UTF-8, salt), and which
 * is written atomically with mode 0600.
 *
 * Each file's own layout, AAD and plaintext stay with its module; this one only knows the
 * scheme. Errors are KeystoreErrors whose messages name the file as `${kind} ${path}` (kind:
 * "keystore", "share file"), never its content or the passphrase.
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

// --- single-box keystores -------------------------------------------------------------------

/**
 * A keystore file holding one sealed box of secrets (the guardian and oracle keystores):
 *
 *   { "format", "version", "public": { …string fields… },
 *     "crypto": { "kdf", "kdfparams", "cipher", "iv", "ciphertext", "tag" } }
 *
 * The AAD is the UTF-8 JSON `{"format","version","public":{…}}` with the public fields in
 * `publicFields` order, so editing the public section (or format/version) breaks
 * authentication; kdfparams need not be in it: changing them changes the key.
 */
export interface SealedKeystoreLayout<Keys, Public extends Readonly<Record<keyof Public, string>>> {
  readonly format: string
  readonly version: number
  /** What the file is called in error messages. */
  readonly kind: string
  readonly publicFields: readonly (keyof Public & string)[]
  readonly maxCiphertextBytes: number
  readonly maxFileBytes: number
  /** The public part of `keys`; RangeError (a caller bug) if they are invalid. */
  publicOf(keys: Keys): Public
  /** The `public` object (its fields already checked present and alone), strictly: 'corrupt' via `fields`. */
  parsePublic(fields: JsonFields, pub: JsonObject): Public
  /** The plaintext of the box; the caller zeroes it. */
  encodeSecrets(keys: Keys): Buffer
  /** The keys of an authenticated plaintext ('corrupt' via `fields`); zeroes its own copies. */
  decodeSecrets(fields: JsonFields, plaintext: Buffer): Keys
}

/**
 * Encrypts `keys` into a new keystore at `path`. The file appears atomically with mode 0600;
 * an existing file is left untouched ('exists') unless `overwrite` is set.
 */
export async function writeSealedKeystore<Keys, Public extends Readonly<Record<keyof Public, string>>>(
  layout: SealedKeystoreLayout<Keys, Public>,
  path: string,
  keys: Keys,
  passphrase: string,
  opts: { kdf?: KdfParams; overwrite?: boolean },
): Promise<Public> {
  checkPassphrase(layout.kind, path, passphrase)
  const kdf = opts.kdf ?? DEFAULT_KDF
  checkKdf(layout.kind, kdf)
  const overwrite = opts.overwrite === true
  const pub = layout.publicOf(keys)
  const exists = (): KeystoreError => new KeystoreError('exists', `${layout.kind} ${path} already exists (refusing to overwrite)`, { path })
  // Fail before the expensive KDF; the no-clobber link below is what actually guarantees it.
  if (!overwrite && (await pathExists(path))) throw exists()

  const salt = randomSalt()
  const plaintext = layout.encodeSecrets(keys)
  const key = await deriveKey(passphrase, salt, kdf)
  let sealed: Sealed
  try {
    sealed = seal(key, keystoreAad(layout, pub), plaintext)
  } finally {
    key.fill(0)
    plaintext.fill(0)
  }

  const doc = {
    format: layout.format,
    version: layout.version,
    public: orderedPublic(layout, pub),
    crypto: { ...cryptoHeaderJson(kdf, salt), ...sealedJson(sealed) },
  }
  await atomicWrite(layout.kind, path, `${JSON.stringify(doc, null, 2)}\n`, { replace: overwrite, exists })
  return pub
}

/**
 * Decrypts the keystore; the returned public part is re-derived from the keys and must match the
 * file's. `kdf` is the file's scrypt parameters (files kept beside it may reuse them).
 */
export async function readSealedKeystore<Keys, Public extends Readonly<Record<keyof Public, string>>>(
  layout: SealedKeystoreLayout<Keys, Public>,
  path: string,
  passphrase: string,
): Promise<{ keys: Keys; public: Public; kdf: KdfParams }> {
  const file = await loadSealedKeystore(layout, path)
  const key = await deriveKey(passphrase, file.salt, file.kdf)
  let plaintext: Buffer
  try {
    plaintext = unseal(layout.kind, path, key, keystoreAad(layout, file.public), file.sealed)
  } finally {
    key.fill(0)
  }
  let keys: Keys
  try {
    keys = layout.decodeSecrets(new JsonFields(layout.kind, path), plaintext)
  } finally {
    plaintext.fill(0)
  }
  const derived = layout.publicOf(keys)
  for (const field of layout.publicFields) {
    if (derived[field] !== file.public[field]) {
      throw corrupt(layout.kind, path, `public.${field} does not match the encrypted private keys`)
    }
  }
  return { keys, public: derived, kdf: file.kdf }
}

/**
 * The public section, without the passphrase: checked structurally, but only authenticated by
 * a successful readSealedKeystore.
 */
export async function readSealedKeystorePublic<Keys, Public extends Readonly<Record<keyof Public, string>>>(layout: SealedKeystoreLayout<Keys, Public>, path: string): Promise<Public> {
  return (await loadSealedKeystore(layout, path)).public
}

async function loadSealedKeystore<Keys, Public extends Readonly<Record<keyof Public, string>>>(
  layout: SealedKeystoreLayout<Keys, Public>,
  path: string,
): Promise<{ public: Public; kdf: KdfParams; salt: Buffer; sealed: Sealed }> {
  const json = await readJsonFile(layout.kind, path, layout.maxFileBytes)
  if (json === undefined) throw new KeystoreError('not_found', `${layout.kind} ${path} does not exist`, { path })
  const fields = new JsonFields(layout.kind, path)
  const top = fields.document(json, layout.format, layout.version, ['public', 'crypto'])
  const pub = layout.parsePublic(fields, fields.object(top.public, 'public', layout.publicFields))
  const crypto = fields.object(top.crypto, 'crypto', ['kdf', 'kdfparams', 'cipher', 'iv', 'ciphertext', 'tag'])
  const { kdf, salt } = fields.cryptoHeader(crypto)
  return { public: pub, kdf, salt, sealed: fields.sealed(crypto, 'crypto', layout.maxCiphertextBytes) }
}

/** The public fields in layout order: the file and the AAD do not depend on the caller's object layout. */
function orderedPublic<Public extends Readonly<Record<keyof Public, string>>>(layout: SealedKeystoreLayout<unknown, Public>, pub: Public): Record<string, string> {
  return Object.fromEntries(layout.publicFields.map((field): [string, string] => [field, pub[field]]))
}

function keystoreAad<Public extends Readonly<Record<keyof Public, string>>>(layout: SealedKeystoreLayout<unknown, Public>, pub: Public): Buffer {
  return Buffer.from(JSON.stringify({ format: layout.format, version: layout.version, public: orderedPublic(layout, pub) }), 'utf8')
}

// --- libp2p keys (every keystore holds the node's transport identity) ----------------------

/** Whether `text` is the canonical string of an Ed25519 peer id. */
export function isEd25519PeerId(text: string): boolean {
  try {
    const id = peerIdFromString(text)
    return id.type === 'Ed25519' && id.toString() === text
  } catch {
    return false
  }
}

/** The libp2p protobuf encoding of an Ed25519 key, lower-case hex; RangeError for any other key type. */
export function p2pKeyHex(key: PrivateKey): string {
  if (key.type !== 'Ed25519') throw new RangeError('p2p key must be Ed25519')
  return Buffer.from(privateKeyToProtobuf(key)).toString('hex')
}

/** The Ed25519 key of its protobuf bytes (zeroed afterwards); 'corrupt' naming `where` otherwise. */
export function p2pKeyFromBytes(fields: JsonFields, bytes: Buffer, where: string): PrivateKey {
  try {
    let key: PrivateKey
    try {
      key = privateKeyFromProtobuf(bytes)
    } catch {
      throw fields.corrupt(`${where} is not a libp2p private key`)
    }
    if (key.type !== 'Ed25519') throw fields.corrupt(`${where} is not an Ed25519 key`)
    return key
  } finally {
    bytes.fill(0)
  }
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
