import { proposerFor } from './proposer.js'
import { thresholds } from './quorum.js'
import { timeoutFor } from './timeouts.js'
import {
  Step,
  type Effect,
  type EngineParams,
  type Input,
  type PersistedRoundState,
  type SignedProposal,
  type SignedVote,
  type TimeoutKind,
  type UnsignedVote,
  type ValueId,
  type VoteKind,
} from './types.js'
import { VoteKeeper } from './vote-keeper.js'

/**
 * Tendermint (arXiv 1807.04938, Algorithm 1) as a pure state machine. `handle` applies one
 * input and returns the effects to perform, in order; line numbers below are the paper's.
 *
 * After every input the engine re-evaluates the "upon" rules against its message log until none
 * fires, so a message that arrived early (a proposal for a later round, prevotes of a POL round)
 * takes effect as soon as the state lets it. Own messages are counted only when the shell feeds
 * them back, like anyone else's.
 */

/** Messages for rounds beyond round + this (or, for the next height, beyond this round) are dropped. */
export const MAX_ROUNDS_AHEAD = 50
/** Distinct proposals kept per (height, round); an equivocating proposer gets no more. */
export const MAX_PROPOSALS_PER_ROUND = 4

interface Valued<V> {
  readonly id: ValueId
  readonly value: V
}

interface StoredProposal<V> {
  readonly proposal: SignedProposal<V>
  readonly valid: boolean
}

type MessageInput<V> = Extract<Input<V>, { type: 'proposal' | 'vote' }>

export class ConsensusEngine<V> {
  private readonly n: number
  private readonly self: number | null
  private readonly params: EngineParams
  private readonly honestWitness: number

  /** False until the first `start_height` (unless restored). */
  private started: boolean
  private h: number
  private r: number
  private s: Step
  private lockedRound = -1
  private lockedValue: Valued<V> | null = null
  private validRound = -1
  private validValue: Valued<V> | null = null

  private keeper: VoteKeeper
  /** Accepted proposals per round, in arrival order (at most MAX_PROPOSALS_PER_ROUND). */
  private readonly proposals = new Map<number, StoredProposal<V>[]>()
  /** "For the first time" flags of the current round: lines 34, 36 and 47. */
  private prevoteTimeoutArmed = false
  private line36Done = false
  private precommitTimeoutArmed = false
  /** A `build_value` for (h, r) is outstanding. */
  private awaitingValue = false
  /** Messages for height + 1, one per (round, kind, signer), in arrival order. */
  private readonly nextHeight = new Map<string, MessageInput<V>>()

  private lastPersisted: PersistedRoundState<V> | undefined
  private out: Effect<V>[] = []

  constructor(params: EngineParams, restored?: PersistedRoundState<V>) {
    if (!Number.isSafeInteger(params.n) || params.n < 1) throw new RangeError(`validator count must be a positive integer, got ${params.n}`)
    if (params.self !== null && (!isIndex(params.self) || params.self >= params.n)) {
      throw new RangeError(`self must be null or a validator index below ${params.n}, got ${params.self}`)
    }
    this.params = params
    this.n = params.n
    this.self = params.self
    const t = thresholds(params.n)
    this.honestWitness = t.honestWitness
    if (restored === undefined) {
      // Idle: as if height 0 were committed, so messages for height 1 are already buffered.
      this.started = false
      this.h = 0
      this.r = 0
      this.s = Step.Commit
    } else {
      assertRestorable(restored)
      this.started = true
      this.h = restored.height
      this.r = restored.round
      this.s = restored.step
      this.lockedRound = restored.lockedRound
      this.lockedValue = restored.lockedValue
      this.validRound = restored.validRound
      this.validValue = restored.validValue
      this.lastPersisted = restored
    }
    this.keeper = new VoteKeeper(this.h, this.n)
    // The proof of our lock survives the crash with it.
    for (const vote of restored?.polVotes ?? []) if (vote.height === this.h && vote.kind === 'prevote') this.keeper.add(vote)
  }

