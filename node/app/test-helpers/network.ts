import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import {
  blockHash,
  encodeEnvelope,
  encodeTx,
  genesisToJson,
  MessageKind,
  parseGenesis,
  precommitDigest,
  signDigest,
  signEnvelope,
  TxType,
  type Block,
  type Certificate,
  type Decision,
  type Genesis,
  type ObservationTx,
  type Operation,
} from '../../../protocol/index.js'
import { generateGuardianKeys, publicInfo, type GuardianKeys } from '../../keystore/index.js'
import { testnetGenesis } from '../../setup/index.js'
import { GuardianApplication } from '../application.js'

export interface TestNetwork {
  readonly genesis: Genesis
  readonly keys: readonly GuardianKeys[]
  readonly genesisTimeMs: number
}

/** A 5-guardian (by default) testnet genesis: thresholds validation 3, lp_liquidation 3, dlc_emergency 4. */
export async function makeNetwork(opts: { guardians?: number; operationTtlMs?: number; genesis?: Record<string, unknown> } = {}): Promise<TestNetwork> {
  const keys = await Promise.all(Array.from({ length: opts.guardians ?? 5 }, () => generateGuardianKeys()))
  let genesis = testnetGenesis(keys.map(publicInfo))
  if (opts.operationTtlMs !== undefined || opts.genesis !== undefined) {
    genesis = parseGenesis({ ...genesisToJson(genesis), ...(opts.operationTtlMs === undefined ? {} : { operationTtlMs: opts.operationTtlMs }), ...opts.genesis })
  }
  return { genesis, keys, genesisTimeMs: Date.parse(genesis.genesisTime) }
}

/** An encoded, signed GuardianVote transaction. */
export function voteTx(
  net: TestNetwork,
  signer: number,
  operation: Operation,
  operationId: string,
  decision: Decision = 'approve',
  opts: { signingKey?: Uint8Array; kind?: MessageKind; setIndex?: number } = {},
): Uint8Array {
  const payload = encodeTx({ type: TxType.GuardianVote, operation, operationId, decision })
  const key = opts.signingKey ?? net.keys[signer]?.votePrivateKey ?? net.keys[0]!.votePrivateKey
  return encodeEnvelope(signEnvelope(net.genesis.hash, opts.kind ?? MessageKind.Tx, opts.setIndex ?? 0, signer, payload, key))
}

/** An encoded, signed Observation transaction. */
export function observationTx(net: TestNetwork, signer: number, observation: Omit<ObservationTx, 'type'>): Uint8Array {
  const payload = encodeTx({ type: TxType.Observation, ...observation })
  return encodeEnvelope(signEnvelope(net.genesis.hash, MessageKind.Tx, 0, signer, payload, net.keys[signer]!.votePrivateKey))
}

/** A certificate for `block` signed by `signers` (default 0-3) with the given precommit timestamps. */
export function certify(net: TestNetwork, block: Block, opts: { signers?: readonly number[]; timestampMs?: number | readonly number[]; round?: number } = {}): Certificate {
  const signers = opts.signers ?? [0, 1, 2, 3]
  const round = opts.round ?? 0
  const hash = blockHash(block.header)
  const times = signers.map((_, i) =>
    Array.isArray(opts.timestampMs) ? opts.timestampMs[i]! : typeof opts.timestampMs === 'number' ? opts.timestampMs : block.header.timeMs + 1000,
  )
  return {
    height: block.header.height,
    round,
    blockHash: hash,
    signatures: signers.map((signer, i) => ({
      signer,
      timestampMs: times[i]!,
      signature: signDigest(precommitDigest(net.genesis.hash, net.genesis.guardianSetIndex, { height: block.header.height, round, blockHash: hash }, { timestampMs: times[i]! }), net.keys[signer]!.votePrivateKey),
    })),
  }
}

export interface OpenedApp {
  readonly app: GuardianApplication
  readonly db: ClassicLevel<string, unknown>
  readonly dir: string
  reopen(genesis?: Genesis): Promise<OpenedApp>
  /** Closes app and database. */
  close(): Promise<void>
}

const dirs: string[] = []

/** Opens an application on a fresh LevelDB in a temp dir (or on `dir`). */
export async function openApp(net: TestNetwork, dir?: string, genesis: Genesis = net.genesis): Promise<OpenedApp> {
  const where = dir ?? (await mkdtemp(join(tmpdir(), 'ubtc-app-')))
  if (dir === undefined) dirs.push(where)
  const db = new ClassicLevel<string, unknown>(where, { valueEncoding: 'json' })
  await db.open()
  let app: GuardianApplication
  try {
    app = await GuardianApplication.open({ db, genesis })
  } catch (err) {
    await db.close()
    throw err
  }
  const opened: OpenedApp = {
    app,
    db,
    dir: where,
    close: async () => {
      await app.close()
      await db.close()
    },
    reopen: async (g?: Genesis) => {
      await opened.close()
      return openApp(net, where, g ?? genesis)
    },
  }
  return opened
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
}

/**
 * Drives one application through heights: proposes from `candidates`, validates, certifies
 * (precommit timestamps from `timestampMs`, default block time + 1 s) and commits.
 */
export class ChainDriver {
  lastCommit: Certificate | null = null
  readonly committed: Array<{ block: Block; certificate: Certificate }> = []

  constructor(
    readonly net: TestNetwork,
    readonly app: GuardianApplication,
  ) {}

  async propose(candidates: readonly Uint8Array[], opts: { proposer?: number; maxTxs?: number } = {}): Promise<Block> {
    return this.app.proposeBlock({
      height: this.app.height + 1,
      proposer: opts.proposer ?? this.app.height % this.net.keys.length,
      lastCommit: this.lastCommit,
      candidates,
      ...(opts.maxTxs === undefined ? {} : { maxTxs: opts.maxTxs }),
    })
  }

  async commit(block: Block, opts: { timestampMs?: number | readonly number[] } = {}): Promise<Certificate> {
    const certificate = certify(this.net, block, opts.timestampMs === undefined ? {} : { timestampMs: opts.timestampMs })
    await this.app.commitBlock(block, certificate)
    this.lastCommit = certificate
    this.committed.push({ block, certificate })
    return certificate
  }

  /** Propose, validate (must pass), commit. */
  async step(candidates: readonly Uint8Array[], opts: { timestampMs?: number | readonly number[] } = {}): Promise<Block> {
    const block = await this.propose(candidates)
    const validation = await this.app.validateBlock(block)
    if (!validation.ok) throw new Error(`own proposal invalid: ${validation.reason}`)
    await this.commit(block, opts)
    return block
  }
}
