import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  ConsensusEngine,
  SigningGuard,
  Step,
  type Effect,
  type Evidence,
  type Input,
  type LastSigned,
  type SignedProposal,
  type SignedVote,
  type TimeoutParams,
} from '../../consensus/index.js'
import {
  blockHash,
  decodeEnvelope,
  decodeProposal,
  decodeVote,
  encodeEnvelope,
  encodeProposal,
  encodeRebroadcast,
  encodeVote,
  MAX_REBROADCAST_ENVELOPES,
  MessageKind,
  signEnvelope,
  VoteType,
  type Block,
  type Certificate,
  type Genesis,
  type GuardianInfo,
  type GuardianSet,
  type Proposal,
  type SignedEnvelope,
  type Vote,
} from '../../protocol/index.js'
import { AppError, type GuardianApplication, type TxCheck } from '../app/index.js'
import type { AcceptedMessage, ConsensusMessage, GuardianNetwork } from '../network/index.js'
import { fetchBlocks, serveBlocks, syncProtocol } from '../sync/index.js'
import { ConsensusMetrics } from './metrics.js'
import { Mempool } from './mempool.js'
import type { ConsensusPersistence } from './persistence.js'

export interface ConsensusServiceOptions {
  readonly genesis: Genesis
  readonly guardians: GuardianSet
  readonly self: GuardianInfo
  readonly votePrivateKey: Uint8Array
  readonly app: GuardianApplication
  readonly network: GuardianNetwork
  readonly persistence: ConsensusPersistence
  readonly registry: Registry
  readonly logger: Logger
  readonly timeouts: TimeoutParams
  /** Start a height without transactions after this long (0: only when there are transactions). */
  readonly emptyBlockIntervalMs: number
  /** Re-send this node's consensus messages of the current height this often while it is undecided. */
  readonly rebroadcastIntervalMs?: number
  readonly maxBlockTxs?: number
}

/** checkTx's verdict, or a full mempool, or an equivalent transaction already pending (same slot). */
export type SubmitResult = TxCheck | { readonly ok: false; readonly code: 'mempool_full' | 'duplicate'; readonly reason: string }

/** A committed block, as listeners see it. `latencyMs` is from the start of the height to its decision (null for synced blocks). */
export interface CommitEvent {
  readonly block: Block
  readonly certificate: Certificate
  readonly latencyMs: number | null
}

export type CommitListener = (event: CommitEvent) => void

export interface ConsensusStatus {
  readonly height: number
  readonly round: number
  readonly stateRoot: string
  readonly syncing: boolean
  readonly mempool: number
}

const SYNC_CHECK_MS = 1000
/** A peer one height ahead for this long means we missed the decision: fetch it. */
const BEHIND_GRACE_MS = 3000
const MAX_OWN_ENVELOPES = 16

/**
 * The shell around the pure engine (Malachite's core/effects split): it feeds the engine
 * verified messages and timeouts, one at a time, and performs the effects in order — durable
 * writes before signatures leave the node, signatures through the double-sign guard, decided
 * blocks committed atomically by the application. It also runs the mempool, the start-of-height
 * gate (no busy loop of empty blocks), re-broadcast, and block sync.
 */
export class ConsensusService {
  private engine: ConsensusEngine<Block>
  private guard = new SigningGuard()
  /** This node's signed messages of `ownHeight`, re-sent while the height is undecided. */
  private ownEnvelopes: Uint8Array[] = []
  private ownHeight = 0
  private readonly mempool = new Mempool()
  private readonly metrics: ConsensusMetrics
  private readonly timers = new Set<NodeJS.Timeout>()
  private queue: Promise<void> = Promise.resolve()
  private stopped = false
  private heightStartedAt = 0
  private lastCommitAt = Date.now()
  private lastCommit: Certificate | null = null
  private aheadSince: number | undefined
  private maxSeenHeight = 0
  private syncing = false
  private lastRebroadcastKey = ''
  private readonly syncProtocol: string
  private readonly abort = new AbortController()
  private readonly commitListeners = new Set<CommitListener>()

