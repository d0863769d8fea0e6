import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { payments } from 'bitcoinjs-lib'
import './ecc.js'
import { announceEvent, type OracleAnnouncement } from './oracle/index.js'
import type { DlcRules } from './rules.js'
import { bitcoinjsNetwork, type ContractTerms, type LockUnit } from './terms.js'

/**
 * Example terms for the local network, and the deterministic *dev* keys behind them. Every secret
 * here is derived from a public label, so anyone can recompute it: these keys exist for examples,
 * tests and local testnets only and must never hold real coins. The local testnet's own oracles
 * cannot sign without their keystores, so example announcements come from dev oracles.
 */

/** The event every example contract settles on. */
export const EXAMPLE_OUTCOMES = ['repaid', 'liquidated'] as const
export const EXAMPLE_AMOUNT_SAT = 100_000_000n
export const EXAMPLE_FEE_RATE = 2
/** The example timelock: 48 h ahead (the rules require 24 h), or 288 blocks for a height lock. */
export const EXAMPLE_LOCK_SECONDS = 48 * 3600
export const EXAMPLE_LOCK_BLOCKS = 288
/** The example event matures 24 h ahead, well before the timelock opens. */
export const EXAMPLE_MATURITY_SECONDS = 24 * 3600
/** What the example CETs leave for fees: 1000 vB at the fee rate (a CET of 5 keys is ~250 vB), at least 10 000 sat. */
const EXAMPLE_FEE_RESERVE_VBYTES = 1000n
const EXAMPLE_MIN_FEE_RESERVE_SAT = 10_000n

const DEV_TAG = 'UBTC/dlc/dev-key'

/** A dev key pair derived from `label`: the secret is public knowledge. */
export interface DevKey {
  readonly label: string
  readonly secretKey: Uint8Array
  readonly publicKey: Uint8Array
}

/** The dev key of `label`: a tagged hash of the label as the secret, its x-only public key. */
export function devKey(label: string): DevKey {
  const secretKey = schnorr.utils.taggedHash(DEV_TAG, utf8ToBytes(label))
  // A hash ≥ the group order has probability ~2⁻¹²⁸; the fixed labels used here are tested valid.
  if (!secp256k1.utils.isValidSecretKey(secretKey)) throw new RangeError(`dev key label ${label} gives no valid secret key`)
  return { label, secretKey, publicKey: schnorr.getPublicKey(secretKey) }
}

/** The three dev oracles ("dev-oracle-1" …). */
export function devOracles(): DevKey[] {
  return [1, 2, 3].map((i) => devKey(`dev-oracle-${i}`))
}

/** The nonce secret a dev oracle uses for `eventId`: one per (oracle, event), so it must attest that event only once. */
export function devOracleNonceSecret(oracle: DevKey, eventId: string): Uint8Array {
  return devKey(`${oracle.label}/nonce/${eventId}`).secretKey
}

/** Announcements of the example event by the three dev oracles; deterministic (fixed aux randomness), like every dev key. */
export function devAnnouncements(eventId: string, maturity: number, outcomes: readonly string[] = EXAMPLE_OUTCOMES): OracleAnnouncement[] {
  return devOracles().map((oracle) => announceEvent(oracle.secretKey, { eventId, outcomes, maturity }, devOracleNonceSecret(oracle, eventId), new Uint8Array(32)))
}

export interface ExampleTermsOptions {
  /** Unix seconds the lock and maturity count from. */
  readonly now: number
  /** The chain tip, for a height lock (lockedUntil = tip + 288). */
  readonly tipHeight?: number
  readonly unit?: LockUnit
  /** Keys to use instead of the dev keys "dev-ephemeral-i" and "dev-guardian-i". */
  readonly ephemeralKeys?: readonly Uint8Array[]
  readonly guardianKeys?: readonly Uint8Array[]
  /**
   * Real announcements of one event (e.g. what the network's oracles committed) instead of the
   * dev oracles': the payouts follow their outcomes and the maturity is theirs.
   */
  readonly announcements?: readonly OracleAnnouncement[]
}

/**
 * Terms that meet `rules`: 1 BTC, two outcomes announced by the three dev oracles (maturity 24 h
 * ahead), "repaid" paying dev payee A, "liquidated" splitting between A and B, a 48 h time lock
 * (or 288 blocks above `tipHeight`), the rules' thresholds, and dev keys unless keys are given.
 */
export function exampleTerms(rules: DlcRules, options: ExampleTermsOptions): ContractTerms {
  const n = rules.guardianCount
  const unit = options.unit ?? 'time'
  if (unit === 'height' && options.tipHeight === undefined) throw new RangeError('a height-locked example needs the tip height')
  const announcements = options.announcements ?? devAnnouncements(`example-${options.now + EXAMPLE_MATURITY_SECONDS}`, options.now + EXAMPLE_MATURITY_SECONDS)
  const { outcomes, maturity } = announcements[0]!.event
  // The lock opens 24 h after the event matures at the earliest, 48 h ahead of now at least.
  const lockedUntil = unit === 'time' ? Math.max(options.now + EXAMPLE_LOCK_SECONDS, maturity + EXAMPLE_MATURITY_SECONDS) : options.tipHeight! + EXAMPLE_LOCK_BLOCKS
  const network = bitcoinjsNetwork(rules.network)
  const payee = (label: string): string => {
    const address = payments.p2tr({ internalPubkey: devKey(label).publicKey, network }).address
    if (address === undefined) throw new Error('bitcoinjs p2tr gave no address')
    return address
  }
  const [a, b] = [payee('dev-payee-a'), payee('dev-payee-b')]
  const feeRate = Math.min(Math.max(EXAMPLE_FEE_RATE, rules.policy.minFeeRate), rules.policy.maxFeeRate)
  const reserve = BigInt(feeRate) * EXAMPLE_FEE_RESERVE_VBYTES
  const available = EXAMPLE_AMOUNT_SAT - (reserve > EXAMPLE_MIN_FEE_RESERVE_SAT ? reserve : EXAMPLE_MIN_FEE_RESERVE_SAT)
  return {
    version: 1,
    network: rules.network,
    amountSat: EXAMPLE_AMOUNT_SAT,
    feeRate,
    oracle: { threshold: rules.policy.oracleThreshold, announcements: [...announcements] },
    // The first outcome pays payee A everything; every other one splits between A and B.
    payouts: outcomes.map((outcome, i) => ({
      outcome,
      outputs:
        i === 0
          ? [{ address: a, valueSat: available }]
          : [
              { address: a, valueSat: available / 2n },
              { address: b, valueSat: available - available / 2n },
            ],
    })),
    timelock: { unit, lockedUntil },
    cetLockTime: 0,
    ephemeralKeys: options.ephemeralKeys ?? Array.from({ length: n }, (_, i) => devKey(`dev-ephemeral-${i + 1}`).publicKey),
    cetThreshold: rules.policy.cetThreshold,
    guardianKeys: options.guardianKeys ?? Array.from({ length: n }, (_, i) => devKey(`dev-guardian-${i + 1}`).publicKey),
    timelockThreshold: rules.policy.timelockThreshold,
    emergencyThreshold: rules.emergencyThreshold,
  }
}
