import {
  thresholds,
  type Effect,
  type EngineParams,
  type Input,
  type LastSigned,
  type PersistedRoundState,
  type SignDecision,
  type SignedVote,
  type Step,
  type TimeoutParams,
} from '../index.js'
import { blockId, SimChain, type SimBlock } from './app.js'
import type { SimClock } from './clock.js'
import type { SimKeys } from './crypto.js'
import type { Invariants } from './invariants.js'
import {
  heightOf,
  messageKey,
  shortId,
  type BlocksMsg,
  type ConsensusMsg,
  type StatusMsg,
  type SyncedBlock,
  type SyncRequestMsg,
  type WireMessage,
} from './messages.js'
import type { SimNetwork } from './network.js'
import type { Prng } from './prng.js'

/** What the shell needs of the engine (ConsensusEngine, or a deliberately broken subclass). */
export interface EngineLike {
  handle(input: Input<SimBlock>): Effect<SimBlock>[]
  resume(): Effect<SimBlock>[]
  readonly height: number
  readonly round: number
  readonly step: Step
}

export interface GuardLike {
  check(msg: LastSigned): SignDecision
  record(msg: LastSigned): void
  readonly last: LastSigned | undefined
}

export type EngineFactory = (params: EngineParams, restored?: PersistedRoundState<SimBlock>) => EngineLike
export type GuardFactory = (last?: LastSigned) => GuardLike

export interface RunStats {
  commits: number
  syncedBlocks: number
  crashes: number
  restarts: number
  guardRefusals: number
  evidence: number
  badMessages: number
  maxRound: number
}

/** The shared simulation a node lives in. */
export interface World {
  readonly n: number
  readonly clock: SimClock
  readonly network: SimNetwork<WireMessage>
  readonly keys: SimKeys
  readonly invariants: Invariants
  readonly timeouts: TimeoutParams
  readonly gossipIntervalMs: number
  readonly makeEngine: EngineFactory
  readonly makeGuard: GuardFactory
  readonly stats: RunStats
  /** Set when tracing. */
  readonly trace: ((line: string) => void) | undefined
}

/** A Byzantine twist on how a node sends what it signed (byzantine.ts). */
export interface Behaviour {
  readonly name: string
  sendOwn(node: SimNode, msg: ConsensusMsg): void
}

/** Where the node crashes on its own: right after a durable write, before the message it covers leaves. */
export type CrashPoint = 'after_persist' | 'after_sign'

/** Narrows an armed crash to writes at this height and/or step (the round state's Step for a persist, 1-3 for a signature). */
export interface CrashFilter {
  readonly height?: number
  readonly step?: number
}

/** What survives a crash. */
export interface Disk {
  roundState: PersistedRoundState<SimBlock> | undefined
  /** The guard's last signed, with this node's signed messages of that height (re-sent identically). */
  signed: { readonly last: LastSigned; readonly msgs: readonly ConsensusMsg[] } | undefined
  readonly chain: SimChain
  /** Commit certificate per committed height (index height − 1). */
  readonly certificates: SignedVote[][]
}

export interface NodeOptions {
  /** Instance id on the network. */
  readonly id: number
  /** Validator index (Twins share one). */
  readonly index: number
  readonly honest: boolean
  readonly prng: Prng
  readonly behaviour?: Behaviour
  /** False for the "amnesia" mutant: `persist` effects are not written, so a restart forgets the lock. */
  readonly persistRoundState?: boolean
  /** False: a restarted node re-sends its stored own messages but does not feed them to its new engine. */
  readonly replayOwnOnRestart?: boolean
}

const MAX_OWN_MESSAGES = 16
const MAX_NEXT_HEIGHT_BUFFER = 256
const MAX_SYNC_BLOCKS = 16
/** One height behind for this long (with nobody deciding it for us): fetch it. Like the real node. */
const BEHIND_GRACE_MS = 3000

