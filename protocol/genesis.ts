import { peerIdFromString } from '@libp2p/peer-id'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE } from '@noble/curves/utils.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { encodeCanonical, type CborValue } from './codec.js'
import { ProtocolError } from './errors.js'
import { taggedKeccak256 } from './hash.js'
import { commitQuorum } from './quorum.js'
import { isVotePublicKey, voteAddress } from './vote-key.js'

/** Operation types that need guardian approval, each with its own threshold in genesis. */
export const OPERATIONS = ['validation', 'lp_liquidation', 'dlc_emergency', 'reserve_spend'] as const
export type Operation = (typeof OPERATIONS)[number]

export const CHAIN_NAMES = ['ethereum', 'polygon', 'arbitrum', 'bsc', 'solana'] as const
export type ChainName = (typeof CHAIN_NAMES)[number]

export const BITCOIN_NETWORKS = ['mainnet', 'testnet', 'regtest'] as const
export type BitcoinNetwork = (typeof BITCOIN_NETWORKS)[number]

export interface GuardianInfo {
  readonly index: number
  readonly name: string
  /** Compressed secp256k1 vote public key. */
  readonly votePublicKey: Uint8Array
  /** Ethereum address of the vote key. */
  readonly address: string
  /** libp2p peer id (ed25519), the guardian's transport identity. */
  readonly peerId: string
}

export interface OracleInfo {
  readonly name: string
  /** libp2p peer id (ed25519): the gater admits it, and its gossip is attributed to this oracle. */
  readonly peerId: string
  /** BIP-340 x-only public key (32 bytes) that signs the oracle's dlcspecs announcements and attestations. */
  readonly publicKey: Uint8Array
}

/**
 * Security rules every DLC's terms must meet before guardians compile and pre-sign it. The
 * emergency path's threshold is `thresholds.dlc_emergency`.
 */
export interface DlcPolicy {
  /** Shortest timelock, in seconds ahead of now, for time locks (24 h). */
  readonly minLockSeconds: number
  /** Shortest timelock, in blocks ahead of the tip, for height locks (144 ≈ 24 h). */
  readonly minLockBlocks: number
  /** Oracle attestations needed to settle (2 of the 3 oracles). */
  readonly oracleThreshold: number
  /** Ephemeral guardian keys needed on the oracle (CET) leaf. */
  readonly cetThreshold: number
  /** Guardian keys needed on the timelock leaf. */
  readonly timelockThreshold: number
  /** Smallest output a CET may create, in satoshis. */
  readonly dustLimitSat: number
  /** Fee rate bounds, sat/vB. */
  readonly minFeeRate: number
  readonly maxFeeRate: number
}

export interface EvmChainConfig {
  readonly kind: 'evm'
  readonly chainId: number
  readonly paymentAddress: string
  readonly minPaymentWei: string
  readonly confirmations: number
}

export interface SolanaChainConfig {
  readonly kind: 'solana'
  readonly paymentAddress: string
  readonly minPaymentLamports: string
}

export type ChainConfig = EvmChainConfig | SolanaChainConfig

export interface Genesis {
  readonly network: string
  readonly genesisTime: string
  readonly guardianSetIndex: number
  readonly guardians: readonly GuardianInfo[]
  readonly thresholds: Readonly<Record<Operation, number>>
  readonly chains: Readonly<Partial<Record<ChainName, ChainConfig>>>
  readonly oracles: readonly OracleInfo[]
  readonly bitcoinNetwork: BitcoinNetwork
  /** How long a guardian_consensus operation stays pending before it expires (block time). */
  readonly operationTtlMs: number
  /** Most payment validations approved per (chain, sender) in a rolling hour of block time; more are delayed. */
  readonly validationRateLimitPerHour: number
  /** The rolling window of that rate limit (block time); an hour unless a testnet shortens it. */
  readonly validationRateWindowMs: number
  /** FROST signers needed for a reserve signature (t of n): any t guardians can sign, t − 1 cannot. */
  readonly reserveThreshold: number
  readonly dlc: DlcPolicy
  /** keccak256 of the canonical encoding; the network id that every signature is bound to. */
  readonly hash: Uint8Array
}

