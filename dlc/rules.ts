import { bytesToHex } from '@noble/hashes/utils.js'
import { address as btcAddress } from 'bitcoinjs-lib'
import { commitQuorum, defaultDlcPolicy, type BitcoinNetwork, type DlcPolicy, type Genesis } from '../protocol/index.js'
import { DlcError } from './errors.js'
import { NUMS_INTERNAL_KEY } from './nums.js'
import { verifyOracleAnnouncement } from './oracle/index.js'
import { bitcoinjsNetwork, LOCKTIME_THRESHOLD, lockUnitOf, type ContractTerms, type PayoutOutput } from './terms.js'

/** The rules terms must meet, from genesis: the DLC policy, the emergency threshold, the guardian set's size. */
export interface DlcRules {
  readonly policy: DlcPolicy
  /** Guardian keys the emergency leaf needs (genesis `thresholds.dlc_emergency`). */
  readonly emergencyThreshold: number
  readonly guardianCount: number
  readonly network: BitcoinNetwork
  /** The genesis oracles' x-only keys; when given, every announcement must be by one of them. */
  readonly oracleKeys?: readonly Uint8Array[]
}

/** What the rules are checked against: the current time and, for height locks, the chain tip. */
export interface RuleContext {
  /** Unix seconds. */
  readonly now: number
  readonly tipHeight?: number
}

/** One broken rule: a stable code (callers and tests branch on it) and a message for the operator. */
export interface RuleViolation {
  readonly rule: string
  readonly message: string
}

/** Terms refused by the security rules or the path analysis; `reasons` lists every violation. */
export class TermsRejectedError extends DlcError {
  readonly reasons: readonly RuleViolation[]

  constructor(reasons: readonly RuleViolation[]) {
    super('terms_rejected', `terms rejected: ${reasons.map((r) => r.message).join('; ')}`)
    this.reasons = reasons
  }
}

/** Oracles per contract: the issue's oracle set is 3 oracles, and CETs are pre-signed for each pair. */
export const ORACLES_PER_CONTRACT = 3
/** Attestations that settle: CETs are pre-signed under pair points S_a + S_b (MultiOracle.md), so 2. */
export const SUPPORTED_ORACLE_THRESHOLD = 2

/** The rules of a genesis: its DLC policy, emergency threshold, guardian count, Bitcoin network and oracles. */
export function dlcRulesFromGenesis(genesis: Genesis): DlcRules {
  return {
    policy: genesis.dlc,
    emergencyThreshold: genesis.thresholds.dlc_emergency,
    guardianCount: genesis.guardians.length,
    network: genesis.bitcoinNetwork,
    oracleKeys: genesis.oracles.map((o) => o.publicKey),
  }
}

/**
 * The rules of a default genesis of `guardianCount` guardians on `network` (the local testnet's:
 * default DLC policy, emergency threshold the commit quorum, 4 of 5), without an oracle list:
 * announcements are then checked for validity but not for whose they are.
 */
export function defaultDlcRules(network: BitcoinNetwork, guardianCount = 5): DlcRules {
  return { policy: defaultDlcPolicy(guardianCount), emergencyThreshold: commitQuorum(guardianCount), guardianCount, network }
}

/**
 * Checks terms against the security rules and returns every violation (empty: acceptable). The
 * codes: network_mismatch, lock_unit_mismatch, tip_height_required, lock_too_short,
 * cet_locktime_mixed, cet_locktime_after_lock, maturity_after_lock, cet_threshold_mismatch,
 * timelock_threshold_mismatch, emergency_threshold_mismatch, key_count, duplicate_key, nums_key,
 * oracle_threshold_mismatch, oracle_threshold_unsupported, oracle_count, duplicate_oracle,
 * unknown_oracle, bad_announcement, event_mismatch, payout_outcomes, empty_payout, bad_address,
 * dust_output, outputs_exceed_amount, fee_rate.
 */
