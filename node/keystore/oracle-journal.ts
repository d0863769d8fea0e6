import { readFile, unlink } from 'node:fs/promises'
import { schnorr } from '@noble/curves/secp256k1.js'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import {
  announceEvent,
  attestOutcome,
  createOracleNonce,
  decodeOracleAnnouncement,
  decodeOracleAttestation,
  DlcError,
  encodeOracleAnnouncement,
  encodeOracleAttestation,
  verifyOracleAnnouncement,
  verifyOracleAttestation,
  type OracleAnnouncement,
  type OracleAttestation,
} from '../../dlc/index.js'
import { CodedError, MAX_ORACLE_MESSAGE_BYTES } from '../../protocol/index.js'
import {
  atomicWrite,
  checkKdf,
  checkPassphrase,
  corrupt as corruptFile,
  cryptoHeaderJson,
  DEFAULT_KDF,
  deriveKey,
  JsonFields,
  randomSalt,
  readJsonFile,
  seal,
  sealedJson,
  unseal,
  type KdfParams,
  type Sealed,
} from './encrypted-file.js'
import { errnoCode, ioError, KeystoreError } from './errors.js'

/**
 * The oracle's event journal: an encrypted file beside its keystore (see
 * {@link oracleJournalPath}) with one entry per event the oracle announced. It exists to keep the
 * oracle key secret: a BIP-340 oracle that signs two different outcomes with one nonce, or loses
 * the nonce of a published announcement, has given its key away (or can never attest).
 *
 *   {
 *     "format": "ubtc-oracle-journal", "version": 1,
 *     "crypto": { "kdf": "scrypt", "kdfparams": { "n", "r", "p", "salt": hex32 }, "cipher": "aes-256-gcm",
 *                 "iv": hex12, "ciphertext": hex, "tag": hex16 },
 *     "events": [{
 *       "eventId": "…", "announcement": hex, "attestation": hex | null,
 *       "nonce": { "iv": hex12, "ciphertext": hex32, "tag": hex16 } | null
 *     }, …]
 *   }
 *
 * `announcement` and `attestation` are the dlcspecs wire bytes. An entry is either announced (a
 * nonce, no attestation) or attested (an attestation, the nonce erased). The nonce box's
 * plaintext is the 32-byte nonce secret; its AAD is the UTF-8 JSON
 * `{"format","version","eventId","announcement"}`, so a box cannot be moved to another event.
 * The `crypto` box seals a fixed check value (AAD `{"format","version"}`): a wrong passphrase is
 * refused before anything is added under another key. One scrypt key per file, its own IV per
 * box; mode 0600, atomic fsync'd replace (encrypted-file.ts).
 *
 * The rules, each enforced under a lock (`<file>.lock`, created exclusively):
 *  - {@link journalAnnounce} writes the nonce (and the announcement) before returning the
 *    announcement: nothing is published that the journal could not attest. Announcing an event id
 *    again returns the stored announcement, unless the outcomes or maturity differ (refused).
 *  - {@link journalAttest} writes the attestation and erases the nonce before returning it;
 *    attesting again with the same outcome returns the stored attestation (re-publishing is
 *    idempotent), with another outcome is refused ('already_attested').
 *
 * The announcements and attestations are the oracle's own signed messages: they are checked
 * against the oracle key when used, not authenticated by the file.
 */

export type OracleJournalErrorCode =
  /** No announcement of this event id in the journal. */
  | 'unknown_event'
  /** The event id was announced with other outcomes or another maturity. */
  | 'event_mismatch'
  /** The event is attested with another outcome: a second attestation would reveal the key. */
  | 'already_attested'
  /** The outcome is not one of the announced outcomes. */
  | 'not_an_outcome'
  /** The journal's entry was signed by another oracle key. */
  | 'wrong_oracle'
  /** Another process holds the journal's lock. */
  | 'locked'

export class OracleJournalError extends CodedError<OracleJournalErrorCode> {
  readonly path: string

  constructor(code: OracleJournalErrorCode, message: string, path: string) {
    super(code, message)
    this.path = path
  }
}

