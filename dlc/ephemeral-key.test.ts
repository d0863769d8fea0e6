import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import { ClassicLevel } from 'classic-level'
import { pino, type Logger } from 'pino'
import { beforeAll, describe, expect, it } from 'vitest'
import { encodeCanonical } from '../protocol/index.js'
import { codeOf } from '../protocol/test-helpers/expect-code.js'
import { verifyCetPreSignatures, type CetPreSignature } from './cet.js'
import { EphemeralKey } from './ephemeral-key.js'
import { DlcError } from './errors.js'
import { makeFixture, OUTCOMES, testEphemeralKey, type ContractFixture } from './test-helpers/contract-fixture.js'
import { bytesContainSecret, findSecret, textContainsSecret } from './test-helpers/leak-scan.js'

/** Everything a careless caller could print: JSON, util.inspect (deep, hidden too), String(). */
function renderings(value: unknown): string[] {
  return [JSON.stringify(value) ?? '', inspect(value, { depth: Infinity, showHidden: true, maxArrayLength: Infinity }), String(value)]
}

/** pino writing into an array, as a node's logger would write to its log file. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
  return { logger, lines }
}

describe('EphemeralKey', () => {
  let fixture: ContractFixture

  beforeAll(() => {
    fixture = makeFixture('height', 'ephemeral')
  })

  it('generates a valid key from the byte source and shows no secret while it holds one', () => {
    let drawn = new Uint8Array(0)
    const key = EphemeralKey.generate((n) => (drawn = randomBytes(n)))
    const secret = Uint8Array.from(drawn)
    expect(key.publicKey).toEqual(schnorr.getPublicKey(secret))
    expect(key.erased).toBe(false)
    for (const text of renderings(key)) expect(textContainsSecret(text, secret)).toBe(false)
    expect(JSON.parse(JSON.stringify(key))).toEqual({ publicKey: bytesToHex(key.publicKey), erased: false })
    expect(findSecret(key, secret)).toEqual([])
    const { logger, lines } = capturingLogger()
    logger.info({ key, keys: [key], nested: { key } }, 'ephemeral key created')
    expect(lines).toHaveLength(1)
    expect(textContainsSecret(lines.join(''), secret)).toBe(false)
  })

  it('redraws a byte string that is not a secret key (zero, ≥ n)', () => {
    const draws = [new Uint8Array(32), new Uint8Array(32).fill(0xff), Uint8Array.from(randomBytes(32))]
    const expected = Uint8Array.from(draws[2]!)
    const key = EphemeralKey.generate(() => draws.shift()!)
    expect(key.publicKey).toEqual(schnorr.getPublicKey(expected))
  })

  it('pre-signs every outcome × oracle pair once, then is erased and wiped', () => {
    let drawn = new Uint8Array(0)
    // a key of the contract, drawn again from the fixture's byte source, to watch the drawn bytes
    const fixtureKey = fixture.ephemeral[2]!
    const key = EphemeralKey.generate(() => (drawn = Uint8Array.from(fixtureKey.secret)))
    expect(key.publicKey).toEqual(fixtureKey.key.publicKey)
    const presigs = key.preSignCets(fixture.contract, fixture.funding)
    expect(presigs).toHaveLength(OUTCOMES.length * 3)
    expect(new Set(presigs.map((p) => `${p.outcome}|${p.oracles.join(',')}`)).size).toBe(presigs.length)
    expect(presigs.every((p) => p.signer === 2 && p.preSignature.length === 65)).toBe(true)
    verifyCetPreSignatures(fixture.contract, fixture.funding, presigs, [2])
    expect(key.erased).toBe(true)
    expect(drawn).toEqual(new Uint8Array(32)) // the bytes it held are zeroed
    expect(codeOf(() => key.preSignCets(fixture.contract, fixture.funding), DlcError)).toBe('key_erased')
    expect(JSON.parse(JSON.stringify(key))).toEqual({ publicKey: bytesToHex(key.publicKey), erased: true })
    expect(inspect(key)).toBe(`EphemeralKey(${bytesToHex(key.publicKey)}, erased)`)
  })

  it('refuses a contract it is not part of, and keeps its secret for the right one', () => {
    const stranger = testEphemeralKey('not-in-the-contract').key
    expect(codeOf(() => stranger.preSignCets(fixture.contract, fixture.funding), DlcError)).toBe('unknown_key')
    expect(stranger.erased).toBe(false)
    expect(codeOf(() => fixture.ephemeral[0]!.key.preSignCets(fixture.contract, { txid: 'zz', vout: 0 }), DlcError)).toBe('invalid_funding')
    expect(fixture.ephemeral[0]!.key.erased).toBe(false)
  })

  it('erase() wipes an unused key', () => {
    const { key } = testEphemeralKey('abandoned')
    key.erase()
    expect(key.erased).toBe(true)
    expect(codeOf(() => key.preSignCets(fixture.contract, fixture.funding), DlcError)).toBe('key_erased')
  })
})

describe('ephemeral secrets after pre-signing (acceptance: no private key in the returned objects, the store or the logs)', () => {
  let fixture: ContractFixture
  let presigs: CetPreSignature[]
  let secrets: Uint8Array[]

  beforeAll(() => {
    fixture = makeFixture('time', 'leak-scan')
    secrets = fixture.ephemeral.map((e) => e.secret)
    presigs = fixture.ephemeral.flatMap((e) => e.key.preSignCets(fixture.contract, fixture.funding))
  })

  it('the scanners find a secret where one is (positive controls)', () => {
    const secret = secrets[0]!
    expect(findSecret({ deep: [{ hidden: new Map([['k', Uint8Array.from(secret)]]) }] }, secret)).toEqual(['$.deep.0.hidden.get(k)'])
    expect(findSecret({ s: bytesToHex(secret) }, secret)).toEqual(['$.s'])
    expect(textContainsSecret(JSON.stringify({ s: Uint8Array.from(secret) }), secret)).toBe(true)
    expect(textContainsSecret(JSON.stringify({ s: [7, ...secret] }), secret)).toBe(true)
    expect(textContainsSecret(inspect({ s: Uint8Array.from(secret) }), secret)).toBe(true)
    expect(bytesContainSecret(new Uint8Array([9, ...secret, 9]), secret)).toBe(true)
  })

  it('no secret in the returned pre-signatures, the key objects, or their renderings', () => {
    expect(presigs).toHaveLength(5 * OUTCOMES.length * 3)
    verifyCetPreSignatures(fixture.contract, fixture.funding, presigs)
    for (const secret of secrets) {
      expect(findSecret(presigs, secret)).toEqual([])
      expect(findSecret(fixture.ephemeral.map((e) => e.key), secret)).toEqual([])
      for (const text of [...renderings(presigs), ...fixture.ephemeral.flatMap((e) => renderings(e.key))]) expect(textContainsSecret(text, secret)).toBe(false)
    }
    expect(fixture.ephemeral.every((e) => e.key.erased)).toBe(true)
  })

  it('no secret in a LevelDB that stores the pre-signatures', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ubtc-dlc-presigs-'))
    try {
      const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' })
      await db.open()
      const marker = randomBytes(32) // positive control: bytes that are stored must be found
      await db.put('control', marker)
      for (const p of presigs) {
        await db.put(
          `presig/${fixture.contract.contractId}/${p.outcome}/${p.oracles.join('-')}/${p.signer}`,
          encodeCanonical({ outcome: p.outcome, oracles: [...p.oracles], signer: p.signer, adaptorPoint: p.adaptorPoint, preSignature: p.preSignature }),
        )
      }
      // what a careless caller might also store: the keys themselves
      for (const e of fixture.ephemeral) await db.put(`key/${bytesToHex(e.key.publicKey)}`, new TextEncoder().encode(JSON.stringify(e.key)))
      let stored = 0
      for await (const [, value] of db.iterator()) {
        stored++
        for (const secret of secrets) expect(bytesContainSecret(value, secret)).toBe(false)
      }
      expect(stored).toBe(presigs.length + fixture.ephemeral.length + 1)
      await db.close()
      // and on disk, every file of the database directory (log, tables, manifest)
      const files = await readdir(dir)
      const disk = await Promise.all(files.map((f) => readFile(join(dir, f))))
      expect(disk.some((bytes) => bytesContainSecret(bytes, marker))).toBe(true)
      for (const bytes of disk) for (const secret of secrets) expect(bytesContainSecret(bytes, secret)).toBe(false)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('no secret in pino logs of the keys and pre-signatures', () => {
    const { logger, lines } = capturingLogger()
    logger.info({ keys: fixture.ephemeral.map((e) => e.key), presigs }, 'pre-signed CETs')
    for (const e of fixture.ephemeral) logger.debug({ key: e.key, publicKey: e.key.publicKey }, 'ephemeral key erased')
    logger.error({ err: new DlcError('key_erased', 'x'), key: fixture.ephemeral[0]!.key }, 'signing refused')
    // positive control: the logger does write byte arrays in a form the scan recognises
    const control = randomBytes(32)
    logger.info({ control }, 'control')
    const text = lines.join('')
    expect(lines).toHaveLength(2 + fixture.ephemeral.length + 1)
    expect(textContainsSecret(text, control)).toBe(true)
    for (const secret of secrets) expect(textContainsSecret(text, secret)).toBe(false)
  })
})