export function checkTerms(terms: ContractTerms, rules: DlcRules, context: RuleContext): RuleViolation[] {
  const violations: RuleViolation[] = []
  const violate = (rule: string, message: string): void => {
    violations.push({ rule, message })
  }
  if (terms.network !== rules.network) violate('network_mismatch', `terms are for ${terms.network}, the rules for ${rules.network}`)
  checkLocks(terms, rules.policy, context, violate)
  checkKeys(terms, rules, violate)
  checkOracles(terms, rules, violate)
  checkPayouts(terms, rules.policy, violate)
  return violations
}

type Violate = (rule: string, message: string) => void

function checkLocks(terms: ContractTerms, policy: DlcPolicy, context: RuleContext, violate: Violate): void {
  const { unit, lockedUntil } = terms.timelock
  if (lockUnitOf(lockedUntil) !== unit) {
    violate(
      'lock_unit_mismatch',
      `timelock: ${lockedUntil} is a ${lockUnitOf(lockedUntil) === 'height' ? 'block height' : 'unix time'} (heights are below ${LOCKTIME_THRESHOLD}), but the unit is "${unit}"`,
    )
  } else if (unit === 'time') {
    const ahead = lockedUntil - context.now
    if (ahead < policy.minLockSeconds) {
      violate('lock_too_short', `timelock: locked until ${lockedUntil}, ${formatDuration(ahead)} from now; the rules require at least ${formatDuration(policy.minLockSeconds)}`)
    }
  } else if (context.tipHeight === undefined) {
    violate('tip_height_required', 'timelock: a height lock can only be checked against the chain tip height, which was not given')
  } else {
    const ahead = lockedUntil - context.tipHeight
    if (ahead < policy.minLockBlocks) {
      violate('lock_too_short', `timelock: locked until height ${lockedUntil}, ${ahead} blocks above the tip ${context.tipHeight}; the rules require at least ${policy.minLockBlocks} blocks`)
    }
  }
  // dlcspecs: cet_locktime ≤ refund_locktime, both in one unit. Bitcoin compares an nLockTime only
  // against a lock of its own unit, so mixing heights and times could make either path unusable.
  if (terms.cetLockTime !== 0) {
    if (lockUnitOf(terms.cetLockTime) !== unit) {
      violate(
        'cet_locktime_mixed',
        `cetLockTime ${terms.cetLockTime} is a ${lockUnitOf(terms.cetLockTime) === 'height' ? 'block height' : 'unix time'} but the timelock counts ${unit === 'height' ? 'block heights' : 'unix time'}: heights and times are never mixed`,
      )
    } else if (terms.cetLockTime > lockedUntil) {
      violate('cet_locktime_after_lock', `cetLockTime ${terms.cetLockTime} is after the timelock ${lockedUntil}: the guardians could spend before any CET is valid`)
    }
  }
  // A time lock that opens before the event matures lets the guardians' path race the oracles'.
  const maturity = terms.oracle.announcements[0]?.event.maturity
  if (unit === 'time' && lockUnitOf(lockedUntil) === 'time' && maturity !== undefined && maturity >= lockedUntil) {
    violate('maturity_after_lock', `the oracle event matures at ${maturity}, not before the timelock ${lockedUntil}`)
  }
}