/** What the oracle announces: the dlcspecs enum event. */
export interface OracleEventTerms {
  readonly eventId: string
  readonly outcomes: readonly string[]
  /** event_maturity_epoch, unix seconds. */
  readonly maturity: number
}

/** One event of the journal, as {@link readOracleJournal} lists it. */
export interface OracleJournalEntry {
  readonly eventId: string
  readonly announcement: OracleAnnouncement
  readonly attestation: OracleAttestation | undefined
  /** Whether the (encrypted) nonce secret is still held: announced, not yet attested. */
  readonly nonceHeld: boolean
}

const FORMAT = 'ubtc-oracle-journal'
const VERSION = 1
/** What the file is called in error messages. */
const KIND = 'oracle journal'
const NONCE_BYTES = 32
const CHECK_VALUE = Buffer.from('ubtc oracle journal key check', 'utf8')
const MAX_EVENTS = 10_000
const MAX_FILE_BYTES = 64 * 1024 * 1024

/** The journal of the oracle keystore at `keystoreFile`: `oracle.json` → `oracle.events.json`. */
export function oracleJournalPath(keystoreFile: string): string {
  return keystoreFile.endsWith('.json') ? `${keystoreFile.slice(0, -'.json'.length)}.events.json` : `${keystoreFile}.events.json`
}

/**
 * The announcement of `event` by the oracle key `oracleSecretKey`. A new event gets a fresh
 * nonce, which is in the journal (fsync'd) when this returns: only then may the announcement be
 * published. An event already in the journal returns its stored announcement (`stored: true`).
 * A new journal is created with `kdf` (default DEFAULT_KDF).
 */
export function journalAnnounce(
  file: string,
  passphrase: string,
  oracleSecretKey: Uint8Array,
  event: OracleEventTerms,
  opts: { kdf?: KdfParams } = {},
): Promise<{ announcement: OracleAnnouncement; stored: boolean }> {
  return exclusive(file, () => announce(file, passphrase, oracleSecretKey, event, opts.kdf ?? DEFAULT_KDF))
}

/**
 * The attestation of `outcome` for the announced event `eventId`. It is in the journal, and the
 * nonce erased, when this returns: only then may it be published. An event attested with the
 * same outcome returns the stored attestation (`stored: true`); with another outcome it is
 * refused ('already_attested').
 */
export function journalAttest(
  file: string,
  passphrase: string,
  oracleSecretKey: Uint8Array,
  eventId: string,
  outcome: string,
): Promise<{ attestation: OracleAttestation; stored: boolean }> {
  return exclusive(file, () => attest(file, passphrase, oracleSecretKey, eventId, outcome))
}

/** Every event of the journal, oldest first ([] if there is none). Needs no passphrase: nothing secret is returned. */
export async function readOracleJournal(file: string): Promise<OracleJournalEntry[]> {
  const journal = await loadJournal(file)
  return (journal?.events ?? []).map((e) => ({ eventId: e.eventId, announcement: e.announcement, attestation: e.attestation, nonceHeld: e.nonce !== undefined }))
}

// --- operations ---------------------------------------------------------------------------------

interface RawEvent {
  readonly eventId: string
  readonly announcement: OracleAnnouncement
  readonly announcementHex: string
  readonly attestation: OracleAttestation | undefined
  readonly attestationHex: string | undefined
  readonly nonce: Sealed | undefined
}

interface Journal {
  readonly kdf: KdfParams
  readonly salt: Buffer
  readonly check: Sealed
  readonly events: readonly RawEvent[]
}