export const MAX_GUARDIANS = 64
export const DEFAULT_OPERATION_TTL_MS = 3_600_000
export const DEFAULT_VALIDATION_RATE_LIMIT_PER_HOUR = 20
export const DEFAULT_VALIDATION_RATE_WINDOW_MS = 3_600_000
const MAX_NAME_BYTES = 64

/** Parses and validates a genesis document (the JSON form in genesis.json). */
export function parseGenesis(json: unknown): Genesis {
  const doc = object(json, 'genesis')
  allowKeys(doc, 'genesis', ['network', 'genesisTime', 'guardianSetIndex', 'guardians', 'thresholds', 'chains', 'oracles', 'bitcoinNetwork', 'reserveThreshold', 'operationTtlMs', 'validationRateLimitPerHour', 'validationRateWindowMs', 'dlc'])
  const network = name(doc.network, 'genesis.network')
  const genesisTime = string(doc.genesisTime, 'genesis.genesisTime')
  if (Number.isNaN(Date.parse(genesisTime))) fail('genesis.genesisTime: expected an ISO-8601 time')
  const guardianSetIndex = integer(doc.guardianSetIndex, 'genesis.guardianSetIndex', 0, 2 ** 32 - 1)

  if (!Array.isArray(doc.guardians) || doc.guardians.length === 0) fail('genesis.guardians: expected a non-empty array')
  if (doc.guardians.length > MAX_GUARDIANS) fail(`genesis.guardians: at most ${MAX_GUARDIANS} guardians`)
  const guardians = doc.guardians.map((raw, index) => parseGuardian(raw, index))
  unique(guardians.map((g) => g.name), 'guardian name')
  unique(guardians.map((g) => g.peerId), 'guardian peerId')
  unique(guardians.map((g) => g.address), 'guardian votePublicKey')

  const n = guardians.length
  const thresholdsDoc = object(doc.thresholds, 'genesis.thresholds')
  allowKeys(thresholdsDoc, 'genesis.thresholds', OPERATIONS)
  const thresholds = {} as Record<Operation, number>
  // A majority at least: two conflicting decisions can never both reach their threshold.
  for (const op of OPERATIONS) {
    // reserve_spend came later: a genesis without it spends with the commit quorum.
    const value = op === 'reserve_spend' && thresholdsDoc[op] === undefined ? commitQuorum(n) : thresholdsDoc[op]
    thresholds[op] = integer(value, `genesis.thresholds.${op}`, Math.floor(n / 2) + 1, n)
  }
  const f = n - commitQuorum(n)
  const reserveThreshold =
    doc.reserveThreshold === undefined ? defaultReserveThreshold(n) : integer(doc.reserveThreshold, 'genesis.reserveThreshold (FROST signers needed: more than the faulty, at most the honest)', f + 1, n - f)

  const chainsDoc = doc.chains === undefined ? {} : object(doc.chains, 'genesis.chains')
  allowKeys(chainsDoc, 'genesis.chains', CHAIN_NAMES)
  const chains: Partial<Record<ChainName, ChainConfig>> = {}
  for (const chain of CHAIN_NAMES) {
    if (chainsDoc[chain] !== undefined) chains[chain] = parseChain(chain, chainsDoc[chain])
  }

  const oraclesDoc = doc.oracles === undefined ? [] : doc.oracles
  if (!Array.isArray(oraclesDoc)) fail('genesis.oracles: expected an array')
  const oracles = oraclesDoc.map((raw, i) => {
    const o = object(raw, `genesis.oracles[${i}]`)
    allowKeys(o, `genesis.oracles[${i}]`, ['name', 'peerId', 'publicKey'])
    return { name: name(o.name, `genesis.oracles[${i}].name`), peerId: peerId(o.peerId, `genesis.oracles[${i}].peerId`), publicKey: xOnlyKey(o.publicKey, `genesis.oracles[${i}].publicKey`) }
  })
  unique([...guardians.map((g) => g.peerId), ...oracles.map((o) => o.peerId)], 'peerId')
  unique(oracles.map((o) => o.name), 'oracle name')
  unique(oracles.map((o) => bytesToHex(o.publicKey)), 'oracle publicKey')
  const dlc = parseDlcPolicy(doc.dlc, n)

  const bitcoinNetwork = oneOf(doc.bitcoinNetwork ?? 'regtest', BITCOIN_NETWORKS, 'genesis.bitcoinNetwork')
  const operationTtlMs = doc.operationTtlMs === undefined ? DEFAULT_OPERATION_TTL_MS : integer(doc.operationTtlMs, 'genesis.operationTtlMs', 1000, 365 * 24 * 3600 * 1000)
  const validationRateLimitPerHour =
    doc.validationRateLimitPerHour === undefined
      ? DEFAULT_VALIDATION_RATE_LIMIT_PER_HOUR
      : integer(doc.validationRateLimitPerHour, 'genesis.validationRateLimitPerHour', 1, 100_000)
  const validationRateWindowMs =
    doc.validationRateWindowMs === undefined
      ? DEFAULT_VALIDATION_RATE_WINDOW_MS
      : integer(doc.validationRateWindowMs, 'genesis.validationRateWindowMs', 1000, 7 * 24 * 3600 * 1000)
  const body = { network, genesisTime, guardianSetIndex, guardians, thresholds, chains, oracles, bitcoinNetwork, reserveThreshold, operationTtlMs, validationRateLimitPerHour, validationRateWindowMs, dlc }
  return { ...body, hash: genesisHash(body) }
}