  get height(): number {
    return this.h
  }

  get round(): number {
    return this.r
  }

  get step(): Step {
    return this.s
  }

  roundState(): PersistedRoundState<V> {
    return {
      height: this.h,
      round: this.r,
      step: this.s,
      lockedRound: this.lockedRound,
      lockedValue: this.lockedValue,
      validRound: this.validRound,
      validValue: this.validValue,
      polVotes: this.polVotes(),
    }
  }

  /** The prevotes that justify validValue and lockedValue (each ≥ 2f+1 when set). */
  private polVotes(): SignedVote[] {
    const votes: SignedVote[] = []
    if (this.validValue !== null) votes.push(...this.keeper.votesFor(this.validRound, 'prevote', this.validValue.id))
    if (this.lockedValue !== null && (this.lockedRound !== this.validRound || this.lockedValue.id !== this.validValue?.id)) {
      votes.push(...this.keeper.votesFor(this.lockedRound, 'prevote', this.lockedValue.id))
    }
    return votes
  }

  handle(input: Input<V>): Effect<V>[] {
    this.out = []
    switch (input.type) {
      case 'start_height':
        this.onStartHeight(input.height)
        break
      case 'proposal':
      case 'vote':
        this.onMessage(input)
        break
      case 'timeout':
        this.onTimeout(input.kind, input.height, input.round)
        break
      case 'value':
        this.onValue(input.height, input.round, input.valueId, input.value)
        break
    }
    return this.finish()
  }

  /**
   * After a restart from `restored`, once the shell has fed back this node's own stored
   * messages: re-arm the current step's timeout, and if the crash came after entering the step
   * but before its vote was signed, sign it now — nil for a prevote (always safe), and for a
   * precommit the value locked in this round, else nil. Without this vote the others may never
   * reach 2f+1 (the simulator found that stall). The shell's guard refuses any conflict.
   */
  resume(): Effect<V>[] {
    this.out = []
    if (this.started) {
      switch (this.s) {
        case Step.Propose:
          this.scheduleTimeout('propose')
          break
        case Step.Prevote:
          this.scheduleTimeout('prevote')
          if (this.self !== null && this.keeper.voteOf(this.r, 'prevote', this.self) === undefined) this.signVote('prevote', null)
          break
        case Step.Precommit:
          this.scheduleTimeout('precommit')
          if (this.self !== null && this.keeper.voteOf(this.r, 'precommit', this.self) === undefined) {
            this.signVote('precommit', this.lockedRound === this.r && this.lockedValue !== null ? this.lockedValue.id : null)
          }
          break
        case Step.Commit:
          break
      }
    }
    return this.finish()
  }

  /**
   * Algorithm 1's lock rule for prevoting v (lines 22 and 28): lockedRound === −1 ||
   * lockedValue.id === valueId || (polRound >= 0 && lockedRound <= polRound). Protected so a
   * test can break it on purpose.
   */
  protected prevoteAllowed(valueId: ValueId, polRound: number): boolean {
    return this.lockedRound === -1 || this.lockedValue?.id === valueId || (polRound >= 0 && this.lockedRound <= polRound)
  }

  // ---- inputs -------------------------------------------------------------------------------

  private onStartHeight(height: number): void {
    if (!isIndex(height)) return
    if (this.started && height <= this.h) return
    const replay = height === this.h + 1 ? [...this.nextHeight.values()] : []
    this.nextHeight.clear()
    this.started = true
    this.h = height
    this.lockedRound = -1
    this.lockedValue = null
    this.validRound = -1
    this.validValue = null
    this.keeper = new VoteKeeper(height, this.n)
    this.proposals.clear()
    this.startRound(0)
    this.run()
    for (const input of replay) this.onMessage(input)
  }