function checkKeys(terms: ContractTerms, rules: DlcRules, violate: Violate): void {
  const { policy } = rules
  const n = rules.guardianCount
  if (terms.cetThreshold !== policy.cetThreshold) {
    violate('cet_threshold_mismatch', `oracle path: ${terms.cetThreshold}-of-${terms.ephemeralKeys.length} ephemeral keys; the rules require ${policy.cetThreshold}-of-${n}`)
  }
  if (terms.timelockThreshold !== policy.timelockThreshold) {
    violate('timelock_threshold_mismatch', `timelock path: ${terms.timelockThreshold}-of-${terms.guardianKeys.length} guardians; the rules require ${policy.timelockThreshold}-of-${n}`)
  }
  if (terms.emergencyThreshold !== rules.emergencyThreshold) {
    violate('emergency_threshold_mismatch', `emergency path: ${terms.emergencyThreshold}-of-${terms.guardianKeys.length} guardians; the rules require ${rules.emergencyThreshold}-of-${n}`)
  }
  if (terms.ephemeralKeys.length !== n) violate('key_count', `ephemeralKeys: ${terms.ephemeralKeys.length} keys, expected one per guardian (${n})`)
  if (terms.guardianKeys.length !== n) violate('key_count', `guardianKeys: ${terms.guardianKeys.length} keys, expected one per guardian (${n})`)
  // Distinct within and across the leaves: a key shared between the ephemeral and guardian sets would
  // let one signer count on both paths, and a repeated key counts twice towards a threshold.
  const seen = new Map<string, string>()
  const all = [...terms.ephemeralKeys.map((k, i) => [k, `ephemeralKeys[${i}]`] as const), ...terms.guardianKeys.map((k, i) => [k, `guardianKeys[${i}]`] as const)]
  const nums = bytesToHex(NUMS_INTERNAL_KEY)
  for (const [key, where] of all) {
    const hex = bytesToHex(key)
    if (hex === nums) violate('nums_key', `${where} is the NUMS point H, whose secret key nobody knows`)
    const first = seen.get(hex)
    if (first !== undefined) violate('duplicate_key', `${where} repeats ${first} (${hex})`)
    else seen.set(hex, where)
  }
}

function checkOracles(terms: ContractTerms, rules: DlcRules, violate: Violate): void {
  const { threshold, announcements } = terms.oracle
  if (threshold !== rules.policy.oracleThreshold) violate('oracle_threshold_mismatch', `oracle threshold ${threshold}; the rules require ${rules.policy.oracleThreshold}`)
  if (threshold !== SUPPORTED_ORACLE_THRESHOLD) {
    violate('oracle_threshold_unsupported', `oracle threshold ${threshold}: CETs are pre-signed per oracle pair, so the threshold must be ${SUPPORTED_ORACLE_THRESHOLD}`)
  }
  if (announcements.length !== ORACLES_PER_CONTRACT) violate('oracle_count', `${announcements.length} oracle announcements, expected ${ORACLES_PER_CONTRACT}`)
  const oracleKeys = rules.oracleKeys?.map(bytesToHex)
  const seen = new Set<string>()
  announcements.forEach((a, i) => {
    const key = bytesToHex(a.oraclePublicKey)
    if (seen.has(key)) violate('duplicate_oracle', `announcement ${i} is by the same oracle (${key}) as an earlier one`)
    seen.add(key)
    if (oracleKeys !== undefined && !oracleKeys.includes(key)) {
      violate('unknown_oracle', oracleKeys.length === 0 ? `announcement ${i}: the genesis lists no oracles` : `announcement ${i} is by ${key}, not a genesis oracle`)
    }
    try {
      verifyOracleAnnouncement(a)
    } catch (err) {
      violate('bad_announcement', `announcement ${i}: ${(err as Error).message}`)
    }
  })
  const first = announcements[0]
  if (first === undefined) return
  announcements.slice(1).forEach((a, j) => {
    const differs: string[] = []
    if (a.event.eventId !== first.event.eventId) differs.push('event id')
    if (a.event.maturity !== first.event.maturity) differs.push('maturity')
    if (a.event.outcomes.length !== first.event.outcomes.length || a.event.outcomes.some((o, k) => o !== first.event.outcomes[k])) differs.push('outcomes')
    if (differs.length > 0) violate('event_mismatch', `announcement ${j + 1} describes another event than announcement 0 (${differs.join(', ')} differ)`)
  })
}

