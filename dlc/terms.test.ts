import { bytesToHex } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { decodeCanonical } from '../protocol/index.js'
import { DlcError } from './errors.js'
import { exampleTerms } from './example-terms.js'
import { encodeOracleAnnouncement } from './oracle/index.js'
import { defaultDlcRules } from './rules.js'
import { contractId, encodeTerms, lockUnitOf, parseTerms, termsToJson, type ContractTerms } from './terms.js'

const NOW = 1_700_000_000
const terms = exampleTerms(defaultDlcRules('regtest'), { now: NOW })

/** The JSON form of the example terms with `edit` applied to a deep copy. */
function edited(edit: (doc: any) => void): unknown {
  const doc = JSON.parse(JSON.stringify(termsToJson(terms)))
  edit(doc)
  return doc
}

function parseError(json: unknown): DlcError {
  try {
    parseTerms(json)
  } catch (err) {
    expect(err).toBeInstanceOf(DlcError)
    expect((err as DlcError).code).toBe('invalid_terms')
    return err as DlcError
  }
  throw new Error('parseTerms accepted the terms')
}

describe('terms', () => {
  it('round-trip through their JSON form, announcements as dlcspecs wire hex', () => {
    const json = termsToJson(terms)
    expect(json).toMatchObject({ version: 1, network: 'regtest', amountSat: '100000000', timelock: { unit: 'time', lockedUntil: NOW + 48 * 3600 } })
    expect((json.oracle as { announcements: string[] }).announcements[0]).toBe(bytesToHex(encodeOracleAnnouncement(terms.oracle.announcements[0]!)))
    const back = parseTerms(JSON.parse(JSON.stringify(json)))
    expect(back).toEqual(terms)
    expect(contractId(back)).toBe(contractId(terms))
  })

  it('encode canonically, and the contract id changes with any field', () => {
    const bytes = encodeTerms(terms)
    expect(() => decodeCanonical(bytes, 1 << 20, 'terms')).not.toThrow()
    const id = contractId(terms)
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    const variants: ContractTerms[] = [
      { ...terms, amountSat: terms.amountSat + 1n },
      { ...terms, feeRate: terms.feeRate + 1 },
      { ...terms, cetLockTime: 1 },
      { ...terms, timelock: { ...terms.timelock, lockedUntil: terms.timelock.lockedUntil + 1 } },
      { ...terms, guardianKeys: [...terms.guardianKeys].reverse() },
      { ...terms, payouts: [terms.payouts[1]!, terms.payouts[0]!] },
      { ...terms, network: 'testnet' },
    ]
    const ids = new Set(variants.map(contractId))
    expect(ids.size).toBe(variants.length)
    expect(ids.has(id)).toBe(false)
  })

  it('lockUnitOf splits at 500 000 000 like nLockTime', () => {
    expect(lockUnitOf(499_999_999)).toBe('height')
    expect(lockUnitOf(500_000_000)).toBe('time')
  })

  it('refuse malformed JSON with the failing field named', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /^terms: expected an object/],
      [edited((d) => (d.extra = 1)), /terms: unknown field "extra"/],
      [edited((d) => (d.version = 2)), /terms.version: expected 1/],
      [edited((d) => (d.network = 'signet')), /terms.network: expected one of mainnet, testnet, regtest/],
      [edited((d) => (d.amountSat = 100000000)), /terms.amountSat: expected an amount in satoshis as a decimal string/],
      [edited((d) => (d.amountSat = '0100')), /terms.amountSat/],
      [edited((d) => (d.amountSat = '2100000000000001')), /terms.amountSat: 2100000000000001 is above 21 million BTC/],
      [edited((d) => (d.feeRate = 1.5)), /terms.feeRate \(sat\/vB\): expected an integer/],
      [edited((d) => delete d.cetLockTime), /terms.cetLockTime: expected an integer/],
      [edited((d) => (d.oracle.announcements[1] = 'zz')), /terms.oracle.announcements\[1\]: expected lowercase hex/],
      [edited((d) => (d.oracle.announcements[2] = d.oracle.announcements[2].slice(0, -2))), /terms.oracle.announcements\[2\]: /],
      [edited((d) => (d.oracle.announcements = Array(17).fill(d.oracle.announcements[0]))), /terms.oracle.announcements: at most 16 entries/],
      [edited((d) => (d.payouts[0].outputs[0].valueSat = '-1')), /terms.payouts\[0\].outputs\[0\].valueSat/],
      [edited((d) => (d.payouts[1].outputs[0].memo = 'x')), /terms.payouts\[1\].outputs\[0\]: unknown field "memo"/],
      [edited((d) => (d.payouts[0].outcome = '')), /terms.payouts\[0\].outcome: expected a non-empty string/],
      [edited((d) => (d.timelock.unit = 'blocks')), /terms.timelock.unit: expected "height" or "time"/],
      [edited((d) => (d.timelock.lockedUntil = 2 ** 31)), /terms.timelock.lockedUntil: expected an integer 1-2147483647/],
      [edited((d) => (d.ephemeralKeys[0] = d.ephemeralKeys[0].toUpperCase())), /terms.ephemeralKeys\[0\]: expected lowercase hex/],
      [edited((d) => (d.guardianKeys[4] = d.guardianKeys[4].slice(2))), /terms.guardianKeys\[4\]: expected a 32-byte x-only secp256k1 public key/],
      // x = 5 is not the x coordinate of a curve point.
      [edited((d) => (d.guardianKeys[0] = '05'.padStart(64, '0'))), /terms.guardianKeys\[0\]: expected a 32-byte x-only/],
      [edited((d) => (d.cetThreshold = 0)), /terms.cetThreshold: expected an integer 1-64/],
    ]
    for (const [json, message] of cases) expect(parseError(json).message).toMatch(message)
  })
})
