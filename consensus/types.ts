/**
 * The contract of the Tendermint engine (arXiv 1807.04938, Algorithm 1) as a pure state
 * machine: the shell feeds it inputs and performs the effects it returns, in order. The engine
 * does no I/O, reads no clock and draws no randomness; values are opaque to it apart from
 * their id. Signatures are checked by the shell before a message becomes an input; the engine
 * only keeps them to build commit certificates.
 */

/** Hex id of a value (for guardians: the block header hash). */
export type ValueId = string

export enum Step {
  Propose = 1,
  Prevote = 2,
  Precommit = 3,
  /** The height is decided; the engine waits for `start_height`. */
  Commit = 4,
}

export type VoteKind = 'prevote' | 'precommit'
export type TimeoutKind = 'propose' | 'prevote' | 'precommit'

/** A vote the shell has verified. `valueId` null is nil. `timestampMs` is set on precommits. */
export interface SignedVote {
  readonly kind: VoteKind
  readonly height: number
  readonly round: number
  readonly valueId: ValueId | null
  readonly signer: number
  readonly timestampMs: number
  readonly signature: Uint8Array
}

export interface SignedProposal<V> {
  readonly height: number
  readonly round: number
  /** −1, or the round of a 2f+1 prevote quorum for this value (Algorithm 1 line 28). */
  readonly polRound: number
  readonly valueId: ValueId
  readonly value: V
  readonly signer: number
  readonly signature: Uint8Array
}

export interface UnsignedVote {
  readonly kind: VoteKind
  readonly height: number
  readonly round: number
  readonly valueId: ValueId | null
}

export interface UnsignedProposal<V> {
  readonly height: number
  readonly round: number
  readonly polRound: number
  readonly valueId: ValueId
  readonly value: V
}

export interface TimeoutParams {
  /** timeout(r) = base + r × delta, per step (ms). */
  readonly proposeBaseMs: number
  readonly proposeDeltaMs: number
  readonly prevoteBaseMs: number
  readonly prevoteDeltaMs: number
  readonly precommitBaseMs: number
  readonly precommitDeltaMs: number
}

export interface EngineParams {
  /** Validator count; indexes are 0..n−1, equal voting power. */
  readonly n: number
  /** This node's validator index, or null for a non-voting observer. */
  readonly self: number | null
  readonly timeouts: TimeoutParams
}

/** What must survive a crash, written (durably) before any signed message leaves the node. */
export interface PersistedRoundState<V> {
  readonly height: number
  readonly round: number
  readonly step: Step
  readonly lockedRound: number
  readonly lockedValue: { readonly id: ValueId; readonly value: V } | null
  readonly validRound: number
  readonly validValue: { readonly id: ValueId; readonly value: V } | null
  /**
   * The 2f+1 prevotes that justify validValue (and lockedValue): after a crash the votes in
   * memory are gone, and without them no peer could ever be shown why this node is locked.
   */
  readonly polVotes: readonly SignedVote[]
}

export type Input<V> =
  /** Begin `height` at round 0 (after the previous height was committed and applied). */
  | { readonly type: 'start_height'; readonly height: number }
  /** A proposal, with the application's verdict on its value (Algorithm 1's valid(v)). */
  | { readonly type: 'proposal'; readonly proposal: SignedProposal<V>; readonly valid: boolean }
  | { readonly type: 'vote'; readonly vote: SignedVote }
  | { readonly type: 'timeout'; readonly kind: TimeoutKind; readonly height: number; readonly round: number }
  /** The application's answer to a `build_value` effect. */
  | { readonly type: 'value'; readonly height: number; readonly round: number; readonly valueId: ValueId; readonly value: V }

export type Evidence =
  | { readonly type: 'duplicate_vote'; readonly first: SignedVote; readonly second: SignedVote }
  | { readonly type: 'duplicate_proposal'; readonly height: number; readonly round: number; readonly signer: number; readonly firstValueId: ValueId; readonly secondValueId: ValueId }

export type Effect<V> =
  /** Durably store the round state; the shell must finish this before the next effects. */
  | { readonly type: 'persist'; readonly state: PersistedRoundState<V> }
  /** This node proposes and needs a fresh value; answer with a `value` input. */
  | { readonly type: 'build_value'; readonly height: number; readonly round: number }
  /** Sign (through the signing guard), broadcast, and feed back as a `proposal` input. */
  | { readonly type: 'sign_proposal'; readonly proposal: UnsignedProposal<V> }
  /** Sign (through the signing guard, adding the timestamp for precommits), broadcast, feed back as a `vote` input. */
  | { readonly type: 'sign_vote'; readonly vote: UnsignedVote }
  | { readonly type: 'schedule_timeout'; readonly kind: TimeoutKind; readonly height: number; readonly round: number; readonly durationMs: number }
  /** `value` is decided at `height`; `commit` holds 2f+1 precommits for it (one per signer). */
  | { readonly type: 'decide'; readonly height: number; readonly round: number; readonly valueId: ValueId; readonly value: V; readonly commit: readonly SignedVote[] }
  | { readonly type: 'evidence'; readonly evidence: Evidence }
  /** The engine moved to a new round (for logs and metrics). */
  | { readonly type: 'new_round'; readonly height: number; readonly round: number }