  private onMessage(input: MessageInput<V>): void {
    const msg = input.type === 'proposal' ? input.proposal : input.vote
    if (!isIndex(msg.height) || !isIndex(msg.round) || !isIndex(msg.signer) || msg.signer >= this.n) return
    if (msg.height === this.h + 1) {
      this.buffer(input)
      return
    }
    if (!this.started || msg.height !== this.h || this.s === Step.Commit) return
    if (msg.round > this.r + MAX_ROUNDS_AHEAD) return
    if (input.type === 'proposal') this.addProposal(input.proposal, input.valid)
    else this.addVote(input.vote)
    this.run()
  }

  private buffer(input: MessageInput<V>): void {
    const msg = input.type === 'proposal' ? input.proposal : input.vote
    if (msg.round > MAX_ROUNDS_AHEAD) return
    if (input.type === 'proposal' && !this.wellFormedProposal(input.proposal)) return
    if (input.type === 'vote' && !isVoteKind(input.vote.kind)) return
    const kind = input.type === 'proposal' ? 'proposal' : input.vote.kind
    const key = `${msg.round}/${kind}/${msg.signer}`
    if (!this.nextHeight.has(key)) this.nextHeight.set(key, input)
  }

  private addProposal(proposal: SignedProposal<V>, valid: boolean): void {
    if (!this.wellFormedProposal(proposal)) return
    let stored = this.proposals.get(proposal.round)
    if (stored === undefined) {
      stored = []
      this.proposals.set(proposal.round, stored)
    }
    const same = stored.findIndex((p) => p.proposal.valueId === proposal.valueId && p.proposal.polRound === proposal.polRound)
    if (same !== -1) {
      // The same proposal again. A `valid: true` verdict replaces an earlier `false` (the app may
      // have judged it too early, e.g. before the parent block was applied); never the reverse.
      if (valid && !(stored[same] as StoredProposal<V>).valid) stored[same] = { proposal, valid }
      return
    }
    if (stored.length >= MAX_PROPOSALS_PER_ROUND) return
    const first = stored[0]
    stored.push({ proposal, valid })
    this.keeper.noteSender(proposal.round, proposal.signer)
    if (first !== undefined) {
      this.emit({
        type: 'evidence',
        evidence: {
          type: 'duplicate_proposal',
          height: proposal.height,
          round: proposal.round,
          signer: proposal.signer,
          firstValueId: first.proposal.valueId,
          secondValueId: proposal.valueId,
        },
      })
    }
  }

  private wellFormedProposal(p: SignedProposal<V>): boolean {
    return (
      p.signer === proposerFor(p.height, p.round, this.n) &&
      Number.isSafeInteger(p.polRound) &&
      p.polRound >= -1 &&
      p.polRound < p.round &&
      typeof p.valueId === 'string'
    )
  }

  private addVote(vote: SignedVote): void {
    if (!isVoteKind(vote.kind)) return
    const outcome = this.keeper.add(vote)
    if (outcome.status === 'equivocation') this.emit({ type: 'evidence', evidence: outcome.evidence })
  }

  private onTimeout(kind: TimeoutKind, height: number, round: number): void {
    if (!this.started || height !== this.h || round !== this.r) return
    switch (kind) {
      case 'propose': // line 57
        if (this.s !== Step.Propose) return
        this.s = Step.Prevote
        this.signVote('prevote', null)
        break
      case 'prevote': // line 61
        if (this.s !== Step.Prevote) return
        this.s = Step.Precommit
        this.signVote('precommit', null)
        break
      case 'precommit': // line 65
        if (this.s === Step.Commit) return
        this.startRound(this.r + 1)
        break
      default:
        return
    }
    this.run()
  }

  private onValue(height: number, round: number, valueId: ValueId, value: V): void {
    if (!this.awaitingValue || height !== this.h || round !== this.r || this.s !== Step.Propose) return
    if (typeof valueId !== 'string') return
    this.awaitingValue = false
    this.signProposal({ id: valueId, value }, -1) // line 16-17
  }

