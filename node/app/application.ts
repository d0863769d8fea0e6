import type { AbstractBatchOptions, AbstractSublevel } from 'abstract-level'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import {
  blockHash,
  certificateHash,
  decodeBlock,
  decodeCertificate,
  encodeBlock,
  encodeCertificate,
  GuardianSet,
  MAX_BLOCK_TXS,
  MAX_TX_BYTES,
  medianTime,
  OPERATIONS,
  ProtocolError,
  keccak256,
  txHash,
  txRoot,
  TxType,
  verifyCertificate,
  ZERO_HASH,
  type Block,
  type BlockHeader,
  type Certificate,
  type Genesis,
  type ChainName,
  type Operation,
  type SigningJobRef,
  CHAIN_NAMES,
} from '../../protocol/index.js'
import { AppError } from './errors.js'
import { applyTx, beginBlock, checkTx, verifyTx, type BlockContext, type ExecutionParams, type VerifiedTx, type VerifyResult } from './execute.js'
import {
  copyRecord,
  copyValidation,
  OPERATION_STATUSES,
  VALIDATION_STATUSES,
  type AuditEntry,
  type OperationRecord,
  type OperationStatus,
  type PsbtRecord,
  type ReserveRecord,
  type ValidationRecord,
  type ValidationStatus,
} from './records.js'
import { AppState, genesisTimeMs, type OperationChange, type ValidationChange } from './state.js'
import { jobMessages, signableAt } from './custody.js'
import { oracleEventKey, oracleEventView, type OracleEventRecord, type OracleEventView } from './oracle-records.js'
import { senderOf } from './validation.js'
import { TrieDb, type AppDb, type BinarySublevel, type SublevelOp } from './trie-db.js'

/**
 * The guardian application: the replicated state machine behind the consensus log.
 *
 * State. An @ethereumjs/mpt Merkle-Patricia trie (state.ts) stored in the node's LevelDB,
 * sublevel 'trie'. Block headers carry the state root AFTER their own transactions: validators
 * execute a proposal before they prevote for it (validateBlock), so the certificate of height h
 * — 2f+1 precommits over the header hash — proves the state at h by itself.
 *
 * Storage (sublevels of the injected database):
 *   trie       trie nodes (hex node hash → RLP node), never pruned: every committed root stays readable
 *   blocks     height (16 digits) → encodeBlock
 *   certs      height (16 digits) → encodeCertificate (the certificate this node committed with)
 *   app-meta   'network' → genesis hash hex; 'head' → { height, stateRoot, blockHash, timeMs }
 *   ops-index  the operation index for listings (not consensus state, derived from it):
 *                r/<op>/<id>                            → OperationRecord
 *                a/<order>, o/<op>/<order>,
 *                s/<status>/<order>, os/<op>/<status>/<order> → [op, id]
 *              where <order> = <createdHeight, 16 digits>/<op>/<id>
 *   validations-index  the validation index for listings (derived from the state, like ops-index):
 *                r/<id>                                 → ValidationRecord
 *                i/<chain|->/<status|->/<from|->/<order> → id   (all 8 filter combinations)
 *              where <order> = <createdHeight, 16 digits>/<id> and <from> is the sender as
 *              rate-limited (lower case on EVM chains)
 * A commit writes the block's new trie nodes, the block, its certificate, the index updates
 * and the new head in ONE `db.batch(ops, { sync: true })`: after a crash the node is either
 * at h−1 or at h, never in between, and replaying the commit of h is a no-op.
 *
 * Execution is speculative until commit: proposeBlock and validateBlock execute on a fork of
 * the trie DB whose writes stay in memory; the result is cached by block hash (a few entries)
 * so commitBlock does not execute again. The calls that execute or commit run one at a time.
 */

/**
 * checkTx's verdict. `slot` names what an admitted transaction settles when equivalent ones may
 * exist (the signature of a signing job: any coordinator's will do): a mempool keeps one per slot.
 */
export type TxCheck = { ok: true; hash: string; slot?: string } | { ok: false; code: 'malformed' | 'bad_signature' | 'unknown_signer' | 'invalid'; reason: string }

export interface BlockValidation {
  ok: boolean
  reason?: string
}

export interface GuardianApplicationOptions {
  /** The node's LevelDB (a ClassicLevel<string, unknown>, or a sublevel of one), open. */
  db: AppDb
  genesis: Genesis
  /** The network id every signature is bound to (default: genesis.hash). */
  networkId?: Uint8Array
}

/** Most transaction bytes in one block: leaves room for header and lastCommit in a proposal (1 MiB). */
export const MAX_BLOCK_TX_BYTES = 768 * 1024
/** Speculative executions kept for commit (proposals of different rounds of one height). */
const SPECULATIVE_CACHE_SIZE = 4
/** Transactions whose signature was already checked (mempool → proposal → validation). */
const VERIFIED_CACHE_SIZE = 10_000
const VERIFIED_CERTIFICATES = 64
const MAX_LIST_LIMIT = 1000
const CURSOR = /^\d{16}\/[a-z_]+\/[A-Za-z0-9:._-]+$/
const VALIDATION_CURSOR = /^\d{16}\/[0-9a-f]{64}$/
const VALIDATION_ID = /^[0-9a-f]{64}$/
const ADDRESS = /^[A-Za-z0-9]{1,128}$/

