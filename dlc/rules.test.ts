import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { address as btcAddress, networks, Transaction } from 'bitcoinjs-lib'
import { describe, expect, it } from 'vitest'
import { defaultDlcPolicy, parseGenesis } from '../protocol/index.js'
import { compileContract, leafSatisfaction, leafWitness } from './compiler.js'
import { devAnnouncements, devKey, devOracles, exampleTerms } from './example-terms.js'
import { NUMS_INTERNAL_KEY } from './nums.js'
import { cetFee, checkTerms, defaultDlcRules, dlcRulesFromGenesis, estimateCetVsize, type DlcRules, type RuleContext } from './rules.js'
import type { ContractTerms } from './terms.js'

const NOW = 1_700_000_000
const HOUR = 3600
const rules = defaultDlcRules('regtest')
const terms = exampleTerms(rules, { now: NOW })
const context: RuleContext = { now: NOW }

/** The codes of the violated rules, sorted. */
function broken(t: ContractTerms, r: DlcRules = rules, ctx: RuleContext = context): string[] {
  return checkTerms(t, r, ctx)
    .map((v) => v.rule)
    .sort()
}

/** The single violation of `t`, which must be of rule `rule`. */
function only(t: ContractTerms, rule: string, r: DlcRules = rules, ctx: RuleContext = context): string {
  const violations = checkTerms(t, r, ctx)
  expect(violations.map((v) => v.rule)).toEqual([rule])
  return violations[0]!.message
}

function withOutput(t: ContractTerms, outcome: number, output: number, change: Partial<{ address: string; valueSat: bigint }>): ContractTerms {
  return {
    ...t,
    payouts: t.payouts.map((p, i) => (i !== outcome ? p : { ...p, outputs: p.outputs.map((o, j) => (j !== output ? o : { ...o, ...change })) })),
  }
}