function checkPayouts(terms: ContractTerms, policy: DlcPolicy, violate: Violate): void {
  if (terms.feeRate < policy.minFeeRate || terms.feeRate > policy.maxFeeRate) {
    violate('fee_rate', `fee rate ${terms.feeRate} sat/vB is outside the rules' ${policy.minFeeRate}-${policy.maxFeeRate}`)
  }
  const outcomes = terms.oracle.announcements[0]?.event.outcomes ?? []
  const paid = terms.payouts.map((p) => p.outcome)
  if (paid.length !== outcomes.length || paid.some((o, i) => o !== outcomes[i])) {
    const missing = outcomes.filter((o) => !paid.includes(o))
    const extra = paid.filter((o) => !outcomes.includes(o))
    const repeated = paid.filter((o, i) => paid.indexOf(o) !== i)
    const detail = [
      missing.length > 0 ? `missing ${quoteList(missing)}` : '',
      extra.length > 0 ? `not announced ${quoteList(extra)}` : '',
      repeated.length > 0 ? `repeated ${quoteList(repeated)}` : '',
    ].filter((s) => s !== '')
    violate('payout_outcomes', `payouts must list each announced outcome once, in order ${quoteList(outcomes)}: ${detail.length > 0 ? detail.join(', ') : 'out of order'}`)
  }
  const network = bitcoinjsNetwork(terms.network)
  for (const { outcome, outputs } of terms.payouts) {
    if (outputs.length === 0) {
      violate('empty_payout', `outcome "${outcome}": a CET needs at least one output`)
      continue
    }
    const scripts: Uint8Array[] = []
    outputs.forEach((o, i) => {
      try {
        scripts.push(btcAddress.toOutputScript(o.address, network))
      } catch {
        violate('bad_address', `outcome "${outcome}" output ${i}: "${o.address}" is not a ${terms.network} address`)
      }
      if (o.valueSat < BigInt(policy.dustLimitSat)) violate('dust_output', `outcome "${outcome}" output ${i}: ${o.valueSat} sat is below the dust limit ${policy.dustLimitSat} sat`)
    })
    if (scripts.length !== outputs.length) continue
    const total = payoutTotal(outputs)
    const fee = cetFee(terms, scripts)
    if (total + fee > terms.amountSat) {
      violate(
        'outputs_exceed_amount',
        `outcome "${outcome}": outputs total ${total} sat, above the amount ${terms.amountSat} sat less the CET fee ${fee} sat (${terms.feeRate} sat/vB)`,
      )
    }
  }
}

/**
 * Virtual size of a CET: one input spending the oracle leaf (cetThreshold 64-byte signatures, an
 * empty push for each other ephemeral key, the leaf script, a control block with one merkle
 * sibling) and outputs paying `outputScripts`.
 */
export function estimateCetVsize(terms: ContractTerms, outputScripts: readonly Uint8Array[]): number {
  const n = terms.ephemeralKeys.length
  const k = terms.cetThreshold
  // multi_a(k, n keys): <key> CHECKSIG, then n−1 × <key> CHECKSIGADD, <k> NUMEQUAL.
  const scriptBytes = 34 * n + scriptNumberPushBytes(k) + 1
  const controlBlockBytes = 33 + 32
  const outputBytes = outputScripts.reduce((sum, s) => sum + 8 + compactSizeBytes(s.length) + s.length, 0)
  const base = 4 + 1 + (32 + 4 + 1 + 4) + compactSizeBytes(outputScripts.length) + outputBytes + 4
  const witness =
    2 + compactSizeBytes(n + 2) + k * 65 + (n - k) + compactSizeBytes(scriptBytes) + scriptBytes + compactSizeBytes(controlBlockBytes) + controlBlockBytes
  return Math.ceil((4 * base + witness) / 4)
}

/** The least fee a CET paying `outputScripts` must leave: feeRate × its virtual size. */
export function cetFee(terms: ContractTerms, outputScripts: readonly Uint8Array[]): bigint {
  return BigInt(terms.feeRate) * BigInt(estimateCetVsize(terms, outputScripts))
}

/** Σ of the outputs' values. */
export function payoutTotal(outputs: readonly PayoutOutput[]): bigint {
  return outputs.reduce((sum, o) => sum + o.valueSat, 0n)
}

function scriptNumberPushBytes(value: number): number {
  if (value <= 16) return 1
  return value <= 0x7f ? 2 : 3
}

function compactSizeBytes(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5
}

function quoteList(values: readonly string[]): string {
  return values.map((v) => `"${v}"`).join(', ')
}

function formatDuration(seconds: number): string {
  const sign = seconds < 0 ? '-' : ''
  const s = Math.abs(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return `${sign}${h} h${m > 0 ? ` ${m} min` : ''}`
}