interface Head {
  readonly height: number
  readonly stateRoot: Uint8Array
  readonly blockHash: Uint8Array
  readonly timeMs: number
}

interface SigningCache {
  readonly height: number
  readonly messages: Map<string, Promise<Uint8Array[] | undefined>>
  pending: Promise<Array<{ ref: SigningJobRef; signableAtMs: number }>> | undefined
  pendingLimit: number
}

interface StoredHead {
  height: number
  stateRoot: string
  blockHash: string
  timeMs: number
}

/** The outcome of executing one block on top of a committed head. */
interface Execution {
  readonly height: number
  readonly stateRoot: Uint8Array
  readonly trieOps: readonly SublevelOp[]
  readonly changes: readonly OperationChange[]
  readonly validationChanges: readonly ValidationChange[]
  readonly oracleChanges: readonly OracleEventRecord[]
}

/** classic-level's `sync` (fsync before the batch resolves); sublevels pass it to their parent. */
const SYNC: AbstractBatchOptions<string, unknown> & { sync: boolean } = { sync: true }

type JsonSublevel = AbstractSublevel<AppDb, string | Buffer | Uint8Array, string, unknown>

function heightKey(height: number): string {
  return height.toString().padStart(16, '0')
}

function orderKey(r: OperationRecord): string {
  return `${heightKey(r.createdHeight)}/${r.operation}/${r.operationId}`
}

export class GuardianApplication {
  readonly genesis: Genesis
  private readonly networkId: Uint8Array
  private readonly guardians: GuardianSet
  private readonly params: ExecutionParams
  private readonly genesisTime: number
  private readonly trie: TrieDb
  private readonly blocks: BinarySublevel
  private readonly certs: BinarySublevel
  private readonly meta: JsonSublevel
  private readonly index: JsonSublevel
  private readonly vindex: JsonSublevel
  private readonly oindex: JsonSublevel
  private head: Head
  private readonly speculative = new Map<string, Execution>()
  private readonly verified = new Map<string, VerifiedTx>()
  private readonly verifiedCertificates = new Set<string>()
  private jobsCache: SigningCache = { height: -1, messages: new Map(), pending: undefined, pendingLimit: 0 }
  /** Serialises proposeBlock, validateBlock and commitBlock. */
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor(
    private readonly db: AppDb,
    genesis: Genesis,
    networkId: Uint8Array,
    stores: { trie: TrieDb; blocks: BinarySublevel; certs: BinarySublevel; meta: JsonSublevel; index: JsonSublevel; vindex: JsonSublevel; oindex: JsonSublevel },
    head: Head,
  ) {
    this.genesis = genesis
    this.networkId = networkId
    this.guardians = new GuardianSet(genesis)
    this.params = { genesis, guardians: this.guardians }
    this.genesisTime = genesisTimeMs(genesis)
    this.trie = stores.trie
    this.blocks = stores.blocks
    this.certs = stores.certs
    this.meta = stores.meta
    this.index = stores.index
    this.vindex = stores.vindex
    this.oindex = stores.oindex
    this.head = head
  }

  /** Opens the application on the node's database, writing the genesis state (height 0) if it is empty. */
  static async open(opts: GuardianApplicationOptions): Promise<GuardianApplication> {
    const { db, genesis } = opts
    const networkId = opts.networkId ?? genesis.hash
    const stores = {
      trie: TrieDb.open(db, 'trie'),
      blocks: db.sublevel<string, Uint8Array>('blocks', { valueEncoding: 'view' }),
      certs: db.sublevel<string, Uint8Array>('certs', { valueEncoding: 'view' }),
      meta: db.sublevel<string, unknown>('app-meta', { valueEncoding: 'json' }),
      index: db.sublevel<string, unknown>('ops-index', { valueEncoding: 'json' }),
      vindex: db.sublevel<string, unknown>('validations-index', { valueEncoding: 'json' }),
      oindex: db.sublevel<string, unknown>('oracle-index', { valueEncoding: 'json' }),
    }
    const genesisHex = bytesToHex(genesis.hash)
    const network = await stores.meta.get('network')
    if (network !== undefined && network !== genesisHex) {
      throw new AppError('wrong_network', `application: the database holds the state of network ${String(network)}, not ${genesisHex} (wrong genesis?)`)
    }
    let head: Head
    const stored = await stores.meta.get('head')
    if (stored === undefined) {
      const fork = stores.trie.fork()
      const state = await AppState.at(fork, null)
      state.initGenesis(genesis)
      const root = await state.flush()
      head = { height: 0, stateRoot: root, blockHash: ZERO_HASH, timeMs: genesisTimeMs(genesis) }
      await db.batch(
        [
          ...fork.takeOps(),
          { type: 'put', sublevel: stores.meta, key: 'network', value: genesisHex },
          { type: 'put', sublevel: stores.meta, key: 'head', value: storedHead(head) },
        ],
        SYNC,
      )
    } else {
      head = parseHead(stored)
      const config = await (await AppState.at(stores.trie.fork(), head.stateRoot)).getConfig()
      if (config === undefined) throw new AppError('corrupt_state', `application: no state at root ${bytesToHex(head.stateRoot)} (height ${head.height})`)
      if (!equalBytes(config.networkId, genesis.hash)) throw new AppError('wrong_network', `application: the state belongs to network ${bytesToHex(config.networkId)}, not ${genesisHex}`)
    }
    return new GuardianApplication(db, genesis, networkId, stores, head)
  }