  // ---- Algorithm 1 ---------------------------------------------------------------------------

  /** Lines 11-21. */
  private startRound(round: number): void {
    this.r = round
    this.s = Step.Propose
    this.prevoteTimeoutArmed = false
    this.line36Done = false
    this.precommitTimeoutArmed = false
    this.awaitingValue = false
    this.emit({ type: 'new_round', height: this.h, round })
    if (this.self !== null && proposerFor(this.h, round, this.n) === this.self) {
      if (this.validValue !== null) {
        this.signProposal(this.validValue, this.validRound) // line 15
      } else {
        this.awaitingValue = true // line 16: getValue()
        this.emit({ type: 'build_value', height: this.h, round })
      }
    }
    // Line 19 arms this for non-proposers only; the proposer arms it too (as CometBFT and
    // Malachite do), so that a value that never comes, or a POL it cannot show after a
    // restart, cannot keep it in the propose step and stall the round for everyone.
    this.scheduleTimeout('propose')
  }

  /** Applies the "upon" rules until none fires. */
  private run(): void {
    if (!this.started) return
    for (;;) {
      if (this.s === Step.Commit) return
      if (this.tryDecide()) return
      if (this.tryRoundSkip()) continue
      if (this.tryCurrentRound()) continue
      return
    }
  }

  /** Line 49: a valid proposal of any round r with 2f+1 precommits for it in r. */
  private tryDecide(): boolean {
    for (const { round, valueId } of this.keeper.precommitQuorums()) {
      const p = this.validProposal(round, valueId)
      if (p === undefined) continue
      this.s = Step.Commit
      this.awaitingValue = false
      this.emit({
        type: 'decide',
        height: this.h,
        round,
        valueId,
        value: p.value,
        commit: this.keeper.votesFor(round, 'precommit', valueId),
      })
      return true
    }
    return false
  }

  /** Line 55: f+1 distinct senders in a round above ours. Jumps to the highest such round. */
  private tryRoundSkip(): boolean {
    const rounds = this.keeper.rounds()
    for (let i = rounds.length - 1; i >= 0; i--) {
      const round = rounds[i] as number
      if (round <= this.r) return false
      if (this.keeper.senders(round) >= this.honestWitness) {
        this.startRound(round)
        return true
      }
    }
    return false
  }

  /** Lines 22, 28, 34, 36, 44 and 47 for the current round; fires at most one. */
  private tryCurrentRound(): boolean {
    const r = this.r
    const proposals = this.proposals.get(r) ?? []
    if (this.s === Step.Propose) {
      for (const { proposal, valid } of proposals) {
        const vr = proposal.polRound
        if (vr === -1) {
          // Line 22.
          this.s = Step.Prevote
          this.signVote('prevote', valid && this.prevoteAllowed(proposal.valueId, -1) ? proposal.valueId : null)
          return true
        }
        if (vr < r && this.keeper.hasQuorum(vr, 'prevote', proposal.valueId)) {
          // Line 28.
          this.s = Step.Prevote
          this.signVote('prevote', valid && this.prevoteAllowed(proposal.valueId, vr) ? proposal.valueId : null)
          return true
        }
      }
    }
    if (this.s === Step.Prevote && !this.prevoteTimeoutArmed && this.keeper.hasQuorumAny(r, 'prevote')) {
      // Line 34.
      this.prevoteTimeoutArmed = true
      this.scheduleTimeout('prevote')
      return true
    }
    if ((this.s === Step.Prevote || this.s === Step.Precommit) && !this.line36Done) {
      for (const { proposal, valid } of proposals) {
        if (!valid || !this.keeper.hasQuorum(r, 'prevote', proposal.valueId)) continue
        // Line 36.
        this.line36Done = true
        const v: Valued<V> = { id: proposal.valueId, value: proposal.value }
        const precommit = this.s === Step.Prevote
        if (precommit) {
          this.lockedValue = v
          this.lockedRound = r
          this.s = Step.Precommit
        }
        this.validValue = v
        this.validRound = r
        if (precommit) this.signVote('precommit', v.id)
        return true
      }
    }
    if (this.s === Step.Prevote && this.keeper.hasQuorum(r, 'prevote', null)) {
      // Line 44.
      this.s = Step.Precommit
      this.signVote('precommit', null)
      return true
    }
    if (!this.precommitTimeoutArmed && this.keeper.hasQuorumAny(r, 'precommit')) {
      // Line 47.
      this.precommitTimeoutArmed = true
      this.scheduleTimeout('precommit')
      return true
    }
    return false
  }

