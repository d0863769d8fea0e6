import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { networks, type Network } from 'bitcoinjs-lib'
import { BITCOIN_NETWORKS, encodeCanonical, MAX_GUARDIANS, taggedKeccak256, type BitcoinNetwork, type CborValue } from '../protocol/index.js'
import { ecc } from './ecc.js'
import { DlcError } from './errors.js'
import { decodeOracleAnnouncement, encodeOracleAnnouncement, MAX_OUTCOME_BYTES, MAX_OUTCOMES, type OracleAnnouncement } from './oracle/index.js'

/** Bitcoin's nLockTime split (BIP-65): values below it are block heights, values at or above it unix times. */
export const LOCKTIME_THRESHOLD = 500_000_000
/** 21 million BTC in satoshis: no amount or output may exceed it. */
export const MAX_MONEY_SAT = 2_100_000_000_000_000n
/** Most oracle announcements a contract may carry (the genesis oracle threshold is at most 16). */
export const MAX_ANNOUNCEMENTS = 16
/** Most outputs of one CET. */
export const MAX_PAYOUT_OUTPUTS = 16
const MAX_U32 = 2 ** 32 - 1
/** Miniscript's after(n) takes 1 ≤ n < 2^31 (a script number of at most 4 bytes, positive). */
export const MAX_LOCKED_UNTIL = 2 ** 31 - 1
/** Longest address string (bech32 addresses are at most 90 characters). */
const MAX_ADDRESS_CHARS = 90

/** What an absolute lock counts: block heights (< 500 000 000) or unix seconds (≥ 500 000 000). */
export type LockUnit = 'height' | 'time'

export interface PayoutOutput {
  readonly address: string
  readonly valueSat: bigint
}

export interface OutcomePayout {
  readonly outcome: string
  readonly outputs: readonly PayoutOutput[]
}

/**
 * The terms of one DLC: everything the compiler turns into the taproot output and the CETs. Once
 * guardians pre-sign, these are immutable: the contract id is the hash of their canonical encoding.
 * Parsing only checks the form; the security rules (rules.ts) decide whether terms are acceptable.
 */
export interface ContractTerms {
  readonly version: 1
  readonly network: BitcoinNetwork
  /** The funding output value. */
  readonly amountSat: bigint
  /** sat/vB for the CET and the path spends. */
  readonly feeRate: number
  /** The oracles' announcements of one event (same event id, outcomes, maturity) and how many must attest. */
  readonly oracle: { readonly threshold: number; readonly announcements: readonly OracleAnnouncement[] }
  /** One entry per announced outcome, in the announcement's outcome order: the CET outputs. */
  readonly payouts: readonly OutcomePayout[]
  /** The timelock leaf's absolute lock (CHECKLOCKTIMEVERIFY). */
  readonly timelock: { readonly unit: LockUnit; readonly lockedUntil: number }
  /** nLockTime of every CET: 0, or in the timelock's unit and ≤ lockedUntil (dlcspecs cet_locktime ≤ refund_locktime). */
  readonly cetLockTime: number
  /** Per-contract x-only guardian keys of the oracle (CET) leaf; their secrets are erased after pre-signing. */
  readonly ephemeralKeys: readonly Uint8Array[]
  readonly cetThreshold: number
  /** x-only guardian keys of the timelock and emergency leaves. */
  readonly guardianKeys: readonly Uint8Array[]
  readonly timelockThreshold: number
  readonly emergencyThreshold: number
}

const TERMS_KEYS = [
  'version',
  'network',
  'amountSat',
  'feeRate',
  'oracle',
  'payouts',
  'timelock',
  'cetLockTime',
  'ephemeralKeys',
  'cetThreshold',
  'guardianKeys',
  'timelockThreshold',
  'emergencyThreshold',
] as const

const BITCOINJS_NETWORK: Readonly<Record<BitcoinNetwork, Network>> = { mainnet: networks.bitcoin, testnet: networks.testnet, regtest: networks.regtest }

/** The bitcoinjs-lib parameters of a network (address prefixes). */
export function bitcoinjsNetwork(network: BitcoinNetwork): Network {
  return BITCOINJS_NETWORK[network]
}

/** The unit an nLockTime / CHECKLOCKTIMEVERIFY value counts in. */
export function lockUnitOf(value: number): LockUnit {
  return value < LOCKTIME_THRESHOLD ? 'height' : 'time'
}