  /** Last committed height (0 = genesis). */
  get height(): number {
    return this.head.height
  }

  /** State root at `height`. */
  get stateRoot(): Uint8Array {
    return this.head.stateRoot
  }

  /** Hash of the header at `height` (ZERO_HASH at 0). */
  get lastBlockHash(): Uint8Array {
    return this.head.blockHash
  }

  /** Block time at `height` (genesis time at 0). */
  get lastBlockTimeMs(): number {
    return this.head.timeMs
  }

  // ─── mempool ───────────────────────────────────────────────────────────────

  /** Checks a transaction (encoded Tx envelope) for the mempool, against the committed state. */
  async checkTx(tx: Uint8Array): Promise<TxCheck> {
    this.assertOpen()
    const result = this.verify(tx)
    if (!result.ok) return { ok: false, code: result.code, reason: result.reason }
    const state = await AppState.at(this.trie.fork(), this.head.stateRoot)
    const reason = await checkTx(state, this.params, result.verified)
    if (reason !== null) return { ok: false, code: 'invalid', reason }
    const verified = result.verified.tx
    if (verified.type === TxType.ThresholdSignature) return { ok: true, hash: result.verified.hash, slot: `signature/${verified.job.kind}/${verified.job.id}` }
    // Every guardian relays what an oracle publishes: one copy per oracle message waits.
    if (verified.type === TxType.OracleMessage) return { ok: true, hash: result.verified.hash, slot: `oracle/${bytesToHex(keccak256(verified.message))}` }
    return { ok: true, hash: result.verified.hash }
  }

  // ─── consensus ─────────────────────────────────────────────────────────────

  /**
   * Builds the block for `height` (= height + 1): the candidates that execute validly, in order
   * (invalid ones and duplicates, also within the block, are skipped), at most `maxTxs` and
   * MAX_BLOCK_TX_BYTES, executed speculatively to fill the state root.
   */
  proposeBlock(opts: { height: number; proposer: number; lastCommit: Certificate | null; candidates: readonly Uint8Array[]; maxTxs?: number }): Promise<Block> {
    return this.exclusive(async () => {
      const head = this.head
      if (opts.height !== head.height + 1) throw new AppError('invalid_argument', `proposeBlock: height ${opts.height}, expected ${head.height + 1}`)
      if (!Number.isInteger(opts.proposer) || opts.proposer < 0 || opts.proposer >= this.guardians.size) {
        throw new AppError('invalid_argument', `proposeBlock: proposer ${opts.proposer} is not a guardian index`)
      }
      const commitProblem = this.checkLastCommit(head, opts.height, opts.lastCommit)
      if (commitProblem !== null) throw new AppError('invalid_argument', `proposeBlock: ${commitProblem}`)
      const maxTxs = Math.max(0, Math.min(opts.maxTxs ?? MAX_BLOCK_TXS, MAX_BLOCK_TXS))
      const timeMs = this.blockTime(head, opts.height, opts.lastCommit)
      const ctx: BlockContext = { height: opts.height, timeMs }

      const fork = this.trie.fork()
      const state = await AppState.at(fork, head.stateRoot)
      await beginBlock(state, this.params, ctx)
      const txs: Uint8Array[] = []
      const seen = new Set<string>()
      let bytes = 0
      for (const candidate of opts.candidates) {
        if (txs.length >= maxTxs) break
        if (candidate.length > MAX_TX_BYTES || bytes + candidate.length > MAX_BLOCK_TX_BYTES) continue
        const result = this.verify(candidate)
        if (!result.ok || seen.has(result.verified.hash)) continue
        if ((await applyTx(state, this.params, ctx, result.verified)) !== null) continue
        seen.add(result.verified.hash)
        txs.push(candidate)
        bytes += candidate.length
      }
      const stateRoot = await state.flush()
      const header: BlockHeader = {
        height: opts.height,
        timeMs,
        proposer: opts.proposer,
        guardianSetIndex: this.guardians.index,
        parentHash: head.blockHash,
        lastCommitHash: opts.lastCommit === null ? ZERO_HASH : certificateHash(opts.lastCommit),
        txRoot: txRoot(txs),
        stateRoot,
      }
      this.remember(blockHash(header), { height: opts.height, stateRoot, trieOps: fork.takeOps(), changes: state.operationChanges(), validationChanges: state.validationChanges(), oracleChanges: state.oracleEventChanges() })
      return { header, txs, lastCommit: opts.lastCommit }
    })
  }