  constructor(private readonly opts: ConsensusServiceOptions) {
    this.metrics = new ConsensusMetrics(opts.registry)
    this.engine = this.newEngine()
    this.syncProtocol = syncProtocol(opts.genesis.hash)
  }

  /** Why consensus halted on this node, if it did. */
  halted: string | undefined

  get isSyncing(): boolean {
    return this.syncing
  }

  status(): ConsensusStatus {
    return {
      height: this.opts.app.height,
      round: this.engine.round,
      stateRoot: bytesToHex(this.opts.app.stateRoot),
      syncing: this.syncing,
      mempool: this.mempool.size,
    }
  }

  async start(): Promise<void> {
    const { app, persistence, network, logger } = this.opts
    this.metrics.height.set(app.height)
    if (app.height > 0) this.lastCommit = (await app.getBlock(app.height))?.certificate ?? null
    const signed = await persistence.loadSigned()
    if (signed !== undefined) {
      this.guard = new SigningGuard(signed.last)
      if (signed.last.height === app.height + 1) {
        this.ownEnvelopes = [...signed.envelopes]
        this.ownHeight = signed.last.height
      }
    }
    const round = await persistence.loadRoundState()
    await serveBlocks(network, this.syncProtocol, app, logger.child({ module: 'sync' }))
    network.onMessage((m) => this.onGossip(m))
    if (round !== undefined && round.height === app.height + 1) {
      // Restart mid-height: same round, same lock; the guard keeps us from signing anything new there.
      this.engine = new ConsensusEngine<Block>(this.params(), round)
      this.heightStartedAt = Date.now()
      logger.info({ height: round.height, round: round.round, step: round.step }, 'consensus resumed from persisted round state')
      this.enqueue(async () => {
        // Peers never send us our own votes: the engine must count the ones we signed before the crash.
        for (const bytes of this.ownEnvelopes) await this.feedOwn(decodeEnvelope(bytes))
        await this.run(this.engine.resume())
      })
    } else {
      this.scheduleStartGate()
    }
    this.every(SYNC_CHECK_MS, () => void this.checkSync())
    this.every(this.opts.rebroadcastIntervalMs ?? 1000, () => this.rebroadcast())
    logger.info({ height: app.height, stateRoot: bytesToHex(app.stateRoot) }, 'consensus started')
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    await this.queue
  }