/**
 * Parses the JSON form of contract terms (as `termsToJson` writes it): amounts as decimal strings,
 * keys as 64 hex digits, announcements as hex of their dlcspecs wire bytes. Strict: unknown keys,
 * wrong types and out-of-range values are refused with DlcError('invalid_terms') naming the field.
 */
export function parseTerms(json: unknown): ContractTerms {
  const doc = object(json, 'terms')
  allowKeys(doc, 'terms', TERMS_KEYS)
  if (doc.version !== 1) fail(`terms.version: expected 1, got ${JSON.stringify(doc.version) ?? 'nothing'}`)
  const network = doc.network
  if (typeof network !== 'string' || !(BITCOIN_NETWORKS as readonly string[]).includes(network)) {
    fail(`terms.network: expected one of ${BITCOIN_NETWORKS.join(', ')}`)
  }
  const amountSat = satoshis(doc.amountSat, 'terms.amountSat')
  const feeRate = integer(doc.feeRate, 'terms.feeRate (sat/vB)', 0, MAX_U32)

  const oracleDoc = object(doc.oracle, 'terms.oracle')
  allowKeys(oracleDoc, 'terms.oracle', ['threshold', 'announcements'])
  const threshold = integer(oracleDoc.threshold, 'terms.oracle.threshold', 0, MAX_ANNOUNCEMENTS)
  const announcements = array(oracleDoc.announcements, 'terms.oracle.announcements', MAX_ANNOUNCEMENTS).map((raw, i) =>
    announcement(raw, `terms.oracle.announcements[${i}]`),
  )

  const payouts = array(doc.payouts, 'terms.payouts', MAX_OUTCOMES).map((raw, i) => payout(raw, `terms.payouts[${i}]`))

  const lockDoc = object(doc.timelock, 'terms.timelock')
  allowKeys(lockDoc, 'terms.timelock', ['unit', 'lockedUntil'])
  const unit = lockDoc.unit
  if (unit !== 'height' && unit !== 'time') fail('terms.timelock.unit: expected "height" or "time"')
  const timelock = { unit: unit as LockUnit, lockedUntil: integer(lockDoc.lockedUntil, 'terms.timelock.lockedUntil', 1, MAX_LOCKED_UNTIL) }

  return {
    version: 1,
    network: network as BitcoinNetwork,
    amountSat,
    feeRate,
    oracle: { threshold, announcements },
    payouts,
    timelock,
    cetLockTime: integer(doc.cetLockTime, 'terms.cetLockTime', 0, MAX_U32),
    ephemeralKeys: keys(doc.ephemeralKeys, 'terms.ephemeralKeys'),
    cetThreshold: integer(doc.cetThreshold, 'terms.cetThreshold', 1, MAX_GUARDIANS),
    guardianKeys: keys(doc.guardianKeys, 'terms.guardianKeys'),
    timelockThreshold: integer(doc.timelockThreshold, 'terms.timelockThreshold', 1, MAX_GUARDIANS),
    emergencyThreshold: integer(doc.emergencyThreshold, 'terms.emergencyThreshold', 1, MAX_GUARDIANS),
  }
}

/** The JSON form of terms; `parseTerms(termsToJson(t))` gives back `t`. */
export function termsToJson(terms: ContractTerms): Record<string, unknown> {
  return {
    version: terms.version,
    network: terms.network,
    amountSat: terms.amountSat.toString(),
    feeRate: terms.feeRate,
    oracle: { threshold: terms.oracle.threshold, announcements: terms.oracle.announcements.map((a) => bytesToHex(encodeOracleAnnouncement(a))) },
    payouts: terms.payouts.map((p) => ({ outcome: p.outcome, outputs: p.outputs.map((o) => ({ address: o.address, valueSat: o.valueSat.toString() })) })),
    timelock: { unit: terms.timelock.unit, lockedUntil: terms.timelock.lockedUntil },
    cetLockTime: terms.cetLockTime,
    ephemeralKeys: terms.ephemeralKeys.map(bytesToHex),
    cetThreshold: terms.cetThreshold,
    guardianKeys: terms.guardianKeys.map(bytesToHex),
    timelockThreshold: terms.timelockThreshold,
    emergencyThreshold: terms.emergencyThreshold,
  }
}