describe('checkTerms: the issue’s acceptance cases', () => {
  it('accepts the default example terms (time and height locks)', () => {
    expect(checkTerms(terms, rules, context)).toEqual([])
    const heightTerms = exampleTerms(rules, { now: NOW, unit: 'height', tipHeight: 800_000 })
    expect(checkTerms(heightTerms, rules, { now: NOW, tipHeight: 800_000 })).toEqual([])
  })

  it('rejects a 23 h lock, accepts exactly 24 h', () => {
    // The example lock is 48 h after NOW: 25 h later it is 23 h ahead.
    expect(only(terms, 'lock_too_short', rules, { now: NOW + 25 * HOUR })).toBe(
      `timelock: locked until ${NOW + 48 * HOUR}, 23 h from now; the rules require at least 24 h`,
    )
    expect(broken(terms, rules, { now: NOW + 24 * HOUR })).toEqual([])
    expect(only(terms, 'lock_too_short', rules, { now: NOW + 24 * HOUR + 1 })).toMatch(/23 h 59 min from now/)
  })

  it('rejects a height lock under 144 blocks ahead, and a height lock without a tip height', () => {
    const t = exampleTerms(rules, { now: NOW, unit: 'height', tipHeight: 800_000 })
    expect(only(t, 'lock_too_short', rules, { now: NOW, tipHeight: 800_145 })).toBe(
      'timelock: locked until height 800288, 143 blocks above the tip 800145; the rules require at least 144 blocks',
    )
    expect(broken(t, rules, { now: NOW, tipHeight: 800_144 })).toEqual([])
    expect(only(t, 'tip_height_required')).toMatch(/chain tip height, which was not given/)
  })

  it('rejects mixed heights and times', () => {
    expect(only({ ...terms, cetLockTime: 800_000 }, 'cet_locktime_mixed')).toBe(
      'cetLockTime 800000 is a block height but the timelock counts unix time: heights and times are never mixed',
    )
    const heightTerms = exampleTerms(rules, { now: NOW, unit: 'height', tipHeight: 800_000 })
    expect(only({ ...heightTerms, cetLockTime: NOW }, 'cet_locktime_mixed', rules, { now: NOW, tipHeight: 800_000 })).toMatch(/is a unix time but the timelock counts block heights/)
    expect(only({ ...terms, timelock: { unit: 'height', lockedUntil: terms.timelock.lockedUntil } }, 'lock_unit_mismatch')).toMatch(
      /is a unix time \(heights are below 500000000\), but the unit is "height"/,
    )
    expect(only({ ...terms, timelock: { unit: 'time', lockedUntil: 800_000 } }, 'lock_unit_mismatch')).toMatch(/is a block height/)
    // Same unit: allowed up to the lock, not after it.
    expect(broken({ ...terms, cetLockTime: NOW + HOUR })).toEqual([])
    expect(broken({ ...terms, cetLockTime: terms.timelock.lockedUntil })).toEqual([])
    expect(only({ ...terms, cetLockTime: terms.timelock.lockedUntil + 1 }, 'cet_locktime_after_lock')).toMatch(/after the timelock/)
  })

  it('rejects a 3-of-5 emergency path', () => {
    expect(only({ ...terms, emergencyThreshold: 3 }, 'emergency_threshold_mismatch')).toBe('emergency path: 3-of-5 guardians; the rules require 4-of-5')
  })

  it('rejects a repeated key, within a leaf and across leaves', () => {
    const g = terms.guardianKeys
    expect(only({ ...terms, guardianKeys: [g[0]!, g[0]!, g[2]!, g[3]!, g[4]!] }, 'duplicate_key')).toBe(`guardianKeys[1] repeats guardianKeys[0] (${bytesToHex(g[0]!)})`)
    const e = terms.ephemeralKeys
    expect(only({ ...terms, ephemeralKeys: [e[0]!, e[1]!, g[3]!, e[3]!, e[4]!] }, 'duplicate_key')).toBe(`guardianKeys[3] repeats ephemeralKeys[2] (${bytesToHex(g[3]!)})`)
    expect(only({ ...terms, ephemeralKeys: [NUMS_INTERNAL_KEY, e[1]!, e[2]!, e[3]!, e[4]!] }, 'nums_key')).toMatch(/ephemeralKeys\[0\] is the NUMS point/)
  })

  it('rejects outputs above the amount less the CET fee, to the satoshi', () => {
    const regtest = networks.regtest
    const scripts = terms.payouts[0]!.outputs.map((o) => btcAddress.toOutputScript(o.address, regtest))
    const fee = cetFee(terms, scripts)
    expect(fee).toBe(BigInt(terms.feeRate * estimateCetVsize(terms, scripts)))
    expect(broken(withOutput(terms, 0, 0, { valueSat: terms.amountSat - fee }))).toEqual([])
    expect(only(withOutput(terms, 0, 0, { valueSat: terms.amountSat - fee + 1n }), 'outputs_exceed_amount')).toBe(
      `outcome "repaid": outputs total ${terms.amountSat - fee + 1n} sat, above the amount ${terms.amountSat} sat less the CET fee ${fee} sat (2 sat/vB)`,
    )
    expect(only(withOutput(terms, 1, 1, { valueSat: terms.amountSat }), 'outputs_exceed_amount')).toMatch(/^outcome "liquidated": outputs total/)
  })
})