  /** Algorithm 1's valid(v): may this node prevote for `block` at height + 1? */
  validateBlock(block: Block): Promise<BlockValidation> {
    return this.exclusive(async () => {
      const result = await this.validate(block)
      return result.ok ? { ok: true } : { ok: false, reason: result.reason }
    })
  }

  /**
   * Commits `block` with the certificate that decided it: all of it in one synced batch.
   * Committing a height ≤ the current one is a no-op if it is the block already committed
   * there (replay after a crash), an AppError('conflicting_commit') otherwise.
   */
  commitBlock(block: Block, certificate: Certificate): Promise<void> {
    return this.exclusive(async () => {
      try {
        this.verifyCertificateOnce(certificate, block.header.height, blockHash(block.header))
      } catch (err) {
        if (err instanceof ProtocolError) throw new AppError('bad_certificate', `commitBlock: ${err.message}`, { cause: err })
        throw err
      }
      const head = this.head
      const height = block.header.height
      const hash = blockHash(block.header)
      if (height <= head.height) {
        const committed = height === 0 ? undefined : await this.blocks.get(heightKey(height))
        if (committed !== undefined && equalBytes(blockHash(decodeBlock(committed).header), hash)) return
        throw new AppError('conflicting_commit', `commitBlock: another block is committed at height ${height}`)
      }
      if (height !== head.height + 1) throw new AppError('out_of_order', `commitBlock: height ${height}, expected ${head.height + 1}`)

      let execution = this.speculative.get(bytesToHex(hash))
      if (execution === undefined || execution.height !== height) {
        const result = await this.validate(block)
        if (!result.ok) throw new AppError('invalid_block', `commitBlock: certified block ${height} is invalid here: ${result.reason}`)
        execution = result.execution
      }
      const next: Head = { height, stateRoot: execution.stateRoot, blockHash: hash, timeMs: block.header.timeMs }
      const ops: SublevelOp[] = [
        ...execution.trieOps,
        { type: 'put', sublevel: this.blocks, key: heightKey(height), value: encodeBlock(block) },
        { type: 'put', sublevel: this.certs, key: heightKey(height), value: encodeCertificate(certificate) },
        ...this.indexOps(execution.changes),
        ...this.validationIndexOps(execution.validationChanges),
        ...this.oracleIndexOps(execution.oracleChanges),
        { type: 'put', sublevel: this.meta, key: 'head', value: storedHead(next) },
      ]
      await this.db.batch(ops, SYNC)
      this.head = next
      this.speculative.clear()
    })
  }

  // ─── queries ───────────────────────────────────────────────────────────────

  async getBlock(height: number): Promise<{ block: Block; certificate: Certificate } | undefined> {
    this.assertOpen()
    if (!Number.isSafeInteger(height) || height < 1) return undefined
    const [block, cert] = await Promise.all([this.blocks.get(heightKey(height)), this.certs.get(heightKey(height))])
    if (block === undefined || cert === undefined) return undefined
    return { block: decodeBlock(block), certificate: decodeCertificate(cert) }
  }

  /** The committed record of an operation (read from the state trie). */
  async getOperation(operation: Operation, operationId: string): Promise<OperationRecord | undefined> {
    this.assertOpen()
    const state = await AppState.at(this.trie.fork(), this.head.stateRoot)
    const record = await state.getOperation(operation, operationId)
    return record === undefined ? undefined : copyRecord(record)
  }

  /**
   * Committed operations, newest first (by creation height, then operation and id), optionally
   * of one operation type and/or status, from the LevelDB operation index. `cursor` is the
   * `nextCursor` of the previous page; `limit` is capped at 1000.
   */
  async listOperations(opts: { operation?: Operation; status?: OperationStatus; limit: number; cursor?: string }): Promise<{ items: OperationRecord[]; nextCursor: string | null }> {
    this.assertOpen()
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new AppError('invalid_argument', `listOperations: limit must be a positive integer, got ${opts.limit}`)
    if (opts.status !== undefined && !OPERATION_STATUSES.includes(opts.status)) throw new AppError('invalid_argument', `listOperations: unknown status ${String(opts.status)}`)
    if (opts.operation !== undefined && !OPERATIONS.includes(opts.operation)) throw new AppError('invalid_argument', `listOperations: unknown operation ${String(opts.operation)}`)
    if (opts.cursor !== undefined && !CURSOR.test(opts.cursor)) throw new AppError('invalid_argument', 'listOperations: malformed cursor')
    const limit = Math.min(opts.limit, MAX_LIST_LIMIT)
    const prefix = indexPrefix(opts.operation, opts.status)
    const keys = await this.index
      .keys({ gt: prefix, lt: opts.cursor === undefined ? `${prefix}\xff` : `${prefix}${opts.cursor}`, reverse: true, limit: limit + 1 })
      .all()
    const page = keys.slice(0, limit)
    const orders = page.map((key) => key.slice(prefix.length))
    const records = await this.index.getMany(orders.map((order) => `r/${recordKeyOf(order)}`))
    const items = records.map((value, i) => {
      if (value === undefined) throw new AppError('corrupt_state', `ops-index: ${page[i]} has no record`)
      return value as OperationRecord
    })
    return { items, nextCursor: keys.length > limit ? orders[orders.length - 1]! : null }
  }