/**
 * The simulation shell around one engine. It performs the effects the way the real node does:
 * `persist` is written to the node's "disk" before anything after it; a signature goes through
 * the signing guard, is recorded durably (with the message), then broadcast, then fed back to
 * the engine; decisions are applied and certified, then the next height starts. Proposals are
 * judged by the application before they become inputs. A crash loses everything but the disk;
 * a restart rebuilds the engine from the persisted round state and calls `resume()`.
 */
export class SimNode {
  readonly id: number
  readonly index: number
  readonly honest: boolean
  readonly prng: Prng
  readonly disk: Disk
  private readonly behaviour: Behaviour | undefined
  private readonly persistRoundState: boolean
  private readonly replayOwnOnRestart: boolean

  private up = false
  /** Bumped on crash and restart; timers of an older incarnation do nothing. */
  private incarnation = 0
  private engineRef: EngineLike | undefined
  private guard: GuardLike | undefined
  private queue: Input<SimBlock>[] = []
  private draining = false
  /** Consensus messages of the height being decided (own and received), by key. */
  private store = new Map<string, ConsensusMsg>()
  private nextHeightBuffer: ConsensusMsg[] = []
  private lastProgressKey = ''
  private peerHeights = new Map<number, { readonly height: number; readonly at: number }>()
  private maxSeenHeight = 0
  private behindSince: number | undefined
  private lastSyncRequestAt = -Infinity
  private crashPoint: { readonly point: CrashPoint; readonly filter: CrashFilter; readonly then: () => void } | undefined

  constructor(
    private readonly world: World,
    opts: NodeOptions,
  ) {
    this.id = opts.id
    this.index = opts.index
    this.honest = opts.honest
    this.prng = opts.prng
    this.behaviour = opts.behaviour
    this.persistRoundState = opts.persistRoundState ?? true
    this.replayOwnOnRestart = opts.replayOwnOnRestart ?? true
    this.disk = { roundState: undefined, signed: undefined, chain: new SimChain(), certificates: [] }
    world.network.attach(this.id, (from, msg) => this.receive(from, msg))
  }

  get isUp(): boolean {
    return this.up
  }

  get chain(): SimChain {
    return this.disk.chain
  }

  get engine(): EngineLike | undefined {
    return this.engineRef
  }

  /** Consensus messages this node holds for the height it is deciding. */
  messages(): Iterable<ConsensusMsg> {
    return this.store.values()
  }

  /** First boot. */
  start(): void {
    this.up = true
    this.incarnation++
    this.guard = this.world.makeGuard()
    this.engineRef = this.guarded(() => this.world.makeEngine(this.params()))
    if (this.engineRef === undefined) return
    this.log('start')
    this.enqueue({ type: 'start_height', height: 1 })
    this.startTicks()
  }

  /** Loses all in-memory state and pending timers; the disk stays. */
  crash(reason = 'crash'): void {
    if (!this.up) return
    this.up = false
    this.incarnation++
    this.engineRef = undefined
    this.guard = undefined
    this.queue = []
    this.store = new Map()
    this.nextHeightBuffer = []
    this.peerHeights = new Map()
    this.maxSeenHeight = 0
    this.behindSince = undefined
    this.lastSyncRequestAt = -Infinity
    this.lastProgressKey = ''
    this.crashPoint = undefined
    this.world.stats.crashes++
    this.log(`${reason} (disk: h${this.chain.height}, round state ${describeRoundState(this.disk.roundState)}, last signed ${describeLast(this.disk.signed?.last)})`)
  }