async function announce(file: string, passphrase: string, oracleSecretKey: Uint8Array, event: OracleEventTerms, kdf: KdfParams): Promise<{ announcement: OracleAnnouncement; stored: boolean }> {
  checkPassphrase(KIND, file, passphrase)
  const publicKey = schnorr.getPublicKey(oracleSecretKey)
  const existing = await loadJournal(file)
  const found = existing?.events.find((e) => e.eventId === event.eventId)
  if (found !== undefined) {
    checkOracle(found, publicKey, file)
    const problem = termsMismatch(found.announcement, event)
    if (problem !== undefined) throw new OracleJournalError('event_mismatch', `oracle journal ${file}: event "${event.eventId}" was announced already with ${problem}`, file)
    return { announcement: found.announcement, stored: true }
  }
  if (existing !== undefined && existing.events.length >= MAX_EVENTS) throw corrupt(file, `holds ${MAX_EVENTS} events already`)

  if (existing === undefined) checkKdf(KIND, kdf)
  const params = existing ?? { kdf, salt: randomSalt() }
  const key = await deriveKey(passphrase, params.salt, params.kdf)
  const { secret, nonce } = createOracleNonce()
  try {
    // The key must open this file's other boxes: a nonce sealed under another one would be lost.
    const check = existing === undefined ? seal(key, checkAad(), CHECK_VALUE) : openCheck(key, existing.check, file)
    const announcement = announceEvent(oracleSecretKey, { eventId: event.eventId, outcomes: [...event.outcomes], maturity: event.maturity }, secret)
    if (!equalBytes(announcement.event.nonces[0] ?? new Uint8Array(), nonce)) throw new RangeError('announceEvent did not use the given nonce')
    const announcementHex = bytesToHex(encodeOracleAnnouncement(announcement))
    const entry: RawEvent = {
      eventId: event.eventId,
      announcement,
      announcementHex,
      attestation: undefined,
      attestationHex: undefined,
      // A view, not a copy: the only copy of the secret is wiped below.
      nonce: seal(key, nonceAad(event.eventId, announcementHex), Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)),
    }
    await writeJournal(file, { kdf: params.kdf, salt: params.salt, check, events: [...(existing?.events ?? []), entry] }, existing !== undefined)
    return { announcement, stored: false }
  } finally {
    secret.fill(0)
    key.fill(0)
  }
}

async function attest(file: string, passphrase: string, oracleSecretKey: Uint8Array, eventId: string, outcome: string): Promise<{ attestation: OracleAttestation; stored: boolean }> {
  const publicKey = schnorr.getPublicKey(oracleSecretKey)
  const journal = await loadJournal(file)
  const index = journal?.events.findIndex((e) => e.eventId === eventId) ?? -1
  const found = journal?.events[index]
  if (journal === undefined || found === undefined) {
    throw new OracleJournalError('unknown_event', `event "${eventId}" was not announced by this oracle (no entry in ${file}): announce it first`, file)
  }
  checkOracle(found, publicKey, file)
  if (found.attestation !== undefined) {
    const attested = found.attestation.outcomes[0]
    if (attested === outcome) return { attestation: found.attestation, stored: true }
    throw new OracleJournalError(
      'already_attested',
      `event "${eventId}" is already attested with outcome "${attested ?? ''}": refusing to attest "${outcome}" too (two outcomes signed with one nonce reveal the oracle key)`,
      file,
    )
  }
  if (!found.announcement.event.outcomes.includes(outcome)) {
    throw new OracleJournalError('not_an_outcome', `"${outcome}" is not an outcome of event "${eventId}" (outcomes: ${found.announcement.event.outcomes.map((o) => `"${o}"`).join(', ')})`, file)
  }
  const sealedNonce = found.nonce
  if (sealedNonce === undefined) throw corrupt(file, `event "${eventId}" has neither a nonce nor an attestation`)

  const key = await deriveKey(passphrase, journal.salt, journal.kdf)
  let secret: Buffer | undefined
  try {
    openCheck(key, journal.check, file)
    secret = unseal(KIND, file, key, nonceAad(found.eventId, found.announcementHex), sealedNonce)
    if (secret.length !== NONCE_BYTES || !equalBytes(schnorr.getPublicKey(secret), found.announcement.event.nonces[0] ?? new Uint8Array())) {
      throw corrupt(file, `the nonce of event "${eventId}" does not match its announcement`)
    }
    // attestOutcome verifies its own signature before returning it.
    const attestation = attestOutcome(oracleSecretKey, secret, found.announcement, outcome)
    const entry: RawEvent = { ...found, attestation, attestationHex: bytesToHex(encodeOracleAttestation(attestation)), nonce: undefined }
    const events = journal.events.map((e, i) => (i === index ? entry : e))
    await writeJournal(file, { ...journal, events }, true)
    return { attestation, stored: false }
  } finally {
    secret?.fill(0)
    key.fill(0)
  }
}