  /** The committed validation `id` (read from the state trie). */
  async getValidation(id: string): Promise<ValidationRecord | undefined> {
    this.assertOpen()
    if (!VALIDATION_ID.test(id)) return undefined
    const state = await AppState.at(this.trie.fork(), this.head.stateRoot)
    const record = await state.getValidation(id)
    return record === undefined ? undefined : copyValidation(record)
  }

  /**
   * Committed validations, newest first (by creation height, then id), optionally of one chain,
   * status and/or sender (`from`; case-insensitive on EVM chains), from the LevelDB validation
   * index. `cursor` is the `nextCursor` of the previous page; `limit` is capped at 1000.
   */
  async listValidations(opts: { chain?: ChainName; status?: ValidationStatus; from?: string; limit: number; cursor?: string }): Promise<{ items: ValidationRecord[]; nextCursor: string | null }> {
    this.assertOpen()
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new AppError('invalid_argument', `listValidations: limit must be a positive integer, got ${opts.limit}`)
    if (opts.status !== undefined && !VALIDATION_STATUSES.includes(opts.status)) throw new AppError('invalid_argument', `listValidations: unknown status ${String(opts.status)}`)
    if (opts.chain !== undefined && !CHAIN_NAMES.includes(opts.chain)) throw new AppError('invalid_argument', `listValidations: unknown chain ${String(opts.chain)}`)
    if (opts.from !== undefined && !ADDRESS.test(opts.from)) throw new AppError('invalid_argument', 'listValidations: malformed from address')
    if (opts.cursor !== undefined && !VALIDATION_CURSOR.test(opts.cursor)) throw new AppError('invalid_argument', 'listValidations: malformed cursor')
    const limit = Math.min(opts.limit, MAX_LIST_LIMIT)
    // Without a chain, a 0x-hex sender can only be an EVM address: lower-case it as the index does.
    const from = opts.from === undefined ? undefined : opts.chain !== undefined ? senderOf(opts.chain, opts.from).from : /^0x[0-9a-fA-F]{40}$/.test(opts.from) ? opts.from.toLowerCase() : opts.from
    const prefix = validationPrefix(opts.chain, opts.status, from)
    const keys = await this.vindex
      .keys({ gt: prefix, lt: opts.cursor === undefined ? `${prefix}\xff` : `${prefix}${opts.cursor}`, reverse: true, limit: limit + 1 })
      .all()
    const page = keys.slice(0, limit)
    const orders = page.map((key) => key.slice(prefix.length))
    const records = await this.vindex.getMany(orders.map((order) => `r/${order.slice(order.indexOf('/') + 1)}`))
    const items = records.map((value, i) => {
      if (value === undefined) throw new AppError('corrupt_state', `validations-index: ${page[i]} has no record`)
      return value as ValidationRecord
    })
    return { items, nextCursor: keys.length > limit ? orders[orders.length - 1]! : null }
  }

  // ─── oracle events ─────────────────────────────────────────────────────────

  /** The committed oracle event `eventId`, as the API shows it. */
  async getOracleEvent(eventId: string): Promise<OracleEventView | undefined> {
    this.assertOpen()
    const record = await (await this.committedState()).getOracleEvent(oracleEventKey(eventId))
    return record === undefined ? undefined : oracleEventView(record)
  }

  /**
   * Committed oracle events, newest first (by creation height, then key), from the LevelDB
   * oracle index. `cursor` is the `nextCursor` of the previous page; `limit` is capped at 1000.
   */
  async listOracleEvents(opts: { limit: number; cursor?: string }): Promise<{ items: OracleEventView[]; nextCursor: string | null }> {
    this.assertOpen()
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new AppError('invalid_argument', `listOracleEvents: limit must be a positive integer, got ${opts.limit}`)
    if (opts.cursor !== undefined && !VALIDATION_CURSOR.test(opts.cursor)) throw new AppError('invalid_argument', 'listOracleEvents: malformed cursor')
    const limit = Math.min(opts.limit, MAX_LIST_LIMIT)
    const entries = await this.oindex.iterator({ gt: 'o/', lt: opts.cursor === undefined ? 'o/\xff' : `o/${opts.cursor}`, reverse: true, limit: limit + 1 }).all()
    const page = entries.slice(0, limit)
    const views = await this.oindex.getMany(page.map(([, key]) => `r/${String(key)}`))
    const items = views.map((value, i) => {
      if (value === undefined) throw new AppError('corrupt_state', `oracle-index: ${page[i]![0]} has no record`)
      return value as OracleEventView
    })
    return { items, nextCursor: entries.length > limit ? page[page.length - 1]![0].slice('o/'.length) : null }
  }

