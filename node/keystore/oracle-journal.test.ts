import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeOracleAnnouncement, encodeOracleAttestation, verifyOracleAnnouncement, verifyOracleAttestation } from '../../dlc/index.js'
import {
  journalAnnounce,
  journalAttest,
  KeystoreError,
  OracleJournalError,
  oracleJournalPath,
  readOracleJournal,
  TESTNET_KDF,
  type OracleEventTerms,
  type OracleJournalErrorCode,
} from './index.js'

const PASS = 'journal passphrase'
const KDF = { kdf: TESTNET_KDF }
const EVENT: OracleEventTerms = { eventId: 'btc-usd/2030-01-01', outcomes: ['above', 'below'], maturity: 1_900_000_000 }

let dir: string
let counter = 0
/** A fresh journal path, named as the CLI names it. */
const fresh = (): string => oracleJournalPath(join(dir, `j${counter++}`, 'oracle.json'))
const oracleKey = schnorr.utils.randomSecretKey()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ubtc-oracle-journal-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (e: unknown) => e,
  )
}

async function expectJournalError(promise: Promise<unknown>, code: OracleJournalErrorCode): Promise<OracleJournalError> {
  const err = await rejection(promise)
  expect(err).toBeInstanceOf(OracleJournalError)
  expect((err as OracleJournalError).code).toBe(code)
  return err as OracleJournalError
}

type JournalDoc = { events: Array<Record<string, unknown>> } & Record<string, unknown>

async function readDoc(file: string): Promise<JournalDoc> {
  return JSON.parse(await readFile(file, 'utf8')) as JournalDoc
}