/** The entry must be this oracle's (and its announcement valid) before its nonce or attestation is used. */
function checkOracle(entry: RawEvent, publicKey: Uint8Array, file: string): void {
  if (!equalBytes(entry.announcement.oraclePublicKey, publicKey)) {
    throw new OracleJournalError('wrong_oracle', `oracle journal ${file}: event "${entry.eventId}" was announced by oracle key ${bytesToHex(entry.announcement.oraclePublicKey)}, not by this keystore's ${bytesToHex(publicKey)}`, file)
  }
  try {
    verifyOracleAnnouncement(entry.announcement)
    if (entry.attestation !== undefined) verifyOracleAttestation(entry.attestation, entry.announcement)
  } catch (err) {
    if (err instanceof DlcError) throw corrupt(file, `event "${entry.eventId}": ${err.message}`)
    throw err
  }
}

function termsMismatch(announcement: OracleAnnouncement, event: OracleEventTerms): string | undefined {
  const { outcomes, maturity } = announcement.event
  if (outcomes.length !== event.outcomes.length || outcomes.some((o, i) => o !== event.outcomes[i])) {
    return `outcomes ${JSON.stringify(outcomes)}, not ${JSON.stringify(event.outcomes)}`
  }
  if (maturity !== event.maturity) return `maturity ${maturity}, not ${event.maturity}`
  return undefined
}

function checkAad(): Buffer {
  return Buffer.from(JSON.stringify({ format: FORMAT, version: VERSION }), 'utf8')
}

function nonceAad(eventId: string, announcementHex: string): Buffer {
  return Buffer.from(JSON.stringify({ format: FORMAT, version: VERSION, eventId, announcement: announcementHex }), 'utf8')
}

/** Authenticates `key` against the journal's check box ('wrong_passphrase' otherwise). */
function openCheck(key: Buffer, check: Sealed, file: string): Sealed {
  const value = unseal(KIND, file, key, checkAad(), check)
  if (!value.equals(CHECK_VALUE)) throw corrupt(file, 'the key check value is wrong')
  return check
}

// --- locking ------------------------------------------------------------------------------------

/** Operations on one journal in this process take turns; the lock file keeps other processes out. */
const queues = new Map<string, Promise<unknown>>()

async function exclusive<T>(file: string, operation: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve()
  const mine = previous.then(() => withLockFile(file, operation))
  const settled = mine.catch(() => undefined)
  queues.set(file, settled)
  try {
    return await mine
  } finally {
    if (queues.get(file) === settled) queues.delete(file)
  }
}

/**
 * Runs `operation` holding `<file>.lock`, created with no-clobber semantics and holding our pid.
 * A lock left behind by a killed process is not broken automatically (two processes breaking it
 * at once would both proceed): the error tells the operator which file to remove.
 */
