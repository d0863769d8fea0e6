import { thresholds } from './quorum.js'
import type { Evidence, SignedVote, ValueId, VoteKind } from './types.js'

/**
 * The message log of one height: verified votes by (round, kind), counted once per signer, and
 * the distinct senders of any message per round (for the f+1 round-skip rule, line 55).
 *
 * A signer counts at most once per (round, kind, value). A second vote with a different value is
 * equivocation, reported once per (round, kind, signer) as `duplicate_vote` evidence — and it
 * still counts for its value: Algorithm 1 counts the senders of each value, and if only the
 * first vote counted, an equivocator could show a proof-of-lock to one honest node that no
 * other honest node can ever count (a liveness attack the simulator found). Safety is
 * unaffected: two quorums intersect in an honest validator, who votes once. Per signer at most
 * MAX_VALUES_PER_SIGNER values are counted, which bounds memory.
 */
export type AddVoteOutcome =
  | { readonly status: 'added' }
  /** Same value again, a vote from an equivocator already reported, or out of range. */
  | { readonly status: 'ignored' }
  | { readonly status: 'equivocation'; readonly evidence: Evidence }

/** A (round, value) whose precommits reached the quorum: a decision candidate (line 49). */
export interface PrecommitQuorum {
  readonly round: number
  readonly valueId: ValueId
}

interface KindLog {
  /** First vote per signer. */
  readonly bySigner: Map<number, SignedVote>
  /** First votes grouped by value (null = nil), in arrival order. */
  readonly byValue: Map<ValueId | null, SignedVote[]>
  /** Signers already reported for equivocation here. */
  readonly reported: Set<number>
  /** How many distinct values each signer has been counted for. */
  readonly valuesBySigner: Map<number, number>
}

interface RoundLog {
  readonly prevote: KindLog
  readonly precommit: KindLog
  /** Distinct senders of any message (proposal or vote) in this round. */
  readonly senders: Set<number>
}

/** A round has at most MAX_PROPOSALS_PER_ROUND proposed values plus nil worth counting. */
export const MAX_VALUES_PER_SIGNER = 5

export class VoteKeeper {
  readonly quorum: number
  private readonly log = new Map<number, RoundLog>()
  /** Rounds present in the log, ascending. */
  private readonly sortedRounds: number[] = []
  private readonly quorums: PrecommitQuorum[] = []

  constructor(
    readonly height: number,
    readonly n: number,
  ) {
    this.quorum = thresholds(n).quorum
  }

  add(vote: SignedVote): AddVoteOutcome {
    if (vote.height !== this.height || !isIndex(vote.round) || !isIndex(vote.signer) || vote.signer >= this.n) return { status: 'ignored' }
    if (vote.kind !== 'prevote' && vote.kind !== 'precommit') return { status: 'ignored' }
    const round = this.roundLog(vote.round)
    const kind = round[vote.kind]
    const first = kind.bySigner.get(vote.signer)
    const votes = kind.byValue.get(vote.valueId) ?? []
    if (votes.some((v) => v.signer === vote.signer)) return { status: 'ignored' }
    const counted = kind.valuesBySigner.get(vote.signer) ?? 0
    if (counted >= MAX_VALUES_PER_SIGNER) return { status: 'ignored' }
    kind.valuesBySigner.set(vote.signer, counted + 1)
    if (first === undefined) {
      kind.bySigner.set(vote.signer, vote)
      round.senders.add(vote.signer)
    }
    if (votes.length === 0) kind.byValue.set(vote.valueId, votes)
    votes.push(vote)
    if (vote.kind === 'precommit' && vote.valueId !== null && votes.length === this.quorum) {
      this.quorums.push({ round: vote.round, valueId: vote.valueId })
    }
    if (first !== undefined && !kind.reported.has(vote.signer)) {
      kind.reported.add(vote.signer)
      return { status: 'equivocation', evidence: { type: 'duplicate_vote', first, second: vote } }
    }
    return { status: 'added' }
  }

  /** Counts the sender of a non-vote message (a proposal) for line 55. */
  noteSender(round: number, signer: number): void {
    if (!isIndex(round) || !isIndex(signer) || signer >= this.n) return
    this.roundLog(round).senders.add(signer)
  }

  /** Votes of `kind` for `valueId` (null: nil) in `round`. */
  count(round: number, kind: VoteKind, valueId: ValueId | null): number {
    return this.log.get(round)?.[kind].byValue.get(valueId)?.length ?? 0
  }

  /** Distinct signers of `kind` votes for anything (nil included) in `round`. */
  total(round: number, kind: VoteKind): number {
    return this.log.get(round)?.[kind].bySigner.size ?? 0
  }

  hasQuorum(round: number, kind: VoteKind, valueId: ValueId | null): boolean {
    return this.count(round, kind, valueId) >= this.quorum
  }

  hasQuorumAny(round: number, kind: VoteKind): boolean {
    return this.total(round, kind) >= this.quorum
  }

  /** The counted votes of `kind` for `valueId` in `round`, sorted by signer. */
  votesFor(round: number, kind: VoteKind, valueId: ValueId | null): SignedVote[] {
    const votes = this.log.get(round)?.[kind].byValue.get(valueId) ?? []
    return [...votes].sort((a, b) => a.signer - b.signer)
  }

  /** The counted vote of `signer`, if any. */
  voteOf(round: number, kind: VoteKind, signer: number): SignedVote | undefined {
    return this.log.get(round)?.[kind].bySigner.get(signer)
  }

  /** Distinct senders of any message in `round`. */
  senders(round: number): number {
    return this.log.get(round)?.senders.size ?? 0
  }

  /** Rounds with at least one message, ascending. */
  rounds(): readonly number[] {
    return this.sortedRounds
  }

  /** Every (round, value) whose precommits reached the quorum, in the order they did. */
  precommitQuorums(): readonly PrecommitQuorum[] {
    return this.quorums
  }

  private roundLog(round: number): RoundLog {
    let entry = this.log.get(round)
    if (entry === undefined) {
      entry = { prevote: emptyKindLog(), precommit: emptyKindLog(), senders: new Set() }
      this.log.set(round, entry)
      insertSorted(this.sortedRounds, round)
    }
    return entry
  }
}

function emptyKindLog(): KindLog {
  return { bySigner: new Map(), byValue: new Map(), reported: new Set(), valuesBySigner: new Map() }
}

function insertSorted(rounds: number[], round: number): void {
  let i = rounds.length
  while (i > 0 && (rounds[i - 1] as number) > round) i--
  rounds.splice(i, 0, round)
}

function isIndex(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0
}