/**
 * The JSON form of a genesis, as written to genesis.json. validationRateLimitPerHour may be
 * left out of the input (default {@link DEFAULT_VALIDATION_RATE_LIMIT_PER_HOUR}); the output always has it.
 */
export function genesisToJson(
  genesis: Omit<Genesis, 'hash' | 'validationRateLimitPerHour' | 'validationRateWindowMs' | 'reserveThreshold' | 'dlc'> & {
    readonly validationRateLimitPerHour?: number
    readonly validationRateWindowMs?: number
    readonly reserveThreshold?: number
    readonly dlc?: DlcPolicy
  },
): Record<string, unknown> {
  return {
    network: genesis.network,
    genesisTime: genesis.genesisTime,
    guardianSetIndex: genesis.guardianSetIndex,
    guardians: genesis.guardians.map((g) => ({ name: g.name, votePublicKey: bytesToHex(g.votePublicKey), peerId: g.peerId })),
    thresholds: { ...genesis.thresholds },
    chains: { ...genesis.chains },
    oracles: genesis.oracles.map((o) => ({ name: o.name, peerId: o.peerId, publicKey: bytesToHex(o.publicKey) })),
    bitcoinNetwork: genesis.bitcoinNetwork,
    reserveThreshold: genesis.reserveThreshold ?? defaultReserveThreshold(genesis.guardians.length),
    operationTtlMs: genesis.operationTtlMs,
    validationRateLimitPerHour: genesis.validationRateLimitPerHour ?? DEFAULT_VALIDATION_RATE_LIMIT_PER_HOUR,
    validationRateWindowMs: genesis.validationRateWindowMs ?? DEFAULT_VALIDATION_RATE_WINDOW_MS,
    dlc: { ...(genesis.dlc ?? defaultDlcPolicy(genesis.guardians.length)) },
  }
}