  /** Calls `listener` after every committed block (consensus or sync); returns the unsubscribe function. */
  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener)
    return () => this.commitListeners.delete(listener)
  }

  /** Admits a transaction (from the API) into the mempool and gossips it. */
  async submitTx(tx: Uint8Array): Promise<SubmitResult> {
    const check = await this.admit(tx)
    if (check.ok) await this.opts.network.broadcastRaw(MessageKind.Tx, tx)
    return check
  }

  private params() {
    return { n: this.opts.guardians.size, self: this.opts.self.index, timeouts: this.opts.timeouts }
  }

  private newEngine(): ConsensusEngine<Block> {
    return new ConsensusEngine<Block>(this.params())
  }

  private async admit(tx: Uint8Array): Promise<SubmitResult> {
    const check = await this.opts.app.checkTx(tx)
    if (!check.ok) {
      this.metrics.txsRejected.inc({ code: check.code })
      return check
    }
    const added = this.mempool.add(check.hash, tx, check.slot)
    if (added === 'full') return { ok: false, code: 'mempool_full', reason: 'mempool is full, retry later' }
    if (added === 'slot_taken') {
      this.metrics.txsRejected.inc({ code: 'duplicate' })
      return { ok: false, code: 'duplicate', reason: `an equivalent transaction (${check.slot ?? ''}) is already pending` }
    }
    this.metrics.mempoolSize.set(this.mempool.size)
    this.maybeStartHeight()
    return check
  }

  // ---- inputs ---------------------------------------------------------------------------

  private onGossip(m: AcceptedMessage): void {
    if (this.stopped) return
    switch (m.message.kind) {
      case MessageKind.Tx:
        void this.admit(m.message.bytes).catch((err: unknown) => this.opts.logger.warn({ err }, 'cannot admit gossiped transaction'))
        return
      case MessageKind.Proposal:
      case MessageKind.Vote:
        this.onConsensusMessage(m.message)
        return
      case MessageKind.Rebroadcast:
        for (const inner of m.message.messages) this.onConsensusMessage(inner)
        return
      default:
        return
    }
  }

  private onConsensusMessage(message: ConsensusMessage): void {
    const height = message.kind === MessageKind.Proposal ? message.proposal.height : message.vote.height
    this.maxSeenHeight = Math.max(this.maxSeenHeight, height)
    if (height <= this.opts.app.height) return
    if (height === this.opts.app.height + 1) this.maybeStartHeight(true)
    if (height > this.opts.app.height + 1) return // too far ahead to use: block sync catches up
    this.enqueue(async () => {
      if (message.kind === MessageKind.Vote) {
        await this.input({ type: 'vote', vote: toSignedVote(message.vote, message.envelope) })
        return
      }
      const { proposal, envelope } = message
      // Validation needs the parent state: only the next height can be judged.
      if (proposal.height !== this.opts.app.height + 1) return
      const validation = await this.opts.app.validateBlock(proposal.block)
      if (!validation.ok) this.opts.logger.warn({ height: proposal.height, round: proposal.round, proposer: envelope.signer, reason: validation.reason }, 'invalid proposal')
      await this.input({
        type: 'proposal',
        valid: validation.ok,
        proposal: toSignedProposal(proposal, envelope),
      })
    })
  }

  private async feedOwn(envelope: SignedEnvelope): Promise<void> {
    if (envelope.kind === MessageKind.Vote) {
      await this.input({ type: 'vote', vote: toSignedVote(decodeVote(envelope.payload), envelope) })
      return
    }
    const proposal = decodeProposal(envelope.payload)
    await this.input({
      type: 'proposal',
      valid: (await this.opts.app.validateBlock(proposal.block)).ok,
      proposal: toSignedProposal(proposal, envelope),
    })
  }

  /** Runs `task` after everything queued before it: the engine sees one input at a time. */
  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.stopped) return
      try {
        await task()
      } catch (err) {
        this.opts.logger.error({ err }, 'consensus step failed')
      }
    })
  }

  /**
   * Hands `input` to the engine and performs the effects. Inputs that effects produce (our own
   * value, proposal and votes, fed back) wait in `followUps` until the current effect list is
   * done: handled inline, a nested step's newer round state would be written before the outer
   * list's older one, and the disk could end up without the lock (amnesia).
   */
  private async input(input: Input<Block>): Promise<void> {
    await this.run(this.engine.handle(input))
  }

  private async run(effects: readonly Effect<Block>[]): Promise<void> {
    const followUps: Input<Block>[] = []
    await this.perform(effects, followUps)
    while (followUps.length > 0 && !this.stopped) await this.perform(this.engine.handle(followUps.shift()!), followUps)
  }

  // ---- effects --------------------------------------------------------------------------

  private async perform(effects: readonly Effect<Block>[], followUps: Input<Block>[]): Promise<void> {
    for (const effect of effects) {
      if (this.stopped) return
      switch (effect.type) {
        case 'persist':
          await this.opts.persistence.saveRoundState(effect.state)
          break
        case 'build_value': {
          const block = await this.opts.app.proposeBlock({
            height: effect.height,
            proposer: this.opts.self.index,
            lastCommit: this.lastCommit,
            candidates: this.mempool.candidates(this.opts.maxBlockTxs ?? 500),
          })
          followUps.push({ type: 'value', height: effect.height, round: effect.round, valueId: bytesToHex(blockHash(block.header)), value: block })
          break
        }
        case 'sign_proposal': {
          const { proposal } = effect
          const envelope = await this.sign({ height: proposal.height, round: proposal.round, step: 1, valueId: proposal.valueId }, MessageKind.Proposal, () =>
            encodeProposal({ height: proposal.height, round: proposal.round, polRound: proposal.polRound, block: proposal.value }),
          )
          if (envelope === undefined) break
          followUps.push({ type: 'proposal', valid: true, proposal: { ...proposal, signer: envelope.signer, signature: envelope.signature } })
          break
        }
        case 'sign_vote': {
          const { vote } = effect
          const type = vote.kind === 'prevote' ? VoteType.Prevote : VoteType.Precommit
          const envelope = await this.sign({ height: vote.height, round: vote.round, step: type === VoteType.Prevote ? 2 : 3, valueId: vote.valueId }, MessageKind.Vote, () =>
            encodeVote({
              type,
              height: vote.height,
              round: vote.round,
              blockHash: vote.valueId === null ? null : hexToBytes(vote.valueId),
              // BFT time: our clock, but never at or before the last block's time.
              timestampMs: type === VoteType.Precommit ? Math.max(Date.now(), this.opts.app.lastBlockTimeMs + 1) : 0,
            }),
          )
          if (envelope === undefined) break
          followUps.push({ type: 'vote', vote: toSignedVote(decodeVote(envelope.payload), envelope) })
          break
        }
        case 'schedule_timeout': {
          const { kind, height, round, durationMs } = effect
          this.after(durationMs, () => this.enqueue(() => this.input({ type: 'timeout', kind, height, round })))
          break
        }
        case 'decide':
          await this.commit(effect.value, effect.round, effect.commit)
          break
        case 'evidence':
          this.metrics.evidence.inc({ type: effect.evidence.type })
          this.opts.logger.warn({ evidence: describeEvidence(effect.evidence) }, 'equivocation detected: evidence kept in the log')
          break
        case 'new_round':
          this.metrics.round.set(effect.round)
          if (effect.round > 0) this.opts.logger.info({ height: effect.height, round: effect.round }, 'new round')
          break
      }
    }
  }

  /**
   * Signs through the double-sign guard: durably records what is signed (with the envelope,
   * so a re-send is byte-identical) before it is broadcast. Returns undefined when refused.
   */
  private async sign(what: LastSigned, kind: MessageKind.Proposal | MessageKind.Vote, payload: () => Uint8Array): Promise<SignedEnvelope | undefined> {
    const verdict = this.guard.check(what)
    if (verdict === 'refuse') {
      this.metrics.signingRefused.inc()
      this.opts.logger.warn({ what, last: this.guard.last }, 'refused to sign: conflicts with what this guardian signed before')
      return undefined
    }
    let bytes: Uint8Array
    if (verdict === 'resign') {
      const previous = this.ownEnvelopes.at(-1)
      if (previous === undefined) return undefined
      bytes = previous
    } else {
      const { genesis, self, votePrivateKey } = this.opts
      const envelope = signEnvelope(genesis.hash, kind, genesis.guardianSetIndex, self.index, payload(), votePrivateKey)
      bytes = encodeEnvelope(envelope)
      this.guard.record(what)
      if (what.height !== this.ownHeight) this.ownEnvelopes = []
      this.ownHeight = what.height
      this.ownEnvelopes = [...this.ownEnvelopes, bytes].slice(-MAX_OWN_ENVELOPES)
      await this.opts.persistence.saveSigned({ last: what, envelopes: this.ownEnvelopes })
    }
    await this.opts.network.broadcastRaw(kind, bytes)
    return decodeEnvelope(bytes)
  }

  private async commit(block: Block, round: number, commit: readonly SignedVote[]): Promise<void> {
    const { logger } = this.opts
    const certificate: Certificate = {
      height: block.header.height,
      round,
      blockHash: blockHash(block.header),
      signatures: [...commit].sort((a, b) => a.signer - b.signer).map((v) => ({ signer: v.signer, timestampMs: v.timestampMs, signature: v.signature })),
    }
    await this.commitOrHalt(block, certificate)
    const latencyMs = Date.now() - this.heightStartedAt
    this.afterCommit(block, certificate, latencyMs)
    this.metrics.commits.inc()
    this.metrics.commitLatency.observe(latencyMs / 1000)
    logger.info({ height: block.header.height, round, txs: block.txs.length, stateRoot: bytesToHex(block.header.stateRoot) }, 'block committed')
  }

  /**
   * A block certified by a quorum that executes to another state root means this node's state
   * machine diverged from the network: going on would serve wrong state, so consensus halts.
   */
  private async commitOrHalt(block: Block, certificate: Certificate): Promise<void> {
    try {
      await this.opts.app.commitBlock(block, certificate)
    } catch (err) {
      if (err instanceof AppError && err.code === 'invalid_block') {
        this.halted = err.message
        this.stopped = true
        this.opts.logger.fatal({ err, height: block.header.height }, 'state diverged from the network: consensus halted on this node; investigate, then resync its data dir')
      }
      throw err
    }
  }

  private afterCommit(block: Block, certificate: Certificate, latencyMs: number | null): void {
    this.lastCommit = certificate
    this.lastCommitAt = Date.now()
    this.mempool.removeCommitted(block.txs)
    this.metrics.height.set(this.opts.app.height)
    this.metrics.committedTxs.inc(block.txs.length)
    this.recheckMempool()
    this.scheduleStartGate()
    for (const listener of this.commitListeners) {
      try {
        listener({ block, certificate, latencyMs })
      } catch (err) {
        this.opts.logger.error({ err }, 'commit listener failed')
      }
    }
  }

  private rechecking = false

  /**
   * Drops mempool transactions the new state made invalid (e.g. votes on a decided operation).
   * One pass at a time: passes that overlap only repeat work, and the proposer skips invalid
   * candidates anyway.
   */
  private recheckMempool(): void {
    if (this.rechecking || this.mempool.size === 0) return
    this.rechecking = true
    void this.mempool
      .recheck(async (tx) => this.stopped || (await this.opts.app.checkTx(tx)).ok)
      .catch((err: unknown) => this.opts.logger.warn({ err }, 'mempool recheck failed'))
      .finally(() => {
        this.rechecking = false
        this.metrics.mempoolSize.set(this.mempool.size)
      })
  }

  // ---- start-of-height gate -------------------------------------------------------------

  private gateTimer: NodeJS.Timeout | undefined

  /** After a commit, the next height starts when there is work, a peer started it, or the empty-block interval passed. */
  private scheduleStartGate(): void {
    clearTimeout(this.gateTimer)
    this.gateTimer = undefined
    if (this.mempool.size > 0) return this.maybeStartHeight()
    const interval = this.opts.emptyBlockIntervalMs
    if (interval > 0) this.gateTimer = this.after(Math.max(0, this.lastCommitAt + interval - Date.now()), () => this.maybeStartHeight(true))
  }

  private maybeStartHeight(force = false): void {
    const next = this.opts.app.height + 1
    const idle = this.engine.height < next || this.engine.step === Step.Commit
    if (!idle || this.syncing) return
    if (!force && this.mempool.size === 0) return
    clearTimeout(this.gateTimer)
    this.enqueue(async () => {
      if (this.engine.height >= this.opts.app.height + 1 && this.engine.step !== Step.Commit) return
      this.heightStartedAt = Date.now()
      await this.input({ type: 'start_height', height: this.opts.app.height + 1 })
    })
  }

  // ---- re-broadcast and sync -----------------------------------------------------------

  private rebroadcast(): void {
    const key = `${this.engine.height}/${this.engine.round}/${this.engine.step}`
    const stuck = key === this.lastRebroadcastKey
    this.lastRebroadcastKey = key
    if (!stuck || this.engine.height !== this.opts.app.height + 1) return
    const own = this.ownHeight === this.engine.height ? this.ownEnvelopes : []
    // The prevotes behind our lock: peers that lost them in a crash could never follow it otherwise.
    const pol = this.engine.roundState().polVotes.filter((v) => v.signer !== this.opts.self.index).map((v) => this.voteEnvelope(v))
    const envelopes = [...own, ...pol].slice(0, MAX_REBROADCAST_ENVELOPES)
    if (envelopes.length === 0) return
    void this.opts.network.broadcast(MessageKind.Rebroadcast, encodeRebroadcast({ timestampMs: Date.now(), envelopes }))
  }

  /** The envelope a guardian signed for `vote` (votes are canonical, so it is byte-identical). */
  private voteEnvelope(vote: SignedVote): Uint8Array {
    const payload = encodeVote({
      type: vote.kind === 'prevote' ? VoteType.Prevote : VoteType.Precommit,
      height: vote.height,
      round: vote.round,
      blockHash: vote.valueId === null ? null : hexToBytes(vote.valueId),
      timestampMs: vote.timestampMs,
    })
    return encodeEnvelope({ kind: MessageKind.Vote, guardianSetIndex: this.opts.genesis.guardianSetIndex, signer: vote.signer, payload, signature: vote.signature })
  }

  private async checkSync(): Promise<void> {
    if (this.stopped || this.syncing) return
    const { app, network } = this.opts
    const peers = network.peerStates().filter((p) => p.connected && p.lastHeartbeat !== undefined)
    const best = peers.reduce<{ peerId: string; height: number } | undefined>((acc, p) => {
      const height = Number(p.lastHeartbeat!.height)
      return acc === undefined || height > acc.height ? { peerId: p.guardian.peerId, height } : acc
    }, undefined)
    const target = Math.max(best?.height ?? 0, this.maxSeenHeight - 1)
    if (best === undefined || target <= app.height) {
      this.aheadSince = undefined
      return
    }
    this.aheadSince ??= Date.now()
    if (target < app.height + 2 && Date.now() - this.aheadSince < BEHIND_GRACE_MS) return
    this.syncing = true
    try {
      while (!this.stopped) {
        const fetched = await fetchBlocks(network, this.syncProtocol, best.peerId, app.height + 1, this.abort.signal)
        if (fetched.blocks.length === 0) break
        let applied = 0
        await new Promise<void>((resolve, reject) => {
          this.enqueue(async () => {
            try {
              for (const { block, certificate } of fetched.blocks) {
                if (block.header.height !== app.height + 1) continue
                await this.commitOrHalt(block, certificate)
                this.afterCommit(block, certificate, null)
                applied++
              }
              if (applied > 0) this.engine = this.newEngine()
              resolve()
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)))
            }
          })
        })
        this.metrics.syncedBlocks.inc(applied)
        this.opts.logger.info({ applied, height: app.height, peerHeight: fetched.peerHeight }, 'synced blocks')
        if (applied === 0 || app.height >= fetched.peerHeight) break
      }
    } catch (err) {
      this.metrics.syncFailures.inc()
      this.opts.logger.warn({ err, peer: best.peerId }, 'block sync failed')
    } finally {
      this.syncing = false
      this.aheadSince = undefined
    }
    this.scheduleStartGate()
  }

  // ---- timers ---------------------------------------------------------------------------

  private after(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.stopped) fn()
    }, ms)
    this.timers.add(timer)
    return timer
  }

  private every(ms: number, fn: () => void): void {
    const tick = (): void => {
      fn()
      this.after(ms, tick)
    }
    this.after(ms, tick)
  }
}

function toSignedVote(vote: Vote, envelope: SignedEnvelope): SignedVote {
  return {
    kind: vote.type === VoteType.Prevote ? 'prevote' : 'precommit',
    height: vote.height,
    round: vote.round,
    valueId: vote.blockHash === null ? null : bytesToHex(vote.blockHash),
    signer: envelope.signer,
    timestampMs: vote.timestampMs,
    signature: envelope.signature,
  }
}

function toSignedProposal(proposal: Proposal, envelope: SignedEnvelope): SignedProposal<Block> {
  return {
    height: proposal.height,
    round: proposal.round,
    polRound: proposal.polRound,
    valueId: bytesToHex(blockHash(proposal.block.header)),
    value: proposal.block,
    signer: envelope.signer,
    signature: envelope.signature,
  }
}

function describeEvidence(evidence: Evidence): Record<string, unknown> {
  if (evidence.type === 'duplicate_proposal') return { ...evidence }
  const vote = (v: SignedVote) => ({ kind: v.kind, height: v.height, round: v.round, valueId: v.valueId, signer: v.signer, signature: bytesToHex(v.signature) })
  return { type: evidence.type, first: vote(evidence.first), second: vote(evidence.second) }
}