  // ─── custody ───────────────────────────────────────────────────────────────

  /** The committed reserve key, its address and DKG certificate, once a DKG result is committed. */
  async getReserve(): Promise<ReserveRecord | undefined> {
    this.assertOpen()
    return (await this.committedState()).getReserve()
  }

  /** The committed PSBT `id`. */
  async getPsbt(id: string): Promise<PsbtRecord | undefined> {
    this.assertOpen()
    if (!VALIDATION_ID.test(id)) return undefined
    return (await this.committedState()).getPsbt(id)
  }

  /** What signing job `job` signs according to the committed state; undefined if it does not await a signature. */
  jobMessages(job: SigningJobRef): Promise<Uint8Array[] | undefined> {
    this.assertOpen()
    const cache = this.signingCache()
    const key = `${job.kind}:${job.id}`
    let messages = cache.messages.get(key)
    if (messages === undefined) {
      messages = this.committedState().then((state) => jobMessages(state, job))
      cache.messages.set(key, messages)
    }
    return messages
  }

  /**
   * Jobs awaiting a signature in the committed state: approved PSBTs (approval order) and
   * approved validations (oldest first, from the validation index); at most `limit`. None before
   * the reserve key is committed.
   */
  pendingSigningJobs(limit: number): Promise<Array<{ ref: SigningJobRef; signableAtMs: number }>> {
    this.assertOpen()
    const cache = this.signingCache()
    if (cache.pending === undefined || cache.pendingLimit !== limit) {
      cache.pendingLimit = limit
      cache.pending = this.readPendingSigningJobs(limit)
    }
    return cache.pending
  }

  /**
   * Signing jobs and their messages only change with a commit, while signers and coordinators
   * ask for them many times per block: answers are kept for the committed height.
   */
  private signingCache(): SigningCache {
    if (this.jobsCache.height !== this.head.height) this.jobsCache = { height: this.head.height, messages: new Map(), pending: undefined, pendingLimit: 0 }
    return this.jobsCache
  }

  private async readPendingSigningJobs(limit: number): Promise<Array<{ ref: SigningJobRef; signableAtMs: number }>> {
    const state = await this.committedState()
    const reserve = await state.getReserve()
    if (reserve === undefined) return []
    const jobs: Array<{ ref: SigningJobRef; signableAtMs: number }> = []
    for (const id of await state.getPsbtsAwaiting()) {
      if (jobs.length >= limit) return jobs
      const psbt = await state.getPsbt(id)
      if (psbt?.approvedAtMs != null) jobs.push({ ref: { kind: 'psbt', id }, signableAtMs: signableAt(reserve, psbt.approvedAtMs) })
    }
    // The validation index holds each record as committed: no trie reads per job.
    const prefix = validationPrefix(undefined, 'approved', undefined)
    const ids = await this.vindex.values({ gt: prefix, lt: `${prefix}\xff`, limit: Math.max(0, limit - jobs.length) }).all()
    const records = await this.vindex.getMany(ids.map((id) => `r/${String(id)}`))
    for (const value of records) {
      const record = value as ValidationRecord | undefined
      if (record?.status === 'approved') jobs.push({ ref: { kind: 'validation', id: record.id }, signableAtMs: signableAt(reserve, record.processedAtMs ?? record.createdAtMs) })
    }
    return jobs
  }

  private committedState(): Promise<AppState> {
    return AppState.at(this.trie.fork(), this.head.stateRoot)
  }

  /** Audit entries from `fromSeq` (default 0), in order, from the committed state. */
  async auditLog(opts: { fromSeq?: number; limit: number }): Promise<AuditEntry[]> {
    this.assertOpen()
    const from = opts.fromSeq ?? 0
    if (!Number.isSafeInteger(from) || from < 0) throw new AppError('invalid_argument', `auditLog: fromSeq must be a non-negative integer, got ${from}`)
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new AppError('invalid_argument', `auditLog: limit must be a positive integer, got ${opts.limit}`)
    const state = await AppState.at(this.trie.fork(), this.head.stateRoot)
    const { nextSeq } = await state.getAuditHead()
    const end = Math.min(nextSeq, from + Math.min(opts.limit, MAX_LIST_LIMIT))
    const entries: AuditEntry[] = []
    for (let seq = from; seq < end; seq++) {
      const entry = await state.getAudit(seq)
      if (entry === undefined) throw new AppError('corrupt_state', `state: audit entry ${seq} is missing`)
      entries.push(entry)
    }
    return entries
  }

  /** Waits for running work and stops. Does not close the injected database (the node owns it). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue.catch(() => undefined)
    this.speculative.clear()
    this.verified.clear()
  }

  // ─── internals ─────────────────────────────────────────────────────────────

  private assertOpen(): void {
    if (this.closed) throw new AppError('closed', 'application: closed')
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new AppError('closed', 'application: closed'))
    const run = this.queue.then(() => {
      this.assertOpen()
      return fn()
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  /** verifyTx, with a bounded cache of transactions whose envelope already checked out. */
  private verify(tx: Uint8Array): VerifyResult {
    const key = bytesToHex(txHash(tx))
    const hit = this.verified.get(key)
    if (hit !== undefined) return { ok: true, verified: hit }
    const result = verifyTx(tx, this.networkId, this.guardians)
    if (result.ok) {
      this.verified.set(key, result.verified)
      if (this.verified.size > VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!)
    }
    return result
  }