/** The DLC rules for n guardians: a 24 h lock, 2 of 3 oracles, majorities on the CET and timelock leaves. */
export function defaultDlcPolicy(n: number): DlcPolicy {
  return {
    minLockSeconds: 24 * 3600,
    minLockBlocks: 144,
    oracleThreshold: 2,
    cetThreshold: defaultReserveThreshold(n),
    timelockThreshold: defaultReserveThreshold(n),
    dustLimitSat: 330,
    minFeeRate: 1,
    maxFeeRate: 1000,
  }
}

const DLC_POLICY_KEYS = ['minLockSeconds', 'minLockBlocks', 'oracleThreshold', 'cetThreshold', 'timelockThreshold', 'dustLimitSat', 'minFeeRate', 'maxFeeRate'] as const

function parseDlcPolicy(raw: unknown, n: number): DlcPolicy {
  const defaults = defaultDlcPolicy(n)
  if (raw === undefined) return defaults
  const doc = object(raw, 'genesis.dlc')
  allowKeys(doc, 'genesis.dlc', DLC_POLICY_KEYS)
  const value = (key: (typeof DLC_POLICY_KEYS)[number], min: number, max: number, why = ''): number =>
    doc[key] === undefined ? defaults[key] : integer(doc[key], `genesis.dlc.${key}${why}`, min, max)
  const policy: DlcPolicy = {
    // The rules may be made stricter than 24 h, never looser.
    minLockSeconds: value('minLockSeconds', 24 * 3600, 365 * 24 * 3600, ' (at least 24 h)'),
    minLockBlocks: value('minLockBlocks', 144, 52_560, ' (at least 144 blocks)'),
    oracleThreshold: value('oracleThreshold', 1, 16),
    cetThreshold: value('cetThreshold', Math.floor(n / 2) + 1, n, ' (a majority of the guardians at least)'),
    timelockThreshold: value('timelockThreshold', Math.floor(n / 2) + 1, n, ' (a majority of the guardians at least)'),
    dustLimitSat: value('dustLimitSat', 1, 100_000),
    minFeeRate: value('minFeeRate', 1, 100_000),
    maxFeeRate: value('maxFeeRate', 1, 100_000),
  }
  if (policy.minFeeRate > policy.maxFeeRate) fail('genesis.dlc: minFeeRate above maxFeeRate')
  return policy
}

/** A majority of the guardians: 3 of 5, 4 of 7. */
export function defaultReserveThreshold(n: number): number {
  return Math.floor(n / 2) + 1
}

function genesisHash(genesis: Omit<Genesis, 'hash'>): Uint8Array {
  const json = genesisToJson(genesis)
  return taggedKeccak256('UBTC/genesis/v1', encodeCanonical(json as CborValue))
}

function parseGuardian(raw: unknown, index: number): GuardianInfo {
  const where = `genesis.guardians[${index}]`
  const g = object(raw, where)
  allowKeys(g, where, ['name', 'votePublicKey', 'peerId'])
  const keyHex = string(g.votePublicKey, `${where}.votePublicKey`)
  let votePublicKey: Uint8Array
  try {
    votePublicKey = hexToBytes(keyHex)
  } catch {
    fail(`${where}.votePublicKey: expected hex`)
  }
  if (!isVotePublicKey(votePublicKey)) fail(`${where}.votePublicKey: not a compressed secp256k1 public key`)
  return {
    index,
    name: name(g.name, `${where}.name`),
    votePublicKey,
    address: voteAddress(votePublicKey),
    peerId: peerId(g.peerId, `${where}.peerId`),
  }
}

