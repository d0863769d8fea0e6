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
import { atomicWrite, checkKdf, checkPassphrase, corrupt as corruptFile, cryptoHeaderJson, DEFAULT_KDF, deriveKey, JsonFields, randomSalt, readJsonFile, seal, sealedJson, unseal, type KdfParams, type Sealed } from './encrypted-file.js'
import { KeystoreError } from './errors.js'

/**
 * The guardian's FROST key shares: an encrypted file beside the keystore (see
 * {@link keySharesPath}), one entry per DKG session that this guardian finished, prior sessions
 * kept. The scheme is the keystore's (encrypted-file.ts): scrypt(passphrase, salt) → AES-256-GCM
 * key, mode 0600, atomic replace.
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
/** What the file is called in error messages. */
const KIND = 'share file'
const SHARE_BYTES = 32
const MAX_ENTRIES = 256
const MAX_RESERVE_KEY_BYTES = 16 * 1024
const MAX_FILE_BYTES = 8 * 1024 * 1024
/** The plaintext is {"signingShare":"<64 hex>"}: 83 bytes. */
const MAX_CIPHERTEXT_BYTES = 256

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
  checkPassphrase(KIND, file, passphrase)
  checkEntry(entry, file)
  const existing = await loadFile(file)
  let params: { kdf: KdfParams; salt: Buffer }
  if (existing === undefined) {
    checkKdf(KIND, kdf)
    params = { kdf, salt: randomSalt() }
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
      crypto: cryptoHeaderJson(params.kdf, params.salt),
      entries: entries.map((e) => ({ public: e.public, ...sealedJson(e.sealed) })),
    }
    // A new file is installed with link(), which fails if another writer created it meanwhile.
    await atomicWrite(KIND, file, `${JSON.stringify(doc, null, 2)}\n`, {
      replace: existing !== undefined,
      exists: () => new KeystoreError('exists', `share file ${file} appeared while writing it`, { path: file }),
    })
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
  readonly sealed: Sealed
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
  const plaintext = Buffer.from(JSON.stringify({ signingShare: bytesToHex(entry.signingShare) }), 'utf8')
  try {
    return { public: pub, sealed: seal(key, additionalData(pub), plaintext) }
  } finally {
    plaintext.fill(0)
  }
}

function decryptEntry(key: Buffer, raw: RawEntry, file: string): KeyShareEntry {
  const plaintext = unseal(KIND, file, key, additionalData(raw.public), raw.sealed)
  let signingShare: Uint8Array
  try {
    const fields = new JsonFields(KIND, file)
    const json = fields.parse(plaintext.toString('utf8'), 'an encrypted entry is not valid JSON')
    const obj = fields.object(json, 'entry payload', ['signingShare'])
    const hex = fields.hex(obj, 'entry payload', 'signingShare', SHARE_BYTES, SHARE_BYTES)
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

async function loadFile(file: string): Promise<ParsedFile | undefined> {
  const json = await readJsonFile(KIND, file, MAX_FILE_BYTES)
  if (json === undefined) return undefined
  const fields = new JsonFields(KIND, file)
  const top = fields.document(json, FORMAT, VERSION, ['crypto', 'entries'])
  const crypto = fields.object(top.crypto, 'crypto', ['kdf', 'kdfparams', 'cipher'])
  const { kdf, salt } = fields.cryptoHeader(crypto)
  if (!Array.isArray(top.entries) || top.entries.length > MAX_ENTRIES) throw corrupt(file, `entries is not an array of at most ${MAX_ENTRIES}`)
  const entries = top.entries.map((value: unknown, i): RawEntry => {
    const where = `entries[${i}]`
    const e = fields.object(value, where, ['public', 'iv', 'ciphertext', 'tag'])
    const pw = `${where}.public`
    const pub = fields.object(e.public, pw, ['sessionId', 'groupKey', 'identifier', 'threshold', 'reserveKey'])
    return {
      public: {
        sessionId: fields.hex(pub, pw, 'sessionId', 32, 32).toString('hex'),
        groupKey: fields.hex(pub, pw, 'groupKey', 33, 33).toString('hex'),
        identifier: fields.integer(pub, pw, 'identifier'),
        threshold: fields.integer(pub, pw, 'threshold'),
        reserveKey: fields.hex(pub, pw, 'reserveKey', 1, MAX_RESERVE_KEY_BYTES).toString('hex'),
      },
      sealed: fields.sealed(e, where, MAX_CIPHERTEXT_BYTES),
    }
  })
  return { kdf, salt, entries }
}

function corrupt(file: string, what: string): KeystoreError {
  return corruptFile(KIND, file, what)
}