  /**
   * verifyCertificate, remembering what passed: the certificate that commits height h is checked
   * again as the lastCommit of every proposal for h + 1, and 2f+1 signature checks per height
   * are worth saving.
   */
  private verifyCertificateOnce(cert: Certificate, height: number, hash: Uint8Array): void {
    const key = `${bytesToHex(certificateHash(cert))}/${height}/${bytesToHex(hash)}`
    if (this.verifiedCertificates.has(key)) return
    verifyCertificate(this.networkId, this.guardians, cert, { height, blockHash: hash })
    this.verifiedCertificates.add(key)
    if (this.verifiedCertificates.size > VERIFIED_CERTIFICATES) this.verifiedCertificates.delete(this.verifiedCertificates.values().next().value!)
  }

  /** BFT time of the block at `height` on top of `head` (lastCommit already checked). */
  private blockTime(head: Head, height: number, lastCommit: Certificate | null): number {
    if (height === 1 || lastCommit === null) return this.genesisTime
    return Math.max(medianTime(lastCommit), head.timeMs + 1)
  }

  /** Why `lastCommit` cannot be the last commit of a block at `height` on top of `head`, or null. */
  private checkLastCommit(head: Head, height: number, lastCommit: Certificate | null): string | null {
    if (height === 1) return lastCommit === null ? null : 'a block at height 1 has no lastCommit'
    if (lastCommit === null) return `a block at height ${height} needs the certificate of height ${height - 1}`
    try {
      this.verifyCertificateOnce(lastCommit, height - 1, head.blockHash)
    } catch (err) {
      if (err instanceof ProtocolError) return `lastCommit: ${err.message}`
      throw err
    }
    return null
  }

  private async validate(block: Block): Promise<{ ok: true; execution: Execution } | { ok: false; reason: string }> {
    const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason })
    const head = this.head
    const h = block.header
    if (h.height !== head.height + 1) return fail(`height ${h.height}, expected ${head.height + 1}`)
    if (h.guardianSetIndex !== this.guardians.index) return fail(`guardian set ${h.guardianSetIndex}, expected ${this.guardians.index}`)
    if (!equalBytes(h.parentHash, head.blockHash)) return fail(`parentHash ${bytesToHex(h.parentHash)} is not the block at height ${head.height}`)
    if (!Number.isInteger(h.proposer) || h.proposer < 0 || h.proposer >= this.guardians.size) return fail(`proposer ${h.proposer} is not a guardian index`)
    const commitProblem = this.checkLastCommit(head, h.height, block.lastCommit)
    if (commitProblem !== null) return fail(commitProblem)
    const lastCommitHash = block.lastCommit === null ? ZERO_HASH : certificateHash(block.lastCommit)
    if (!equalBytes(h.lastCommitHash, lastCommitHash)) return fail('lastCommitHash does not match lastCommit')
    const timeMs = this.blockTime(head, h.height, block.lastCommit)
    if (h.timeMs !== timeMs) return fail(`time ${h.timeMs}, expected ${timeMs}`)
    if (block.txs.length > MAX_BLOCK_TXS) return fail(`${block.txs.length} transactions, at most ${MAX_BLOCK_TXS}`)
    let bytes = 0
    for (const tx of block.txs) bytes += tx.length
    if (bytes > MAX_BLOCK_TX_BYTES) return fail(`${bytes} transaction bytes, at most ${MAX_BLOCK_TX_BYTES}`)
    if (!equalBytes(h.txRoot, txRoot(block.txs))) return fail('txRoot does not match the transactions')

    const hash = bytesToHex(blockHash(h))
    const cached = this.speculative.get(hash)
    if (cached !== undefined) return { ok: true, execution: cached }

    const ctx: BlockContext = { height: h.height, timeMs }
    const fork = this.trie.fork()
    const state = await AppState.at(fork, head.stateRoot)
    await beginBlock(state, this.params, ctx)
    for (const [i, tx] of block.txs.entries()) {
      const result = this.verify(tx)
      if (!result.ok) return fail(`tx ${i}: ${result.code}: ${result.reason}`)
      const reason = await applyTx(state, this.params, ctx, result.verified)
      if (reason !== null) return fail(`tx ${i}: invalid: ${reason}`)
    }
    const stateRoot = await state.flush()
    if (!equalBytes(stateRoot, h.stateRoot)) return fail(`stateRoot ${bytesToHex(h.stateRoot)}, execution gives ${bytesToHex(stateRoot)}`)
    const execution: Execution = { height: h.height, stateRoot, trieOps: fork.takeOps(), changes: state.operationChanges(), validationChanges: state.validationChanges(), oracleChanges: state.oracleEventChanges() }
    this.remember(hash, execution)
    return { ok: true, execution }
  }

  private remember(hash: Uint8Array | string, execution: Execution): void {
    const key = typeof hash === 'string' ? hash : bytesToHex(hash)
    this.speculative.delete(key)
    this.speculative.set(key, execution)
    while (this.speculative.size > SPECULATIVE_CACHE_SIZE) this.speculative.delete(this.speculative.keys().next().value!)
  }

  /** Validation index updates for the validations a block changed (status and, while pending, the leading sender may change). */
  private validationIndexOps(changes: readonly ValidationChange[]): SublevelOp[] {
    const ops: SublevelOp[] = []
    for (const { before, after } of changes) {
      ops.push({ type: 'put', sublevel: this.vindex, key: `r/${after.id}`, value: copyValidation(after) })
      const old = new Set(before === undefined ? [] : validationKeys(before))
      const now = new Set(validationKeys(after))
      for (const key of old) if (!now.has(key)) ops.push({ type: 'del', sublevel: this.vindex, key })
      for (const key of now) if (!old.has(key)) ops.push({ type: 'put', sublevel: this.vindex, key, value: after.id })
    }
    return ops
  }

  /** Oracle index updates: each changed event's view, and its place in creation order (written again, unchanged). */
  private oracleIndexOps(changes: readonly OracleEventRecord[]): SublevelOp[] {
    return changes.flatMap((record): SublevelOp[] => [
      { type: 'put', sublevel: this.oindex, key: `r/${record.key}`, value: oracleEventView(record) },
      { type: 'put', sublevel: this.oindex, key: `o/${heightKey(record.createdHeight)}/${record.key}`, value: record.key },
    ])
  }

  /** Operation index updates for the records a block changed. */
  private indexOps(changes: readonly OperationChange[]): SublevelOp[] {
    const ops: SublevelOp[] = []
    const put = (key: string, value: unknown): void => void ops.push({ type: 'put', sublevel: this.index, key, value })
    const del = (key: string): void => void ops.push({ type: 'del', sublevel: this.index, key })
    for (const { before, after } of changes) {
      const order = orderKey(after)
      const ref = [after.operation, after.operationId]
      put(`r/${after.operation}/${after.operationId}`, copyRecord(after))
      if (before === undefined) {
        put(`${indexPrefix(undefined, undefined)}${order}`, ref)
        put(`${indexPrefix(after.operation, undefined)}${order}`, ref)
      } else if (before.status !== after.status) {
        del(`${indexPrefix(undefined, before.status)}${order}`)
        del(`${indexPrefix(before.operation, before.status)}${order}`)
      }
      if (before === undefined || before.status !== after.status) {
        put(`${indexPrefix(undefined, after.status)}${order}`, ref)
        put(`${indexPrefix(after.operation, after.status)}${order}`, ref)
      }
    }
    return ops
  }
}