describe('checkTerms: every other rule', () => {
  it('lists every violation, not only the first', () => {
    const bad = { ...terms, emergencyThreshold: 3, cetThreshold: 2, feeRate: 0, network: 'testnet' as const }
    expect(broken(bad)).toEqual(['bad_address', 'bad_address', 'bad_address', 'cet_threshold_mismatch', 'emergency_threshold_mismatch', 'fee_rate', 'network_mismatch'])
  })

  it('checks thresholds and key counts against the rules', () => {
    expect(only({ ...terms, timelockThreshold: 2 }, 'timelock_threshold_mismatch')).toBe('timelock path: 2-of-5 guardians; the rules require 3-of-5')
    expect(only({ ...terms, cetThreshold: 4 }, 'cet_threshold_mismatch')).toBe('oracle path: 4-of-5 ephemeral keys; the rules require 3-of-5')
    expect(only({ ...terms, guardianKeys: terms.guardianKeys.slice(0, 4) }, 'key_count')).toBe('guardianKeys: 4 keys, expected one per guardian (5)')
    const seven = defaultDlcRules('regtest', 7)
    expect(broken(terms, seven)).toEqual(['cet_threshold_mismatch', 'emergency_threshold_mismatch', 'key_count', 'key_count', 'timelock_threshold_mismatch'])
    expect(broken(exampleTerms(seven, { now: NOW }), seven)).toEqual([])
  })

  it('checks the oracles: threshold, count, distinct, known, valid, one event', () => {
    const [a, b, c] = terms.oracle.announcements
    expect(broken({ ...terms, oracle: { ...terms.oracle, threshold: 1 } })).toEqual(['oracle_threshold_mismatch', 'oracle_threshold_unsupported'])
    const threeOfThree = { ...rules, policy: { ...rules.policy, oracleThreshold: 3 } }
    expect(only({ ...terms, oracle: { ...terms.oracle, threshold: 3 } }, 'oracle_threshold_unsupported', threeOfThree)).toMatch(/must be 2/)
    expect(only({ ...terms, oracle: { ...terms.oracle, announcements: [a!, b!] } }, 'oracle_count')).toBe('2 oracle announcements, expected 3')
    expect(only({ ...terms, oracle: { ...terms.oracle, announcements: [a!, b!, a!] } }, 'duplicate_oracle')).toMatch(/announcement 2 is by the same oracle/)
    const known = { ...rules, oracleKeys: [a!.oraclePublicKey, b!.oraclePublicKey, devKey('another oracle').publicKey] }
    expect(only(terms, 'unknown_oracle', known)).toBe(`announcement 2 is by ${bytesToHex(c!.oraclePublicKey)}, not a genesis oracle`)
    expect(broken(terms, { ...rules, oracleKeys: devOracles().map((o) => o.publicKey) })).toEqual([])
    expect(broken(terms, { ...rules, oracleKeys: [] })).toEqual(['unknown_oracle', 'unknown_oracle', 'unknown_oracle'])
    const forged = { ...b!, signature: b!.signature.map((x, i) => (i === 63 ? x ^ 1 : x)) }
    expect(only({ ...terms, oracle: { ...terms.oracle, announcements: [a!, forged, c!] } }, 'bad_announcement')).toMatch(/^announcement 1: /)
    const other = devAnnouncements('another-event', a!.event.maturity)[2]!
    expect(only({ ...terms, oracle: { ...terms.oracle, announcements: [a!, b!, other] } }, 'event_mismatch')).toBe(
      'announcement 2 describes another event than announcement 0 (event id differ)',
    )
    const later = devAnnouncements(a!.event.eventId, a!.event.maturity + 1)[1]!
    expect(only({ ...terms, oracle: { ...terms.oracle, announcements: [a!, later, c!] } }, 'event_mismatch')).toMatch(/\(maturity differ\)/)
  })

  it('requires the event to mature before a time lock opens', () => {
    const late = devAnnouncements('late-event', terms.timelock.lockedUntil)
    expect(only({ ...terms, oracle: { ...terms.oracle, announcements: late } }, 'maturity_after_lock')).toBe(
      `the oracle event matures at ${terms.timelock.lockedUntil}, not before the timelock ${terms.timelock.lockedUntil}`,
    )
  })

  it('requires one payout per announced outcome, in order, each with outputs', () => {
    const [repaid, liquidated] = terms.payouts
    expect(only({ ...terms, payouts: [liquidated!, repaid!] }, 'payout_outcomes')).toBe('payouts must list each announced outcome once, in order "repaid", "liquidated": out of order')
    expect(only({ ...terms, payouts: [repaid!] }, 'payout_outcomes')).toMatch(/missing "liquidated"/)
    expect(only({ ...terms, payouts: [repaid!, liquidated!, repaid!] }, 'payout_outcomes')).toMatch(/repeated "repaid"/)
    expect(only({ ...terms, payouts: [repaid!, { ...liquidated!, outcome: 'default' }] }, 'payout_outcomes')).toMatch(/missing "liquidated", not announced "default"/)
    expect(only({ ...terms, payouts: [repaid!, { ...liquidated!, outputs: [] }] }, 'empty_payout')).toBe('outcome "liquidated": a CET needs at least one output')
  })

  it('checks each output: an address of the network, above dust', () => {
    const mainnet = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'
    expect(only(withOutput(terms, 0, 0, { address: mainnet }), 'bad_address')).toBe(`outcome "repaid" output 0: "${mainnet}" is not a regtest address`)
    expect(only(withOutput(terms, 1, 0, { valueSat: 329n }), 'dust_output')).toBe('outcome "liquidated" output 0: 329 sat is below the dust limit 330 sat')
    expect(broken(withOutput(terms, 1, 0, { valueSat: 330n }))).toEqual([])
  })

  it('keeps the fee rate within the policy bounds and the network the rules’', () => {
    const capped = { ...rules, policy: { ...rules.policy, minFeeRate: 2, maxFeeRate: 5 } }
    expect(only({ ...terms, feeRate: 6 }, 'fee_rate', capped)).toBe("fee rate 6 sat/vB is outside the rules' 2-5")
    expect(only({ ...terms, feeRate: 1 }, 'fee_rate', capped)).toBe("fee rate 1 sat/vB is outside the rules' 2-5")
    expect(broken({ ...terms, feeRate: 5 }, capped)).toEqual([])
    expect(only(terms, 'network_mismatch', { ...rules, network: 'mainnet' })).toBe('terms are for regtest, the rules for mainnet')
  })
})

