import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { MAX_GUARDIANS } from '../protocol/index.js'
import { devKey, devOracleNonceSecret, devOracles, EXAMPLE_OUTCOMES, exampleTerms } from './example-terms.js'
import { attestOutcome, verifyOracleAttestation } from './oracle/index.js'
import { checkTerms, defaultDlcRules } from './rules.js'

const NOW = 1_700_000_000

describe('dev keys', () => {
  it('are deterministic per label, distinct, and valid for every label the examples use', () => {
    expect(bytesToHex(devKey('dev-oracle-1').publicKey)).toBe(bytesToHex(devKey('dev-oracle-1').publicKey))
    const labels = ['dev-oracle-1', 'dev-oracle-2', 'dev-oracle-3', 'dev-payee-a', 'dev-payee-b']
    for (let i = 1; i <= MAX_GUARDIANS; i++) labels.push(`dev-ephemeral-${i}`, `dev-guardian-${i}`)
    const keys = labels.map((label) => devKey(label))
    for (const key of keys) expect(bytesToHex(schnorr.getPublicKey(key.secretKey))).toBe(bytesToHex(key.publicKey))
    expect(new Set(keys.map((k) => bytesToHex(k.publicKey))).size).toBe(labels.length)
    expect(devOracles().map((o) => o.label)).toEqual(['dev-oracle-1', 'dev-oracle-2', 'dev-oracle-3'])
  })
})

describe('exampleTerms', () => {
  it('meet the default rules of every network and guardian count', () => {
    for (const network of ['mainnet', 'testnet', 'regtest'] as const) {
      for (const n of [4, 5, 7]) {
        const rules = defaultDlcRules(network, n)
        const terms = exampleTerms(rules, { now: NOW })
        expect(checkTerms(terms, rules, { now: NOW })).toEqual([])
        expect(terms.guardianKeys).toHaveLength(n)
      }
    }
  })

  it('lock 48 h ahead (or 288 blocks), the event maturing 24 h ahead, two outcomes', () => {
    const rules = defaultDlcRules('regtest')
    const terms = exampleTerms(rules, { now: NOW })
    expect(terms.timelock).toEqual({ unit: 'time', lockedUntil: NOW + 48 * 3600 })
    expect(terms.oracle.announcements.map((a) => a.event.maturity)).toEqual([NOW + 86_400, NOW + 86_400, NOW + 86_400])
    expect(terms.payouts.map((p) => p.outcome)).toEqual([...EXAMPLE_OUTCOMES])
    expect(exampleTerms(rules, { now: NOW, unit: 'height', tipHeight: 1000 }).timelock).toEqual({ unit: 'height', lockedUntil: 1288 })
    expect(() => exampleTerms(rules, { now: NOW, unit: 'height' })).toThrow(/needs the tip height/)
  })

  it('use given keys instead of the dev keys', () => {
    const rules = defaultDlcRules('regtest')
    const ephemeralKeys = [1, 2, 3, 4, 5].map((i) => devKey(`test-ephemeral-${i}`).publicKey)
    const terms = exampleTerms(rules, { now: NOW, ephemeralKeys })
    expect(terms.ephemeralKeys).toBe(ephemeralKeys)
    expect(checkTerms(terms, rules, { now: NOW })).toEqual([])
  })

  it('keep the fee rate within the rules', () => {
    const rules = defaultDlcRules('regtest')
    const strict = { ...rules, policy: { ...rules.policy, minFeeRate: 50 } }
    const terms = exampleTerms(strict, { now: NOW })
    expect(terms.feeRate).toBe(50)
    expect(checkTerms(terms, strict, { now: NOW })).toEqual([])
  })

  it('come with dev oracles that can attest the announced event', () => {
    const terms = exampleTerms(defaultDlcRules('regtest'), { now: NOW })
    devOracles().forEach((oracle, i) => {
      const announcement = terms.oracle.announcements[i]!
      const attestation = attestOutcome(oracle.secretKey, devOracleNonceSecret(oracle, announcement.event.eventId), announcement, 'liquidated')
      expect(() => verifyOracleAttestation(attestation, announcement)).not.toThrow()
    })
  })
})
