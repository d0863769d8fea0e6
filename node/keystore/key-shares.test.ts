import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { guardianIdentifier, type ReserveKey } from '../../protocol/index.js'
import { frostSecretOf, KeystoreError, keySharesPath, readKeyShare, readKeyShares, TESTNET_KDF, writeKeyShare, type KeyShareEntry, type KeystoreErrorCode } from './index.js'

const PASS = 'correct horse battery staple'
let dir: string
let counter = 0
const fresh = (): string => join(dir, `s${counter++}`, 'guardian.shares.json')

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ubtc-shares-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A consistent key and the share of guardian `index` (trusted dealer: enough to exercise the file). */
function entryFor(session: number, index = 1, n = 5, t = 3): KeyShareEntry {
  const ids = Array.from({ length: n }, (_, i) => guardianIdentifier(i))
  const deal = schnorr_FROST.trustedDealer({ min: t, max: n }, ids)
  const sessionId = new Uint8Array(32).fill(session)
  const key: ReserveKey = {
    sessionId,
    threshold: t,
    internalKey: deal.public.commitments[0]!,
    groupKey: deal.public.commitments[0]!,
    commitments: deal.public.commitments,
    verifyingShares: ids.map((id) => deal.public.verifyingShares[id]!),
  }
  return { sessionId, threshold: t, identifier: index + 1, signingShare: deal.secretShares[ids[index]!]!.signingShare, key }
}

async function codeOf(promise: Promise<unknown>): Promise<KeystoreErrorCode> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(KeystoreError)
  expect((err as Error).message).not.toContain(PASS)
  return (err as KeystoreError).code
}

describe('key share file', () => {
  it('lives beside the keystore', () => {
    expect(keySharesPath('/etc/ubtc/guardian-0.json')).toBe('/etc/ubtc/guardian-0.shares.json')
    expect(keySharesPath('/etc/ubtc/keystore')).toBe('/etc/ubtc/keystore.shares.json')
  })

  it('round-trips an entry in a 0600 file that shows the public part only', async () => {
    const file = fresh()
    const entry = entryFor(1)
    await writeKeyShare(file, PASS, entry, TESTNET_KDF)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const text = await readFile(file, 'utf8')
    expect(text).not.toContain(bytesToHex(entry.signingShare))
    const doc = JSON.parse(text)
    expect(doc.format).toBe('ubtc-key-shares')
    expect(doc.entries[0].public).toMatchObject({ sessionId: bytesToHex(entry.sessionId), groupKey: bytesToHex(entry.key.groupKey), identifier: 2, threshold: 3 })
    const [back] = await readKeyShares(file, PASS)
    expect(back).toEqual(entry)
    expect(() => schnorr_FROST.validateSecret(frostSecretOf(back!), { signers: { min: 3, max: 5 }, commitments: [...entry.key.commitments], verifyingShares: {} })).not.toThrow()
    // no temp files left behind
    expect((await readdir(join(file, '..'))).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('keeps prior sessions, is idempotent for the same entry and refuses another share of a stored session', async () => {
    const file = fresh()
    const a = entryFor(1)
    const b = entryFor(2)
    await writeKeyShare(file, PASS, a, TESTNET_KDF)
    await writeKeyShare(file, PASS, b, TESTNET_KDF)
    await writeKeyShare(file, PASS, a, TESTNET_KDF)
    expect((await readKeyShares(file, PASS)).map((e) => e.sessionId[0])).toEqual([1, 2])
    expect((await readKeyShare(file, PASS, b.sessionId))?.signingShare).toEqual(b.signingShare)
    expect(await readKeyShare(file, PASS, new Uint8Array(32).fill(9))).toBeUndefined()
    expect(await codeOf(writeKeyShare(file, PASS, { ...entryFor(1, 2) }, TESTNET_KDF))).toBe('exists')
  })

  it('writes concurrently without losing an entry', async () => {
    const file = fresh()
    await Promise.all([1, 2, 3].map((s) => writeKeyShare(file, PASS, entryFor(s), TESTNET_KDF)))
    expect((await readKeyShares(file, PASS)).map((e) => e.sessionId[0]).sort()).toEqual([1, 2, 3])
  })

  it('a missing file holds no shares', async () => {
    expect(await readKeyShares(join(dir, 'nope.shares.json'), PASS)).toEqual([])
  })

  it('refuses a wrong passphrase on read and on append (file untouched)', async () => {
    const file = fresh()
    await writeKeyShare(file, PASS, entryFor(1), TESTNET_KDF)
    const before = await readFile(file, 'utf8')
    expect(await codeOf(readKeyShares(file, 'wrong passphrase!'))).toBe('wrong_passphrase')
    expect(await codeOf(writeKeyShare(file, 'wrong passphrase!', entryFor(2), TESTNET_KDF))).toBe('wrong_passphrase')
    expect(await readFile(file, 'utf8')).toBe(before)
    expect(await codeOf(writeKeyShare(fresh(), 'short', entryFor(1), TESTNET_KDF))).toBe('weak_passphrase')
  })

  it('authenticates the public part: an edited session, group key, identifier or key fails', async () => {
    const file = fresh()
    await writeKeyShare(file, PASS, entryFor(1), TESTNET_KDF)
    const original = JSON.parse(await readFile(file, 'utf8'))
    const other = entryFor(7)
    const edits: Array<(pub: Record<string, unknown>) => void> = [
      (pub) => (pub.sessionId = bytesToHex(other.sessionId)),
      (pub) => (pub.groupKey = bytesToHex(other.key.groupKey)),
      (pub) => (pub.identifier = 3),
      (pub) => (pub.threshold = 2),
    ]
    for (const edit of edits) {
      const doc = structuredClone(original)
      edit(doc.entries[0].public)
      await writeFile(file, JSON.stringify(doc))
      expect(await codeOf(readKeyShares(file, PASS))).toBe('wrong_passphrase')
    }
  })

  it('reports structural damage as corrupt, before any scrypt work', async () => {
    const file = fresh()
    await writeKeyShare(file, PASS, entryFor(1), TESTNET_KDF)
    const original = JSON.parse(await readFile(file, 'utf8'))
    const edits: Array<(doc: any) => void> = [
      (doc) => (doc.format = 'other'),
      (doc) => (doc.extra = 1),
      (doc) => delete doc.entries[0].tag,
      (doc) => (doc.entries[0].iv = 'zz'),
      (doc) => (doc.entries[0].public.groupKey = 'ab'),
      (doc) => (doc.crypto.kdfparams.n = 3),
      (doc) => (doc.entries = {}),
    ]
    for (const edit of edits) {
      const doc = structuredClone(original)
      edit(doc)
      await writeFile(file, JSON.stringify(doc))
      expect(await codeOf(readKeyShares(file, PASS))).toBe('corrupt')
    }
    await writeFile(file, '{not json')
    expect(await codeOf(readKeyShares(file, PASS))).toBe('corrupt')
  })

  it('refuses to write an entry whose share does not match its key', async () => {
    const entry = entryFor(1)
    const wrong = { ...entry, signingShare: entryFor(1).signingShare }
    await expect(writeKeyShare(fresh(), PASS, wrong, TESTNET_KDF)).rejects.toThrow(/does not match the key/)
    await expect(writeKeyShare(fresh(), PASS, { ...entry, identifier: 6 }, TESTNET_KDF)).rejects.toThrow(/not one of the key/)
    await expect(writeKeyShare(fresh(), PASS, { ...entry, sessionId: new Uint8Array(32) }, TESTNET_KDF)).rejects.toThrow(/sessionId/)
  })
})