describe('estimateCetVsize', () => {
  it('is the virtual size of a real CET with the oracle leaf witness', () => {
    const contract = compileContract(terms, rules, context)
    for (const payout of terms.payouts) {
      const scripts = payout.outputs.map((o) => btcAddress.toOutputScript(o.address, networks.regtest))
      const tx = new Transaction()
      tx.version = 2
      tx.locktime = terms.cetLockTime
      tx.addInput(new Uint8Array(32).fill(7), 0, 0xfffffffe)
      payout.outputs.forEach((o, i) => tx.addOutput(scripts[i]!, o.valueSat))
      tx.setWitness(0, leafWitness(contract.leaves.oracle, leafSatisfaction(contract.leaves.oracle, terms, [0, 1, 2]), () => new Uint8Array(64)))
      expect(estimateCetVsize(terms, scripts)).toBe(tx.virtualSize())
    }
  })
})

describe('dlcRulesFromGenesis', () => {
  it('takes the policy, emergency threshold, guardian count, network and oracle keys from genesis', async () => {
    const peer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const oracles = devOracles()
    const genesis = parseGenesis({
      network: 'ubtc-test',
      genesisTime: '2025-01-01T00:00:00.000Z',
      guardianSetIndex: 0,
      guardians: await Promise.all(
        [0, 1, 2, 3, 4].map(async (i) => ({ name: `g${i}`, votePublicKey: bytesToHex(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey())), peerId: await peer() })),
      ),
      thresholds: { validation: 3, lp_liquidation: 3, dlc_emergency: 5 },
      oracles: await Promise.all(oracles.map(async (o, i) => ({ name: `oracle-${i}`, peerId: await peer(), publicKey: bytesToHex(o.publicKey) }))),
      bitcoinNetwork: 'testnet',
      dlc: { minLockSeconds: 48 * HOUR },
    })
    const fromGenesis = dlcRulesFromGenesis(genesis)
    expect(fromGenesis).toEqual({
      policy: { ...defaultDlcPolicy(5), minLockSeconds: 48 * HOUR },
      emergencyThreshold: 5,
      guardianCount: 5,
      network: 'testnet',
      oracleKeys: oracles.map((o) => o.publicKey),
    })
    const t = exampleTerms(fromGenesis, { now: NOW })
    expect(t.emergencyThreshold).toBe(5)
    expect(broken(t, fromGenesis)).toEqual([])
    expect(only(t, 'lock_too_short', fromGenesis, { now: NOW + 1 })).toMatch(/the rules require at least 48 h/)
  })
})