  /** Comes back from the disk: committed chain, guard with its messages, round state. */
  restart(): void {
    if (this.up) return
    this.up = true
    this.incarnation++
    this.world.stats.restarts++
    const next = this.chain.height + 1
    this.guard = this.world.makeGuard(this.disk.signed?.last)
    const restored = this.disk.roundState
    if (restored !== undefined && restored.height === next) {
      this.log(`restart from round state ${describeRoundState(restored)}`)
      const engine = this.guarded(() => this.world.makeEngine(this.params(), restored))
      if (engine === undefined) return
      this.engineRef = engine
      // As the node shell: first the engine counts our own stored messages, then resume() signs
      // only what is missing; the proof of our lock is relayed like any message we hold.
      this.restoreOwnMessages(next)
      for (const vote of restored.polVotes) this.store.set(messageKey({ type: 'vote', vote }), { type: 'vote', vote })
      this.drain()
      if (!this.up) return
      this.perform(this.guarded(() => engine.resume()) ?? [])
    } else {
      this.log(`restart at height ${next} with a fresh engine`)
      this.engineRef = this.guarded(() => this.world.makeEngine(this.params()))
      if (this.engineRef === undefined) return
      this.queue.push({ type: 'start_height', height: next })
      this.restoreOwnMessages(next)
    }
    this.drain()
    if (this.up) this.startTicks()
  }

  /** This node's own signed messages of the height come back from the disk: to the engine, which counts them like anyone's (a POL may need them), and to the store, to be re-sent. */
  private restoreOwnMessages(height: number): void {
    if (this.disk.signed === undefined || this.disk.signed.last.height !== height) return
    for (const msg of this.disk.signed.msgs) {
      if (this.replayOwnOnRestart) this.onConsensus(msg)
      else this.store.set(messageKey(msg), msg)
    }
  }

  /** Crash on the next durable write of kind `point`, before anything after it (the broadcast). */
  armCrash(point: CrashPoint, then: () => void, filter: CrashFilter = {}): void {
    if (this.up) this.crashPoint = { point, filter, then }
  }

  disarmCrash(): void {
    this.crashPoint = undefined
  }

  /** Sends a message this node signed to one peer (for Byzantine behaviours). */
  sendTo(peer: number, msg: ConsensusMsg): void {
    this.world.network.send(this.id, peer, msg)
  }

  peers(): number[] {
    return this.world.network.peers(this.id)
  }

  // ---- the effect loop --------------------------------------------------------------------

  private params(): EngineParams {
    return { n: this.world.n, self: this.index, timeouts: this.world.timeouts }
  }

  private enqueue(input: Input<SimBlock>): void {
    this.queue.push(input)
    this.drain()
  }

  /** Feeds queued inputs one at a time, performing each one's effects before the next. */
  private drain(): void {
    if (this.draining) return
    this.draining = true
    try {
      while (this.up && this.queue.length > 0) {
        const input = this.queue.shift()!
        const engine = this.engineRef
        if (engine === undefined) return
        const effects = this.guarded(() => engine.handle(input))
        if (effects === undefined) return
        this.perform(effects)
      }
    } finally {
      this.draining = false
    }
  }