async function withLockFile<T>(file: string, operation: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`
  try {
    await atomicWrite(`${KIND} lock`, lock, `${process.pid}\n`, { replace: false, exists: () => new KeystoreError('exists', `${lock} exists`, { path: lock }) })
  } catch (err) {
    if (!(err instanceof KeystoreError && err.code === 'exists')) throw err
    const pid = await readFile(lock, 'utf8').then(
      (text) => text.trim(),
      () => '',
    )
    const holder = /^[0-9]+$/.test(pid) ? `process ${pid}` : 'another process'
    throw new OracleJournalError('locked', `oracle journal ${file} is in use by ${holder}: wait for it to finish, or remove ${lock} if no ubtc oracle command is running`, file)
  }
  try {
    return await operation()
  } finally {
    await unlink(lock).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOENT') throw ioError(`remove ${KIND} lock`, lock, err)
    })
  }
}

// --- file ---------------------------------------------------------------------------------------

async function writeJournal(file: string, journal: Journal, replace: boolean): Promise<void> {
  const doc = {
    format: FORMAT,
    version: VERSION,
    crypto: { ...cryptoHeaderJson(journal.kdf, journal.salt), ...sealedJson(journal.check) },
    events: journal.events.map((e) => ({
      eventId: e.eventId,
      announcement: e.announcementHex,
      attestation: e.attestationHex ?? null,
      nonce: e.nonce === undefined ? null : sealedJson(e.nonce),
    })),
  }
  await atomicWrite(KIND, file, `${JSON.stringify(doc, null, 2)}\n`, {
    replace,
    exists: () => corrupt(file, 'appeared while it was being created'),
  })
}

async function loadJournal(file: string): Promise<Journal | undefined> {
  const json = await readJsonFile(KIND, file, MAX_FILE_BYTES)
  if (json === undefined) return undefined
  const fields = new JsonFields(KIND, file)
  const top = fields.document(json, FORMAT, VERSION, ['crypto', 'events'])
  const crypto = fields.object(top.crypto, 'crypto', ['kdf', 'kdfparams', 'cipher', 'iv', 'ciphertext', 'tag'])
  const { kdf, salt } = fields.cryptoHeader(crypto)
  const check = fields.sealed(crypto, 'crypto', CHECK_VALUE.length)
  if (!Array.isArray(top.events) || top.events.length > MAX_EVENTS) throw fields.corrupt(`events is not an array of at most ${MAX_EVENTS}`)
  const seen = new Set<string>()
  const events = top.events.map((value: unknown, i): RawEvent => {
    const event = parseEvent(fields, value, `events[${i}]`)
    if (seen.has(event.eventId)) throw fields.corrupt(`event "${event.eventId}" appears twice`)
    seen.add(event.eventId)
    return event
  })
  return { kdf, salt, check, events }
}

function parseEvent(fields: JsonFields, value: unknown, where: string): RawEvent {
  const e = fields.object(value, where, ['eventId', 'announcement', 'attestation', 'nonce'])
  const eventId = fields.string(e, where, 'eventId')
  const announcementBytes = fields.hex(e, where, 'announcement', 1, MAX_ORACLE_MESSAGE_BYTES)
  const announcement = decoded(fields, `${where}.announcement`, () => decodeOracleAnnouncement(announcementBytes))
  if (announcement.event.eventId !== eventId) throw fields.corrupt(`${where}.announcement is of event "${announcement.event.eventId}", not "${eventId}"`)

  let attestation: OracleAttestation | undefined
  let attestationHex: string | undefined
  if (e.attestation !== null) {
    const bytes = fields.hex(e, where, 'attestation', 1, MAX_ORACLE_MESSAGE_BYTES)
    attestation = decoded(fields, `${where}.attestation`, () => decodeOracleAttestation(bytes))
    attestationHex = bytes.toString('hex')
    if (attestation.eventId !== eventId) throw fields.corrupt(`${where}.attestation is of event "${attestation.eventId}", not "${eventId}"`)
  }
  let nonce: Sealed | undefined
  if (e.nonce !== null) {
    const box = fields.object(e.nonce, `${where}.nonce`, ['iv', 'ciphertext', 'tag'])
    nonce = fields.sealed(box, `${where}.nonce`, NONCE_BYTES)
  }
  // Announced: a nonce and no attestation; attested: the reverse. Nothing else is ever written.
  if ((nonce === undefined) === (attestation === undefined)) {
    throw fields.corrupt(`${where} must hold either a nonce (announced) or an attestation (attested)`)
  }
  return { eventId, announcement, announcementHex: announcementBytes.toString('hex'), attestation, attestationHex, nonce }
}

function decoded<T>(fields: JsonFields, where: string, decode: () => T): T {
  try {
    return decode()
  } catch (err) {
    if (err instanceof DlcError) throw fields.corrupt(`${where}: ${err.message}`)
    throw err
  }
}

function corrupt(file: string, what: string): KeystoreError {
  return corruptFile(KIND, file, what)
}