  private validProposal(round: number, valueId: ValueId): SignedProposal<V> | undefined {
    return this.proposals.get(round)?.find((p) => p.valid && p.proposal.valueId === valueId)?.proposal
  }

  // ---- effects -------------------------------------------------------------------------------

  private emit(effect: Effect<V>): void {
    this.out.push(effect)
  }

  private scheduleTimeout(kind: TimeoutKind): void {
    this.emit({ type: 'schedule_timeout', kind, height: this.h, round: this.r, durationMs: timeoutFor(kind, this.r, this.params.timeouts) })
  }

  private signVote(kind: VoteKind, valueId: ValueId | null): void {
    if (this.self === null) return
    const vote: UnsignedVote = { kind, height: this.h, round: this.r, valueId }
    this.persistIfChanged()
    this.emit({ type: 'sign_vote', vote })
  }

  private signProposal(v: Valued<V>, polRound: number): void {
    if (this.self === null) return
    this.persistIfChanged()
    this.emit({ type: 'sign_proposal', proposal: { height: this.h, round: this.r, polRound, valueId: v.id, value: v.value } })
  }

  /** Observers sign nothing, so they persist nothing either. */
  private persistIfChanged(): void {
    if (this.self === null || !this.started) return
    const state = this.roundState()
    const last = this.lastPersisted
    if (last !== undefined && sameRoundState(last, state)) return
    this.lastPersisted = state
    this.emit({ type: 'persist', state })
  }

  private finish(): Effect<V>[] {
    // Changes that came without a signature (a new round, a decision, validValue) are persisted
    // too, so a restart resumes as close as possible to where the node was.
    this.persistIfChanged()
    const out = this.out
    this.out = []
    return out
  }
}

function sameRoundState<V>(a: PersistedRoundState<V>, b: PersistedRoundState<V>): boolean {
  return (
    a.height === b.height &&
    a.round === b.round &&
    a.step === b.step &&
    a.lockedRound === b.lockedRound &&
    a.lockedValue?.id === b.lockedValue?.id &&
    a.validRound === b.validRound &&
    a.validValue?.id === b.validValue?.id
  )
}

function assertRestorable<V>(s: PersistedRoundState<V>): void {
  const bad = (why: string): never => {
    throw new RangeError(`cannot restore round state: ${why}`)
  }
  if (!isIndex(s.height)) bad(`height ${s.height}`)
  if (!isIndex(s.round)) bad(`round ${s.round}`)
  if (s.step !== Step.Propose && s.step !== Step.Prevote && s.step !== Step.Precommit && s.step !== Step.Commit) bad(`step ${String(s.step)}`)
  if ((s.lockedRound === -1) !== (s.lockedValue === null)) bad('lockedRound and lockedValue disagree')
  if ((s.validRound === -1) !== (s.validValue === null)) bad('validRound and validValue disagree')
  if (s.lockedRound < -1 || s.lockedRound > s.round || !Number.isSafeInteger(s.lockedRound)) bad(`lockedRound ${s.lockedRound}`)
  if (s.validRound < -1 || s.validRound > s.round || !Number.isSafeInteger(s.validRound)) bad(`validRound ${s.validRound}`)
}

function isVoteKind(kind: string): kind is VoteKind {
  return kind === 'prevote' || kind === 'precommit'
}

function isIndex(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0
}