function parseChain(chain: ChainName, raw: unknown): ChainConfig {
  const where = `genesis.chains.${chain}`
  const c = object(raw, where)
  if (chain === 'solana') {
    allowKeys(c, where, ['kind', 'paymentAddress', 'minPaymentLamports'])
    if (c.kind !== 'solana') fail(`${where}.kind: expected "solana"`)
    return {
      kind: 'solana',
      paymentAddress: string(c.paymentAddress, `${where}.paymentAddress`),
      minPaymentLamports: decimal(c.minPaymentLamports, `${where}.minPaymentLamports`),
    }
  }
  allowKeys(c, where, ['kind', 'chainId', 'paymentAddress', 'minPaymentWei', 'confirmations'])
  if (c.kind !== 'evm') fail(`${where}.kind: expected "evm"`)
  const paymentAddress = string(c.paymentAddress, `${where}.paymentAddress`)
  if (!/^0x[0-9a-fA-F]{40}$/.test(paymentAddress)) fail(`${where}.paymentAddress: expected a 20-byte hex address`)
  return {
    kind: 'evm',
    chainId: integer(c.chainId, `${where}.chainId`, 1, Number.MAX_SAFE_INTEGER),
    paymentAddress,
    minPaymentWei: decimal(c.minPaymentWei, `${where}.minPaymentWei`),
    confirmations: integer(c.confirmations, `${where}.confirmations`, 0, 10_000),
  }
}

function fail(message: string): never {
  throw new ProtocolError('invalid_genesis', message)
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where}: expected an object`)
  return value as Record<string, unknown>
}

function allowKeys(doc: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const key of Object.keys(doc)) if (!allowed.includes(key)) fail(`${where}: unknown key "${key}"`)
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(`${where}: expected a non-empty string`)
  return value
}

function name(value: unknown, where: string): string {
  const s = string(value, where)
  if (Buffer.byteLength(s) > MAX_NAME_BYTES || !/^[A-Za-z0-9._-]+$/.test(s)) {
    fail(`${where}: expected 1-${MAX_NAME_BYTES} characters of A-Z a-z 0-9 . _ -`)
  }
  return s
}

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(`${where}: expected an integer ${min}..${max}`)
  }
  return value
}

function decimal(value: unknown, where: string): string {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(value)) fail(`${where}: expected a decimal integer string`)
  return value
}

function oneOf<T extends string>(value: unknown, options: readonly T[], where: string): T {
  if (typeof value !== 'string' || !options.includes(value as T)) fail(`${where}: expected one of ${options.join(', ')}`)
  return value as T
}

function xOnlyKey(value: unknown, where: string): Uint8Array {
  const s = string(value, where)
  if (!/^[0-9a-f]{64}$/.test(s)) fail(`${where}: expected a 32-byte x-only public key in lower-case hex`)
  const key = hexToBytes(s)
  try {
    schnorr.utils.lift_x(bytesToNumberBE(key))
  } catch {
    fail(`${where}: not a point on secp256k1`)
  }
  return key
}

function peerId(value: unknown, where: string): string {
  const s = string(value, where)
  try {
    return peerIdFromString(s).toString()
  } catch {
    fail(`${where}: not a libp2p peer id`)
  }
}

function unique(values: string[], what: string): void {
  const seen = new Set<string>()
  for (const v of values) {
    if (seen.has(v)) fail(`genesis: duplicate ${what} ${v}`)
    seen.add(v)
  }
}

/** The guardian set of a genesis, with lookups and quorum sizes. */
export class GuardianSet {
  readonly index: number
  readonly guardians: readonly GuardianInfo[]
  private readonly byPeerId: Map<string, GuardianInfo>
  private readonly byName: Map<string, GuardianInfo>

  constructor(genesis: Genesis) {
    this.index = genesis.guardianSetIndex
    this.guardians = genesis.guardians
    this.byPeerId = new Map(genesis.guardians.map((g) => [g.peerId, g]))
    this.byName = new Map(genesis.guardians.map((g) => [g.name, g]))
  }

  get size(): number {
    return this.guardians.length
  }

  /** Votes needed to commit: more than two thirds. */
  get commitQuorum(): number {
    return commitQuorum(this.size)
  }

  at(index: number): GuardianInfo | undefined {
    return this.guardians[index]
  }

  byPeer(peerId: string): GuardianInfo | undefined {
    return this.byPeerId.get(peerId)
  }

  named(name: string): GuardianInfo | undefined {
    return this.byName.get(name)
  }
}