/**
 * Canonical CBOR of the terms, a versioned tuple with the announcements as their dlcspecs wire
 * bytes: one byte form per terms, so the contract id cannot be changed by re-encoding.
 */
export function encodeTerms(terms: ContractTerms): Uint8Array {
  const tuple: CborValue = [
    terms.version,
    terms.network,
    // Amounts are ≤ 21 M BTC < 2^53 sat: exact as numbers, and numbers get CBOR's shortest integer form.
    Number(terms.amountSat),
    terms.feeRate,
    [terms.oracle.threshold, terms.oracle.announcements.map((a) => encodeOracleAnnouncement(a))],
    terms.payouts.map((p) => [p.outcome, p.outputs.map((o) => [o.address, Number(o.valueSat)])]),
    [terms.timelock.unit, terms.timelock.lockedUntil],
    terms.cetLockTime,
    [...terms.ephemeralKeys],
    terms.cetThreshold,
    [...terms.guardianKeys],
    terms.timelockThreshold,
    terms.emergencyThreshold,
  ]
  return encodeCanonical(tuple)
}

/** The contract id: hex of the tagged keccak256 of the canonical terms. */
export function contractId(terms: ContractTerms): string {
  return bytesToHex(taggedKeccak256('UBTC/dlc/terms/v1', encodeTerms(terms)))
}

function payout(raw: unknown, where: string): OutcomePayout {
  const doc = object(raw, where)
  allowKeys(doc, where, ['outcome', 'outputs'])
  if (typeof doc.outcome !== 'string' || doc.outcome.length === 0 || utf8ToBytes(doc.outcome).length > MAX_OUTCOME_BYTES) {
    fail(`${where}.outcome: expected a non-empty string of at most ${MAX_OUTCOME_BYTES} UTF-8 bytes`)
  }
  const outputs = array(doc.outputs, `${where}.outputs`, MAX_PAYOUT_OUTPUTS).map((rawOutput, i) => {
    const at = `${where}.outputs[${i}]`
    const o = object(rawOutput, at)
    allowKeys(o, at, ['address', 'valueSat'])
    if (typeof o.address !== 'string' || o.address.length === 0 || o.address.length > MAX_ADDRESS_CHARS) {
      fail(`${at}.address: expected an address string of at most ${MAX_ADDRESS_CHARS} characters`)
    }
    return { address: o.address, valueSat: satoshis(o.valueSat, `${at}.valueSat`) }
  })
  return { outcome: doc.outcome, outputs }
}

function announcement(raw: unknown, where: string): OracleAnnouncement {
  const bytes = hex(raw, where)
  try {
    return decodeOracleAnnouncement(bytes)
  } catch (err) {
    fail(`${where}: ${(err as Error).message}`)
  }
}

function keys(raw: unknown, where: string): Uint8Array[] {
  return array(raw, where, MAX_GUARDIANS).map((value, i) => {
    const key = hex(value, `${where}[${i}]`)
    if (key.length !== 32 || !ecc.isXOnlyPoint(key)) fail(`${where}[${i}]: expected a 32-byte x-only secp256k1 public key (64 hex digits)`)
    return key
  })
}

function hex(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(value)) fail(`${where}: expected lowercase hex`)
  return hexToBytes(value)
}

function satoshis(value: unknown, where: string): bigint {
  if (typeof value !== 'string' || !/^(?:0|[1-9][0-9]{0,15})$/.test(value)) fail(`${where}: expected an amount in satoshis as a decimal string`)
  const sat = BigInt(value)
  if (sat > MAX_MONEY_SAT) fail(`${where}: ${value} is above 21 million BTC`)
  return sat
}

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) fail(`${where}: expected an integer ${min}-${max}`)
  return value
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where}: expected an object`)
  return value as Record<string, unknown>
}

function array(value: unknown, where: string, max: number): unknown[] {
  if (!Array.isArray(value)) fail(`${where}: expected an array`)
  if (value.length > max) fail(`${where}: at most ${max} entries, got ${value.length}`)
  return value
}

function allowKeys(doc: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const key of Object.keys(doc)) if (!allowed.includes(key)) fail(`${where}: unknown field "${key}"`)
}

function fail(message: string): never {
  throw new DlcError('invalid_terms', message)
}