describe('oracle journal', () => {
  it('is named after the keystore', () => {
    expect(oracleJournalPath('/x/oracle-0/keystore.json')).toBe('/x/oracle-0/keystore.events.json')
    expect(oracleJournalPath('/x/oracle.key')).toBe('/x/oracle.key.events.json')
  })

  it('has the announcement and its encrypted nonce on disk (0600) when journalAnnounce returns', async () => {
    const file = fresh()
    const { announcement, stored } = await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    expect(stored).toBe(false)
    verifyOracleAnnouncement(announcement)
    expect(bytesToHex(announcement.oraclePublicKey)).toBe(bytesToHex(schnorr.getPublicKey(oracleKey)))
    expect(announcement.event).toMatchObject({ eventId: EVENT.eventId, outcomes: EVENT.outcomes, maturity: EVENT.maturity })

    // What a later process finds: the same announcement bytes and a nonce to attest with.
    const doc = await readDoc(file)
    expect(doc.format).toBe('ubtc-oracle-journal')
    expect(doc.events).toHaveLength(1)
    expect(doc.events[0]).toMatchObject({ eventId: EVENT.eventId, announcement: bytesToHex(encodeOracleAnnouncement(announcement)), attestation: null })
    expect(Object.keys(doc.events[0]!.nonce as object)).toEqual(['iv', 'ciphertext', 'tag'])
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const [entry] = await readOracleJournal(file)
    expect(entry).toMatchObject({ eventId: EVENT.eventId, nonceHeld: true, attestation: undefined })
  })

  it('gives no announcement to publish when the nonce cannot be written', async () => {
    const file = fresh()
    // A directory where the journal should be: reading and installing the file both fail.
    await mkdir(file, { recursive: true })
    const err = await rejection(journalAnnounce(file, PASS, oracleKey, EVENT, KDF))
    expect(err).toBeInstanceOf(KeystoreError)
    expect((err as KeystoreError).message).toContain(file)
  })

  it('announcing an event again returns the stored announcement; other terms for it are refused', async () => {
    const file = fresh()
    const first = await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    const again = await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    expect(again.stored).toBe(true)
    expect(bytesToHex(encodeOracleAnnouncement(again.announcement))).toBe(bytesToHex(encodeOracleAnnouncement(first.announcement)))
    expect(await readOracleJournal(file)).toHaveLength(1)

    const err = await expectJournalError(journalAnnounce(file, PASS, oracleKey, { ...EVENT, outcomes: ['up', 'down'] }, KDF), 'event_mismatch')
    expect(err.message).toContain('["above","below"]')
    await expectJournalError(journalAnnounce(file, PASS, oracleKey, { ...EVENT, maturity: EVENT.maturity + 1 }, KDF), 'event_mismatch')

    // Another event gets its own nonce.
    const other = await journalAnnounce(file, PASS, oracleKey, { ...EVENT, eventId: 'other' }, KDF)
    expect(bytesToHex(other.announcement.event.nonces[0]!)).not.toBe(bytesToHex(first.announcement.event.nonces[0]!))
    expect((await readOracleJournal(file)).map((e) => e.eventId)).toEqual([EVENT.eventId, 'other'])
  })

  it('attests with the announced nonce, keeps the attestation and wipes the nonce', async () => {
    const file = fresh()
    const { announcement } = await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    const { attestation, stored } = await journalAttest(file, PASS, oracleKey, EVENT.eventId, 'below')
    expect(stored).toBe(false)
    verifyOracleAttestation(attestation, announcement)
    expect(attestation.outcomes).toEqual(['below'])

    const doc = await readDoc(file)
    expect(doc.events[0]).toMatchObject({ attestation: bytesToHex(encodeOracleAttestation(attestation)), nonce: null })
    const [entry] = await readOracleJournal(file)
    expect(entry!.nonceHeld).toBe(false)
    expect(entry!.attestation?.outcomes).toEqual(['below'])
  })

  it('attesting again with the same outcome returns the stored attestation (re-publishing is idempotent)', async () => {
    const file = fresh()
    await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    const first = await journalAttest(file, PASS, oracleKey, EVENT.eventId, 'above')
    const again = await journalAttest(file, PASS, oracleKey, EVENT.eventId, 'above')
    expect(again.stored).toBe(true)
    expect(bytesToHex(encodeOracleAttestation(again.attestation))).toBe(bytesToHex(encodeOracleAttestation(first.attestation)))
  })

  it('refuses to attest another outcome of an attested event, with a clear reason', async () => {
    const file = fresh()
    await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    await journalAttest(file, PASS, oracleKey, EVENT.eventId, 'above')
    const before = await readFile(file, 'utf8')
    const err = await expectJournalError(journalAttest(file, PASS, oracleKey, EVENT.eventId, 'below'), 'already_attested')
    expect(err.message).toMatch(/already attested with outcome "above": refusing to attest "below".*reveal the oracle key/)
    expect(await readFile(file, 'utf8')).toBe(before)
  })

  it('of two concurrent attestations with different outcomes, exactly one is made', async () => {
    const file = fresh()
    await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    const results = await Promise.allSettled([journalAttest(file, PASS, oracleKey, EVENT.eventId, 'above'), journalAttest(file, PASS, oracleKey, EVENT.eventId, 'below')])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    const refused = results.find((r) => r.status === 'rejected')!
    expect((refused.reason as OracleJournalError).code).toBe('already_attested')
  })

  it('refuses an unknown event, an outcome that was not announced, and another oracle key', async () => {
    const file = fresh()
    await expectJournalError(journalAttest(file, PASS, oracleKey, EVENT.eventId, 'above'), 'unknown_event')
    await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    expect((await expectJournalError(journalAttest(file, PASS, oracleKey, 'nope', 'above'), 'unknown_event')).message).toContain('announce it first')
    expect((await expectJournalError(journalAttest(file, PASS, oracleKey, EVENT.eventId, 'sideways'), 'not_an_outcome')).message).toContain('"above", "below"')
    const otherKey = schnorr.utils.randomSecretKey()
    await expectJournalError(journalAttest(file, PASS, otherKey, EVENT.eventId, 'above'), 'wrong_oracle')
    await expectJournalError(journalAnnounce(file, PASS, otherKey, EVENT, KDF), 'wrong_oracle')
    expect((await readOracleJournal(file))[0]!.nonceHeld).toBe(true)
  })

  it('refuses a wrong passphrase before adding or attesting anything', async () => {
    const file = fresh()
    await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    const before = await readFile(file, 'utf8')
    const wrong = 'another passphrase'
    for (const attempt of [journalAnnounce(file, wrong, oracleKey, { ...EVENT, eventId: 'second' }, KDF), journalAttest(file, wrong, oracleKey, EVENT.eventId, 'above')]) {
      const err = await rejection(attempt)
      expect(err).toBeInstanceOf(KeystoreError)
      expect((err as KeystoreError).code).toBe('wrong_passphrase')
    }
    expect(await readFile(file, 'utf8')).toBe(before)
  })

  it('refuses to work while another process holds the lock, and names it', async () => {
    const file = fresh()
    await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
    await writeFile(`${file}.lock`, '424242\n')
    const err = await expectJournalError(journalAttest(file, PASS, oracleKey, EVENT.eventId, 'above'), 'locked')
    expect(err.message).toContain('process 424242')
    expect(err.message).toContain(`remove ${file}.lock`)
    await rm(`${file}.lock`)
    expect((await journalAttest(file, PASS, oracleKey, EVENT.eventId, 'above')).stored).toBe(false)
    await expect(stat(`${file}.lock`)).rejects.toThrow(/ENOENT/)
  })

  describe('a tampered journal', () => {
    async function twoEvents(): Promise<string> {
      const file = fresh()
      await journalAnnounce(file, PASS, oracleKey, EVENT, KDF)
      await journalAnnounce(file, PASS, oracleKey, { ...EVENT, eventId: 'second' }, KDF)
      return file
    }

    async function edit(file: string, change: (doc: JournalDoc) => void): Promise<void> {
      const doc = await readDoc(file)
      change(doc)
      await writeFile(file, JSON.stringify(doc))
    }

    it('a nonce moved to another event does not open (AAD)', async () => {
      const file = await twoEvents()
      await edit(file, (doc) => {
        doc.events[0]!.nonce = doc.events[1]!.nonce
      })
      const err = await rejection(journalAttest(file, PASS, oracleKey, EVENT.eventId, 'above'))
      expect((err as KeystoreError).code).toBe('wrong_passphrase')
    })

    const corruptions: Array<[string, (doc: JournalDoc) => void, string]> = [
      ['an entry with neither nonce nor attestation', (doc) => void (doc.events[0]!.nonce = null), 'either a nonce'],
      ['an event listed twice', (doc) => void (doc.events[1] = doc.events[0]!), 'appears twice'],
      ['an announcement of another event', (doc) => void (doc.events[0]!.eventId = 'renamed'), 'is of event'],
      ['announcement bytes that do not decode', (doc) => void (doc.events[0]!.announcement = 'fdd8'), 'events[0].announcement'],
      ['an unknown field', (doc) => void (doc.events[0]!.note = 'x'), 'unexpected field events[0].note'],
      ['another format', (doc) => void (doc.format = 'ubtc-key-shares'), 'format is not'],
    ]
    for (const [what, change, message] of corruptions) {
      it(`refuses ${what}`, async () => {
        const file = await twoEvents()
        await edit(file, change)
        const err = await rejection(readOracleJournal(file))
        expect(err).toBeInstanceOf(KeystoreError)
        expect((err as KeystoreError).code).toBe('corrupt')
        expect((err as KeystoreError).message).toContain(message)
      })
    }
  })
})