  /** Runs engine code; an exception is an engine failure (a violation for an honest node). */
  private guarded<T>(fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      if (this.honest) this.world.invariants.onEngineError(this, err)
      this.log(`engine threw: ${String(err)}`)
      this.crash('engine failure')
      return undefined
    }
  }

  private perform(effects: readonly Effect<SimBlock>[]): void {
    for (const effect of effects) {
      if (!this.up) return
      switch (effect.type) {
        case 'persist':
          if (this.persistRoundState) this.disk.roundState = effect.state
          if (this.crashDue('after_persist', effect.state.height, effect.state.step)) return this.crashHere('crash after persist')
          break
        case 'build_value': {
          if (effect.height !== this.chain.height + 1) {
            this.contractError(`asked to build a value for height ${effect.height} at committed height ${this.chain.height}`)
            return
          }
          const value = this.chain.build(this.index, this.prng)
          this.queue.push({ type: 'value', height: effect.height, round: effect.round, valueId: blockId(value), value })
          break
        }
        case 'sign_proposal': {
          const p = effect.proposal
          this.sign({ height: p.height, round: p.round, step: 1, valueId: p.valueId }, () => ({
            type: 'proposal',
            proposal: this.world.keys.signProposal(this.index, p),
          }))
          break
        }
        case 'sign_vote': {
          const v = effect.vote
          this.sign({ height: v.height, round: v.round, step: v.kind === 'prevote' ? 2 : 3, valueId: v.valueId }, () => ({
            type: 'vote',
            vote: this.world.keys.signVote(this.index, v, v.kind === 'precommit' ? this.world.clock.now : 0),
          }))
          break
        }
        case 'schedule_timeout': {
          const { kind, height, round, durationMs } = effect
          const incarnation = this.incarnation
          this.world.clock.schedule(durationMs, () => `n${this.id} timeout ${kind} h${height} r${round}`, () => {
            if (this.incarnation === incarnation) this.enqueue({ type: 'timeout', kind, height, round })
          })
          break
        }
        case 'decide':
          this.decide(effect)
          break
        case 'evidence':
          this.world.stats.evidence++
          if (this.world.trace !== undefined) {
            const e = effect.evidence
            this.log(e.type === 'duplicate_vote' ? `evidence: ${e.first.kind}s of ${e.first.signer} r${e.first.round}` : `evidence: proposals of ${e.signer} r${e.round}`)
          }
          break
        case 'new_round':
          if (effect.round > this.world.stats.maxRound) this.world.stats.maxRound = effect.round
          if (effect.round > 0) this.log(`round ${effect.round} of h${effect.height}`)
          break
      }
    }
  }

  /** Guard → sign → durable record → (crash point) → broadcast → feed back. */
  private sign(what: LastSigned, make: () => ConsensusMsg): void {
    const guard = this.guard!
    const verdict = guard.check(what)
    if (verdict === 'refuse') {
      this.world.stats.guardRefusals++
      this.log(`guard refused ${describeLast(what)} after ${describeLast(guard.last)}`)
      return
    }
    let msg: ConsensusMsg
    if (verdict === 'resign') {
      const previous = this.disk.signed?.msgs.at(-1)
      if (previous === undefined) return
      msg = previous
    } else {
      msg = make()
      guard.record(what)
      const kept = this.disk.signed !== undefined && this.disk.signed.last.height === what.height ? this.disk.signed.msgs : []
      this.disk.signed = { last: guard.last ?? what, msgs: [...kept, msg].slice(-MAX_OWN_MESSAGES) }
      this.world.invariants.onSigned(this.index, msg)
      if (this.crashDue('after_sign', what.height, what.step)) return this.crashHere('crash after signing, before sending')
    }
    this.store.set(messageKey(msg), msg)
    if (this.behaviour !== undefined) this.behaviour.sendOwn(this, msg)
    else this.world.network.broadcast(this.id, msg)
    this.queue.push(msg.type === 'proposal' ? { type: 'proposal', proposal: msg.proposal, valid: true } : { type: 'vote', vote: msg.vote })
  }

  private crashDue(point: CrashPoint, height: number, step: number): boolean {
    const armed = this.crashPoint
    if (armed === undefined || armed.point !== point) return false
    return (armed.filter.height === undefined || armed.filter.height === height) && (armed.filter.step === undefined || armed.filter.step === step)
  }

  private crashHere(reason: string): void {
    const then = this.crashPoint?.then
    this.crash(reason)
    then?.()
  }

  private contractError(what: string): void {
    if (this.honest) this.world.invariants.fail('engine_error', `node ${this.id} (validator ${this.index}): the engine ${what}`)
    this.crash('engine contract broken')
  }

  private decide(effect: Extract<Effect<SimBlock>, { type: 'decide' }>): void {
    const { height, round, valueId, value, commit } = effect
    if (height !== this.chain.height + 1) {
      this.contractError(`decided height ${height} at committed height ${this.chain.height}`)
      return
    }
    if (blockId(value) !== valueId) {
      this.contractError(`decided value id ${shortId(valueId)} for a value whose id is ${shortId(blockId(value))}`)
      return
    }
    const valid = this.chain.validNext(value)
    if (!valid && this.honest) this.world.invariants.fail('validity', `node ${this.id} decided ${shortId(valueId)} at height ${height}, an invalid value`)
    if (!valid) return
    this.commit({ height, round, valueId, value, commit: [...commit] }, 'decide')
  }

  private commit(block: SyncedBlock, how: 'decide' | 'sync'): void {
    const entry = this.chain.apply(block.round, block.valueId, block.value)
    this.disk.certificates.push([...block.commit])
    if (how === 'decide') this.world.stats.commits++
    else this.world.stats.syncedBlocks++
    this.log(`${how === 'decide' ? 'decided' : 'synced'} h${block.height} r${block.round} ${shortId(block.valueId)} root ${shortId(entry.root)}`)
    if (this.honest) this.world.invariants.onCommit(this, entry, true, how)
    this.store = new Map()
    this.behindSince = undefined
    if (how === 'decide') this.startNextHeight()
  }

  private startNextHeight(): void {
    const next = this.chain.height + 1
    this.queue.push({ type: 'start_height', height: next })
    const buffered = this.nextHeightBuffer
    this.nextHeightBuffer = []
    for (const msg of buffered) if (heightOf(msg) === next) this.onConsensus(msg)
  }

  // ---- messages ---------------------------------------------------------------------------

  private receive(from: number, msg: WireMessage): void {
    if (!this.up) return
    switch (msg.type) {
      case 'proposal':
      case 'vote':
        this.onConsensus(msg)
        break
      case 'bundle':
        for (const m of msg.msgs) this.onConsensus(m)
        break
      case 'status':
        this.onStatus(from, msg)
        break
      case 'sync_request':
        this.onSyncRequest(from, msg)
        break
      case 'blocks':
        this.onBlocks(msg)
        break
    }
    this.drain()
  }

  /** Verifies a proposal or vote and hands it to the engine (or buffers it for the next height). */
  private onConsensus(msg: ConsensusMsg): void {
    const height = heightOf(msg)
    if (height > this.maxSeenHeight) this.maxSeenHeight = height
    const next = this.chain.height + 1
    if (height < next || height > next + 1) return
    const keys = this.world.keys
    if (msg.type === 'proposal') {
      if (!keys.verifyProposal(msg.proposal) || blockId(msg.proposal.value) !== msg.proposal.valueId) {
        this.world.stats.badMessages++
        return
      }
    } else if (!keys.verifyVote(msg.vote)) {
      this.world.stats.badMessages++
      return
    }
    if (height === next + 1) {
      // The value of a next-height proposal can only be judged once its parent is committed.
      if (this.nextHeightBuffer.length < MAX_NEXT_HEIGHT_BUFFER) this.nextHeightBuffer.push(msg)
      return
    }
    const key = messageKey(msg)
    if (!this.store.has(key)) this.store.set(key, msg)
    if (msg.type === 'proposal') this.queue.push({ type: 'proposal', proposal: msg.proposal, valid: this.chain.validNext(msg.proposal.value) })
    else this.queue.push({ type: 'vote', vote: msg.vote })
  }

  private onStatus(from: number, status: StatusMsg): void {
    this.peerHeights.set(from, { height: status.height - 1, at: this.world.clock.now })
    const next = this.chain.height + 1
    if (status.height !== next || status.have === null) return
    const missing: ConsensusMsg[] = []
    for (const [key, msg] of this.store) if (!status.have.has(key)) missing.push(msg)
    if (missing.length > 0) this.world.network.send(this.id, from, { type: 'bundle', msgs: missing })
  }

  private onSyncRequest(from: number, req: SyncRequestMsg): void {
    const blocks: SyncedBlock[] = []
    const last = Math.min(this.chain.height, req.fromHeight + MAX_SYNC_BLOCKS - 1)
    for (let h = Math.max(1, req.fromHeight); h <= last; h++) {
      const entry = this.chain.at(h)!
      blocks.push({ height: h, round: entry.round, valueId: entry.valueId, value: entry.value, commit: this.disk.certificates[h - 1]! })
    }
    if (blocks.length > 0) this.world.network.send(this.id, from, { type: 'blocks', blocks })
  }

  /** Applies certified blocks in order, then starts a fresh engine at the next height (as the real node does). */
  private onBlocks(msg: BlocksMsg): void {
    let applied = 0
    for (const block of msg.blocks) {
      if (block.height !== this.chain.height + 1) continue
      if (!this.certified(block)) {
        this.world.stats.badMessages++
        break
      }
      if (!this.chain.validNext(block.value)) {
        if (this.honest) this.world.invariants.fail('validity', `node ${this.id} fetched a certified but invalid block at height ${block.height}`)
        break
      }
      this.commit(block, 'sync')
      applied++
    }
    if (applied === 0) return
    this.queue = []
    this.nextHeightBuffer = this.nextHeightBuffer.filter((m) => heightOf(m) > this.chain.height)
    this.engineRef = this.guarded(() => this.world.makeEngine(this.params()))
    if (this.engineRef === undefined) return
    this.startNextHeight()
  }

  /** 2f+1 distinct validators' valid precommits for exactly this block. */
  private certified(block: SyncedBlock): boolean {
    if (blockId(block.value) !== block.valueId || block.value.height !== block.height) return false
    const signers = new Set<number>()
    for (const v of block.commit) {
      if (v.kind !== 'precommit' || v.height !== block.height || v.round !== block.round || v.valueId !== block.valueId) return false
      if (v.signer < 0 || v.signer >= this.world.n || !this.world.keys.verifyVote(v)) return false
      signers.add(v.signer)
    }
    return signers.size >= thresholds(this.world.n).quorum
  }

  // ---- gossip and sync timers -------------------------------------------------------------

  private startTicks(): void {
    const incarnation = this.incarnation
    const interval = this.world.gossipIntervalMs
    const tick = (): void => {
      if (this.incarnation !== incarnation) return
      this.tick()
      this.world.clock.schedule(interval, () => `n${this.id} gossip tick`, tick)
    }
    this.world.clock.schedule(this.prng.int(1, interval), () => `n${this.id} gossip tick`, tick)
  }

  private tick(): void {
    const engine = this.engineRef
    if (!this.up || engine === undefined) return
    const key = `${this.chain.height}/${engine.height}/${engine.round}/${engine.step}`
    const stuck = key === this.lastProgressKey
    this.lastProgressKey = key
    const status: StatusMsg = { type: 'status', height: this.chain.height + 1, round: engine.round, have: stuck ? new Set(this.store.keys()) : null }
    this.world.network.broadcast(this.id, status)
    this.checkSync()
  }

  /** Like the real node: far behind, or one height behind for a while → fetch blocks from a peer ahead. */
  private checkSync(): void {
    const now = this.world.clock.now
    const fresh = now - 3 * this.world.gossipIntervalMs
    let bestHeight = this.chain.height
    const ahead: number[] = []
    for (const [peer, seen] of this.peerHeights) {
      if (seen.at < fresh || seen.height <= this.chain.height) continue
      ahead.push(peer)
      bestHeight = Math.max(bestHeight, seen.height)
    }
    const target = Math.max(bestHeight, this.maxSeenHeight - 1)
    if (ahead.length === 0 || target <= this.chain.height) {
      this.behindSince = undefined
      return
    }
    this.behindSince ??= now
    if (target < this.chain.height + 2 && now - this.behindSince < BEHIND_GRACE_MS) return
    if (now - this.lastSyncRequestAt < this.world.gossipIntervalMs) return
    this.lastSyncRequestAt = now
    this.world.network.send(this.id, this.prng.pick(ahead), { type: 'sync_request', fromHeight: this.chain.height + 1 })
  }

  private log(text: string): void {
    this.world.trace?.(`${this.world.clock.now} n${this.id}${this.honest ? '' : '*'} ${text}`)
  }
}

function describeLast(last: LastSigned | undefined): string {
  if (last === undefined) return 'nothing'
  return `${['', 'proposal', 'prevote', 'precommit'][last.step]} h${last.height} r${last.round} ${shortId(last.valueId)}`
}

function describeRoundState(s: PersistedRoundState<SimBlock> | undefined): string {
  if (s === undefined) return 'none'
  return `h${s.height} r${s.round} step${s.step} locked r${s.lockedRound} ${shortId(s.lockedValue?.id ?? null)} valid r${s.validRound}`
}