function validationPrefix(chain: ChainName | undefined, status: ValidationStatus | undefined, from: string | undefined): string {
  return `i/${chain ?? '-'}/${status ?? '-'}/${from ?? '-'}/`
}

/** The index keys of a validation: one per filter combination. */
function validationKeys(r: ValidationRecord): string[] {
  const order = `${heightKey(r.createdHeight)}/${r.id}`
  const from = senderOf(r.chain, r.fromAddress).from
  const keys: string[] = []
  for (const c of [r.chain, undefined]) {
    for (const s of [r.status, undefined]) {
      for (const f of [from, undefined]) keys.push(`${validationPrefix(c, s, f)}${order}`)
    }
  }
  return keys
}

function indexPrefix(operation: Operation | undefined, status: OperationStatus | undefined): string {
  if (operation !== undefined && status !== undefined) return `os/${operation}/${status}/`
  if (operation !== undefined) return `o/${operation}/`
  if (status !== undefined) return `s/${status}/`
  return 'a/'
}

/** `<height>/<op>/<id>` → `<op>/<id>`. */
function recordKeyOf(order: string): string {
  return order.slice(order.indexOf('/') + 1)
}

function storedHead(head: Head): StoredHead {
  return { height: head.height, stateRoot: bytesToHex(head.stateRoot), blockHash: bytesToHex(head.blockHash), timeMs: head.timeMs }
}

function parseHead(value: unknown): Head {
  const v = value as Partial<StoredHead> | null
  const hex32 = (s: unknown): s is string => typeof s === 'string' && /^[0-9a-f]{64}$/.test(s)
  if (
    typeof v !== 'object' ||
    v === null ||
    !Number.isSafeInteger(v.height) ||
    v.height! < 0 ||
    !Number.isSafeInteger(v.timeMs) ||
    !hex32(v.stateRoot) ||
    !hex32(v.blockHash)
  ) {
    throw new AppError('corrupt_state', 'app-meta: head does not decode')
  }
  return { height: v.height!, stateRoot: hexToBytes(v.stateRoot), blockHash: hexToBytes(v.blockHash), timeMs: v.timeMs! }
}
