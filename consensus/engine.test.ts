import { describe, expect, it } from 'vitest'
import { ConsensusEngine, MAX_ROUNDS_AHEAD } from './engine.js'
import { proposerFor } from './proposer.js'
import { DEFAULT_TIMEOUTS, timeoutFor } from './timeouts.js'
import {
  Step,
  type Effect,
  type Input,
  type PersistedRoundState,
  type SignedProposal,
  type SignedVote,
  type UnsignedProposal,
  type UnsignedVote,
  type ValueId,
  type VoteKind,
} from './types.js'

// ---- helpers -------------------------------------------------------------------------------

const H = 1 // proposer(1, r) with n = 4: r0 → 1, r1 → 2, r2 → 3, r3 → 0
type Eff = Effect<string>

const val = (id: ValueId): string => `value:${id}`

function engine(self: number | null, n = 4, restored?: PersistedRoundState<string>): ConsensusEngine<string> {
  return new ConsensusEngine<string>({ n, self, timeouts: DEFAULT_TIMEOUTS }, restored)
}

/** An engine of validator `self` that has started height `height`. */
function started(self: number | null, n = 4, height = H): ConsensusEngine<string> {
  const e = engine(self, n)
  e.handle({ type: 'start_height', height })
  return e
}

function proposalMsg(
  round: number,
  valueId: ValueId,
  polRound = -1,
  opts: { valid?: boolean; signer?: number; height?: number; n?: number } = {},
): Input<string> {
  const height = opts.height ?? H
  const proposal: SignedProposal<string> = {
    height,
    round,
    polRound,
    valueId,
    value: val(valueId),
    signer: opts.signer ?? proposerFor(height, round, opts.n ?? 4),
    signature: new Uint8Array([1]),
  }
  return { type: 'proposal', proposal, valid: opts.valid ?? true }
}

function signedVote(kind: VoteKind, round: number, valueId: ValueId | null, signer: number, height = H): SignedVote {
  return { kind, height, round, valueId, signer, timestampMs: kind === 'precommit' ? 1000 + signer : 0, signature: new Uint8Array([signer]) }
}

function voteMsg(kind: VoteKind, round: number, valueId: ValueId | null, signer: number, height = H): Input<string> {
  return { type: 'vote', vote: signedVote(kind, round, valueId, signer, height) }
}

/** Feeds one vote of `kind` for `valueId` from each of `signers`; returns all effects. */
function feed(e: ConsensusEngine<string>, kind: VoteKind, round: number, valueId: ValueId | null, signers: readonly number[], height = H): Eff[] {
  return signers.flatMap((s) => e.handle(voteMsg(kind, round, valueId, s, height)))
}

const timeout = (kind: 'propose' | 'prevote' | 'precommit', round: number, height = H): Input<string> => ({ type: 'timeout', kind, height, round })

function signedVotes(effects: readonly Eff[]): UnsignedVote[] {
  return effects.flatMap((e) => (e.type === 'sign_vote' ? [e.vote] : []))
}

function signedProposals(effects: readonly Eff[]): UnsignedProposal<string>[] {
  return effects.flatMap((e) => (e.type === 'sign_proposal' ? [e.proposal] : []))
}

function timeouts(effects: readonly Eff[]): { kind: string; round: number; durationMs: number }[] {
  return effects.flatMap((e) => (e.type === 'schedule_timeout' ? [{ kind: e.kind, round: e.round, durationMs: e.durationMs }] : []))
}

function ofType<T extends Eff['type']>(effects: readonly Eff[], type: T): Extract<Eff, { type: T }>[] {
  return effects.filter((e): e is Extract<Eff, { type: T }> => e.type === type)
}

const prevote = (round: number, valueId: ValueId | null, height = H): UnsignedVote => ({ kind: 'prevote', height, round, valueId })
const precommit = (round: number, valueId: ValueId | null, height = H): UnsignedVote => ({ kind: 'precommit', height, round, valueId })

/** Feeds the engine's own signed votes back to it (the shell's uniform path). */
function echo(e: ConsensusEngine<string>, self: number, effects: readonly Eff[]): Eff[] {
  return signedVotes(effects).flatMap((v) => e.handle(voteMsg(v.kind, v.round, v.valueId, self, v.height)))
}

/**
 * Validator 0 (not the proposer of rounds 0-2 at height 1) locked on `v` in round 0: it got the
 * proposal, prevoted v, saw 2f+1 prevotes for v and precommitted v; the round then timed out.
 */
function lockedOnV(): ConsensusEngine<string> {
  const e = started(0)
  e.handle(proposalMsg(0, 'v'))
  feed(e, 'prevote', 0, 'v', [0, 1, 2])
  feed(e, 'precommit', 0, null, [1, 2])
  feed(e, 'precommit', 0, 'v', [0])
  e.handle(timeout('precommit', 0))
  expect(e.round).toBe(1)
  expect(e.roundState()).toMatchObject({ lockedRound: 0, lockedValue: { id: 'v' }, validRound: 0, validValue: { id: 'v' } })
  return e
}

// ---- basics --------------------------------------------------------------------------------

describe('proposer rotation and timeouts', () => {
  it('proposer(h, r) = (h + r) mod n', () => {
    expect([0, 1, 2, 3, 4].map((r) => proposerFor(1, r, 4))).toEqual([1, 2, 3, 0, 1])
    expect(proposerFor(10, 3, 7)).toBe(6)
    expect(proposerFor(Number.MAX_SAFE_INTEGER, 1_000_000, 4)).toBe((Number(BigInt(Number.MAX_SAFE_INTEGER) % 4n) + 0) % 4)
    expect(() => proposerFor(1, -1, 4)).toThrow(RangeError)
  })

  it('timeout(r) = base + r × delta with the default parameters', () => {
    expect([0, 1, 2].map((r) => timeoutFor('propose', r, DEFAULT_TIMEOUTS))).toEqual([1000, 1500, 2000])
    expect([0, 1, 2].map((r) => timeoutFor('prevote', r, DEFAULT_TIMEOUTS))).toEqual([500, 750, 1000])
    expect([0, 1, 2].map((r) => timeoutFor('precommit', r, DEFAULT_TIMEOUTS))).toEqual([500, 750, 1000])
  })
})

describe('lines 11-21: StartRound', () => {
  it('is idle until start_height', () => {
    const e = engine(0)
    expect(e.handle(proposalMsg(0, 'v', -1, { height: 7 }))).toEqual([])
    expect(e.handle(timeout('propose', 0))).toEqual([])
    expect(e.resume()).toEqual([])
  })

  it('a non-proposer schedules the propose timeout', () => {
    const e = engine(0)
    const out = e.handle({ type: 'start_height', height: H })
    expect(ofType(out, 'new_round')).toEqual([{ type: 'new_round', height: H, round: 0 }])
    expect(timeouts(out)).toEqual([{ kind: 'propose', round: 0, durationMs: 1000 }])
    expect(ofType(out, 'build_value')).toEqual([])
    expect(signedProposals(out)).toEqual([])
    expect([e.height, e.round, e.step]).toEqual([H, 0, Step.Propose])
  })

  it('the proposer without a valid value asks for one and proposes it with polRound −1', () => {
    const e = engine(1)
    const out = e.handle({ type: 'start_height', height: H })
    expect(ofType(out, 'build_value')).toEqual([{ type: 'build_value', height: H, round: 0 }])
    expect(signedProposals(out)).toEqual([])
    const answered = e.handle({ type: 'value', height: H, round: 0, valueId: 'v', value: val('v') })
    expect(answered.map((x) => x.type)).toEqual(['sign_proposal'])
    expect(signedProposals(answered)).toEqual([{ height: H, round: 0, polRound: -1, valueId: 'v', value: val('v') }])
    // A second answer is not a second proposal.
    expect(e.handle({ type: 'value', height: H, round: 0, valueId: 'w', value: val('w') })).toEqual([])
  })

  it('the proposer ignores a value for another round or after leaving the propose step', () => {
    const e = started(1)
    expect(e.handle({ type: 'value', height: H, round: 1, valueId: 'v', value: val('v') })).toEqual([])
    expect(e.handle({ type: 'value', height: H + 1, round: 0, valueId: 'v', value: val('v') })).toEqual([])
    e.handle(timeout('propose', 0))
    expect(e.step).toBe(Step.Prevote)
    expect(e.handle({ type: 'value', height: H, round: 0, valueId: 'v', value: val('v') })).toEqual([])
  })

  it('the proposer re-proposes its valid value with polRound = validRound', () => {
    // Validator 2 proposes round 1 at height 1; in round 0 it saw 2f+1 prevotes for v.
    const e = started(2)
    e.handle(proposalMsg(0, 'v'))
    feed(e, 'prevote', 0, 'v', [0, 1, 2])
    feed(e, 'precommit', 0, null, [0, 1, 3])
    const out = e.handle(timeout('precommit', 0))
    expect(ofType(out, 'build_value')).toEqual([])
    expect(signedProposals(out)).toEqual([{ height: H, round: 1, polRound: 0, valueId: 'v', value: val('v') }])
    expect(ofType(out, 'new_round')).toEqual([{ type: 'new_round', height: H, round: 1 }])
  })

  it('an observer follows rounds but never proposes', () => {
    const e = engine(null)
    const out = e.handle({ type: 'start_height', height: 0 }) // proposer(0, 0) = 0, but self is null
    expect(ofType(out, 'build_value')).toEqual([])
    expect(timeouts(out)).toEqual([{ kind: 'propose', round: 0, durationMs: 1000 }])
  })
})

// ---- prevote -------------------------------------------------------------------------------

describe('line 22: proposal with polRound −1 in the propose step', () => {
  it('prevotes a valid value when not locked', () => {
    const e = started(0)
    const out = e.handle(proposalMsg(0, 'v'))
    expect(signedVotes(out)).toEqual([prevote(0, 'v')])
    expect(e.step).toBe(Step.Prevote)
  })

  it('prevotes nil for an invalid value', () => {
    const e = started(0)
    expect(signedVotes(e.handle(proposalMsg(0, 'v', -1, { valid: false })))).toEqual([prevote(0, null)])
  })

  it('prevotes nil for another value when locked, and the locked value itself', () => {
    const w = lockedOnV()
    expect(signedVotes(w.handle(proposalMsg(1, 'w')))).toEqual([prevote(1, null)])
    const v = lockedOnV()
    expect(signedVotes(v.handle(proposalMsg(1, 'v')))).toEqual([prevote(1, 'v')])
  })

  it('acts only once: a later proposal of the round does not prevote again', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    expect(signedVotes(e.handle(proposalMsg(0, 'w')))).toEqual([])
  })

  it('ignores proposals not from proposer(h, r)', () => {
    const e = started(0)
    expect(e.handle(proposalMsg(0, 'v', -1, { signer: 2 }))).toEqual([])
    expect(e.handle(proposalMsg(0, 'v', -1, { signer: 0 }))).toEqual([])
    expect(e.step).toBe(Step.Propose)
    // Nor do they count toward the decision of line 49.
    feed(e, 'precommit', 0, 'v', [1, 2, 3])
    expect(e.step).not.toBe(Step.Commit)
  })

  it('ignores malformed polRounds (≥ round or < −1)', () => {
    const e = started(0)
    expect(e.handle(proposalMsg(0, 'v', 0))).toEqual([])
    expect(e.handle(proposalMsg(0, 'v', -2))).toEqual([])
    expect(e.step).toBe(Step.Propose)
  })

  it('takes effect when the round starts if the proposal arrived early', () => {
    const e = started(0)
    expect(signedVotes(e.handle(proposalMsg(1, 'w')))).toEqual([]) // round 1, we are in round 0
    feed(e, 'precommit', 0, null, [1, 2, 3])
    const out = e.handle(timeout('precommit', 0))
    expect(signedVotes(out)).toEqual([prevote(1, 'w')])
  })
})

describe('line 28: proposal with a proof-of-lock round', () => {
  it('waits for 2f+1 prevotes in polRound, then prevotes the value', () => {
    const e = started(0)
    feed(e, 'precommit', 0, null, [1, 2, 3])
    e.handle(timeout('precommit', 0))
    expect(signedVotes(e.handle(proposalMsg(1, 'w', 0)))).toEqual([])
    expect(signedVotes(feed(e, 'prevote', 0, 'w', [1, 2]))).toEqual([])
    expect(e.step).toBe(Step.Propose)
    expect(signedVotes(feed(e, 'prevote', 0, 'w', [3]))).toEqual([prevote(1, 'w')])
  })

  it('prevotes nil when the value is invalid', () => {
    const e = started(0)
    feed(e, 'prevote', 0, 'w', [1, 2, 3])
    feed(e, 'precommit', 0, null, [1, 2, 3])
    e.handle(timeout('precommit', 0))
    expect(signedVotes(e.handle(proposalMsg(1, 'w', 0, { valid: false })))).toEqual([prevote(1, null)])
  })

  it('a claimed polRound without 2f+1 prevotes there does not unlock: the validator waits', () => {
    const e = lockedOnV() // locked on v in round 0, now in round 1
    feed(e, 'prevote', 0, 'w', [3]) // signer 3's round-0 prevote: one vote for w
    expect(signedVotes(e.handle(proposalMsg(1, 'w', 0)))).toEqual([])
    expect(e.step).toBe(Step.Propose)
    expect(signedVotes(e.handle(timeout('propose', 1)))).toEqual([prevote(1, null)])
  })

  it('prevotes nil when polRound < lockedRound even with a POL', () => {
    // Locked on v in round 1; round 2 proposes w with a POL from round 0.
    const e = started(0)
    feed(e, 'prevote', 0, 'w', [1, 2, 3])
    feed(e, 'precommit', 0, null, [1, 2, 3])
    e.handle(timeout('precommit', 0))
    e.handle(proposalMsg(1, 'v'))
    feed(e, 'prevote', 1, 'v', [0, 1, 2])
    expect(e.roundState()).toMatchObject({ lockedRound: 1, lockedValue: { id: 'v' } })
    feed(e, 'precommit', 1, null, [1, 2, 3])
    e.handle(timeout('precommit', 1))
    expect(e.round).toBe(2)
    expect(signedVotes(e.handle(proposalMsg(2, 'w', 0)))).toEqual([prevote(2, null)])
  })

  it('prevotes the locked value itself whatever its polRound', () => {
    const e = started(0)
    feed(e, 'prevote', 0, 'v', [1, 2, 3])
    e.handle(proposalMsg(0, 'v', -1))
    // Locked on v in round 0 (prevote v, then 2f+1 prevotes for v already counted).
    expect(e.roundState().lockedRound).toBe(0)
    feed(e, 'precommit', 1, null, [1, 2]) // f+1 senders in round 1: skip there
    expect(e.round).toBe(1)
    feed(e, 'precommit', 1, null, [3])
    e.handle(timeout('precommit', 1))
    expect(e.round).toBe(2)
    expect(signedVotes(e.handle(proposalMsg(2, 'v', 0)))).toEqual([prevote(2, 'v')])
  })
})

// ---- the locking safety scenario --------------------------------------------------------------

describe('locking', () => {
  it('locked on v in round 0: a round-1 proposal of w with polRound −1 gets a nil prevote', () => {
    const e = lockedOnV()
    expect(signedVotes(e.handle(proposalMsg(1, 'w', -1)))).toEqual([prevote(1, null)])
    expect(e.roundState()).toMatchObject({ lockedRound: 0, lockedValue: { id: 'v' } })
  })

  it('locked on v in round 0: w with polRound 1 ≥ lockedRound backed by 2f+1 prevotes gets a prevote', () => {
    // Round 1: validator 0 saw w prevoted by 1, 2, 3 but precommitted nil on timeout. Round 2
    // (proposer 3) proposes w with polRound 1.
    const e = lockedOnV()
    e.handle(proposalMsg(1, 'x'))
    feed(e, 'prevote', 1, 'w', [1, 2, 3])
    e.handle(timeout('prevote', 1))
    feed(e, 'precommit', 1, null, [1, 2, 3])
    e.handle(timeout('precommit', 1))
    expect(e.round).toBe(2)
    expect(signedVotes(e.handle(proposalMsg(2, 'w', 1)))).toEqual([prevote(2, 'w')])
  })

  it('a POL in polRound = lockedRound is enough (lockedRound ≤ vr)', () => {
    // Locked on v in round 0 after 2f+1 prevotes for v; equivocators (1 and 2) also prevoted w in
    // round 0 and validator 0 counted those first, so w has a POL in round 0 from its view.
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    feed(e, 'prevote', 0, 'w', [1, 2, 3])
    expect(e.roundState().lockedRound).toBe(-1)
    feed(e, 'precommit', 0, null, [1, 2, 3])
    e.handle(timeout('precommit', 0))
    expect(signedVotes(e.handle(proposalMsg(1, 'w', 0)))).toEqual([prevote(1, 'w')])
  })

  it('breaking prevoteAllowed on purpose makes the locked validator prevote w (the rule is what protects safety)', () => {
    class Unlocked extends ConsensusEngine<string> {
      protected override prevoteAllowed(): boolean {
        return true
      }
    }
    const e = new Unlocked({ n: 4, self: 0, timeouts: DEFAULT_TIMEOUTS })
    e.handle({ type: 'start_height', height: H })
    e.handle(proposalMsg(0, 'v'))
    feed(e, 'prevote', 0, 'v', [0, 1, 2])
    feed(e, 'precommit', 0, null, [1, 2, 3])
    e.handle(timeout('precommit', 0))
    expect(e.roundState().lockedRound).toBe(0)
    expect(signedVotes(e.handle(proposalMsg(1, 'w', -1)))).toEqual([prevote(1, 'w')])
  })
})

// ---- prevote step ------------------------------------------------------------------------------

describe('line 34: 2f+1 prevotes of any kind', () => {
  it('schedules the prevote timeout once, only in the prevote step', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    expect(timeouts(feed(e, 'prevote', 0, 'v', [1]))).toEqual([])
    expect(timeouts(feed(e, 'prevote', 0, null, [2]))).toEqual([])
    const third = feed(e, 'prevote', 0, 'w', [3])
    expect(timeouts(third)).toEqual([{ kind: 'prevote', round: 0, durationMs: 500 }])
    expect(signedVotes(third)).toEqual([])
    expect(timeouts(feed(e, 'prevote', 0, 'v', [0]))).toEqual([])
  })

  it('does not fire in the propose step', () => {
    const e = started(0)
    const out = [...feed(e, 'prevote', 0, 'v', [1]), ...feed(e, 'prevote', 0, null, [2]), ...feed(e, 'prevote', 0, 'w', [3])]
    expect(timeouts(out)).toEqual([])
    expect(e.step).toBe(Step.Propose)
  })
})

describe('line 36: proposal and 2f+1 prevotes for it', () => {
  it('in the prevote step: locks, sets the valid value and precommits', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    const out = feed(e, 'prevote', 0, 'v', [1, 2, 3])
    expect(signedVotes(out)).toEqual([precommit(0, 'v')])
    expect(e.step).toBe(Step.Precommit)
    expect(e.roundState()).toMatchObject({ lockedRound: 0, lockedValue: { id: 'v', value: val('v') }, validRound: 0, validValue: { id: 'v' } })
  })

  it('fires when the proposal arrives after the prevotes', () => {
    const e = started(0)
    e.handle(timeout('propose', 0))
    feed(e, 'prevote', 0, 'v', [1, 2, 3])
    expect(e.step).toBe(Step.Prevote) // no proposal yet
    expect(signedVotes(e.handle(proposalMsg(0, 'v')))).toEqual([precommit(0, 'v')])
  })

  it('in the precommit step (after a nil precommit): sets the valid value, not the lock, and signs nothing', () => {
    const e = started(0)
    echo(e, 0, e.handle(timeout('propose', 0))) // prevote nil, counted when fed back
    e.handle(proposalMsg(0, 'v')) // already in the prevote step: no line 22
    feed(e, 'prevote', 0, 'v', [1, 2]) // 3 prevotes of anything: prevote timeout armed
    expect(signedVotes(e.handle(timeout('prevote', 0)))).toEqual([precommit(0, null)])
    expect(e.step).toBe(Step.Precommit)
    const out = feed(e, 'prevote', 0, 'v', [3])
    expect(signedVotes(out)).toEqual([])
    expect(e.step).toBe(Step.Precommit)
    expect(e.roundState()).toMatchObject({ lockedRound: -1, lockedValue: null, validRound: 0, validValue: { id: 'v', value: val('v') } })
  })

  it('validValue update with step > prevote (n = 7)', () => {
    // n = 7: quorum 5. Validator 0 precommits nil on timeout, then sees 5 prevotes for v.
    const e = started(0, 7)
    e.handle(proposalMsg(0, 'v', -1, { n: 7 }))
    feed(e, 'prevote', 0, null, [5, 6])
    feed(e, 'prevote', 0, 'v', [1, 2, 4]) // 5 prevotes of anything, 3 for v
    e.handle(timeout('prevote', 0))
    expect(e.step).toBe(Step.Precommit)
    expect(e.roundState().validRound).toBe(-1)
    const out = feed(e, 'prevote', 0, 'v', [0, 3])
    expect(e.roundState()).toMatchObject({ validRound: 0, validValue: { id: 'v' }, lockedRound: -1, lockedValue: null })
    expect(signedVotes(out)).toEqual([])
    expect(ofType(out, 'persist').at(-1)?.state).toMatchObject({ validRound: 0 })
  })

  it('ignores an invalid proposal', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v', -1, { valid: false }))
    const out = feed(e, 'prevote', 0, 'v', [1, 2, 3])
    expect(signedVotes(out)).toEqual([])
    expect(e.roundState().lockedRound).toBe(-1)
  })
})

describe('line 44: 2f+1 nil prevotes', () => {
  it('precommits nil from the prevote step', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    expect(signedVotes(feed(e, 'prevote', 0, null, [1, 2]))).toEqual([])
    expect(signedVotes(feed(e, 'prevote', 0, null, [3]))).toEqual([precommit(0, null)])
    expect(e.step).toBe(Step.Precommit)
  })

  it('does not fire in the propose step', () => {
    const e = started(0)
    expect(signedVotes(feed(e, 'prevote', 0, null, [1, 2, 3]))).toEqual([])
    expect(e.step).toBe(Step.Propose)
  })
})

// ---- precommit and decision ---------------------------------------------------------------------

describe('line 47: 2f+1 precommits of any kind', () => {
  it('schedules the precommit timeout once, whatever the step', () => {
    const e = started(0)
    expect(timeouts(feed(e, 'precommit', 0, 'v', [1]))).toEqual([])
    expect(timeouts(feed(e, 'precommit', 0, null, [2]))).toEqual([])
    expect(timeouts(feed(e, 'precommit', 0, 'w', [3]))).toEqual([{ kind: 'precommit', round: 0, durationMs: 500 }])
    expect(e.step).toBe(Step.Propose)
    expect(timeouts(feed(e, 'precommit', 0, 'v', [0]))).toEqual([])
  })
})

describe('line 49: decision', () => {
  it('decides on a valid proposal with 2f+1 precommits; commit is sorted by signer', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    feed(e, 'precommit', 0, 'v', [3, 1])
    expect(e.step).not.toBe(Step.Commit)
    const out = feed(e, 'precommit', 0, 'v', [2])
    const [decision] = ofType(out, 'decide')
    expect(decision).toMatchObject({ height: H, round: 0, valueId: 'v', value: val('v') })
    expect(decision?.commit.map((v) => v.signer)).toEqual([1, 2, 3])
    expect(e.step).toBe(Step.Commit)
  })

  it('needs a valid proposal: precommits alone or for an invalid value decide nothing', () => {
    const e = started(0)
    feed(e, 'precommit', 0, 'v', [1, 2, 3])
    expect(e.step).toBe(Step.Propose)
    const bad = started(0)
    bad.handle(proposalMsg(0, 'v', -1, { valid: false }))
    expect(ofType(feed(bad, 'precommit', 0, 'v', [1, 2, 3]), 'decide')).toEqual([])
  })

  it('decides when the proposal arrives after the precommits, and the commit has all precommits', () => {
    const e = started(0)
    feed(e, 'precommit', 0, 'v', [0, 1, 2, 3])
    const [decision] = ofType(e.handle(proposalMsg(0, 'v')), 'decide')
    expect(decision?.commit.map((v) => v.signer)).toEqual([0, 1, 2, 3])
    expect(decision?.commit[2]).toEqual(signedVote('precommit', 0, 'v', 2))
  })

  it('decides in an older round', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    feed(e, 'precommit', 0, 'v', [1, 2])
    feed(e, 'precommit', 0, null, [3])
    e.handle(timeout('precommit', 0))
    e.handle(timeout('propose', 1))
    expect([e.round, e.step]).toEqual([1, Step.Prevote])
    const out = feed(e, 'precommit', 0, 'v', [0])
    expect(ofType(out, 'decide')).toMatchObject([{ round: 0, valueId: 'v' }])
    expect(e.step).toBe(Step.Commit)
  })

  it('ignores all input for the decided height, then starts the next height', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    feed(e, 'precommit', 0, 'v', [1, 2, 3])
    expect(e.step).toBe(Step.Commit)
    expect(e.handle(timeout('precommit', 0))).toEqual([])
    expect(feed(e, 'prevote', 5, 'x', [1, 2, 3])).toEqual([])
    expect(e.handle(proposalMsg(1, 'x'))).toEqual([])
    expect(e.handle({ type: 'start_height', height: H })).toEqual([])
    const next = e.handle({ type: 'start_height', height: H + 1 })
    expect([e.height, e.round, e.step]).toEqual([H + 1, 0, Step.Propose])
    expect(ofType(next, 'new_round')).toEqual([{ type: 'new_round', height: H + 1, round: 0 }])
    expect(e.roundState()).toMatchObject({ lockedRound: -1, lockedValue: null, validRound: -1, validValue: null })
  })
})

// ---- round skip and timeouts --------------------------------------------------------------------

describe('line 55: f+1 messages from a higher round', () => {
  it('f messages are not enough; f+1 distinct senders start that round', () => {
    const e = started(0)
    expect(feed(e, 'prevote', 3, 'x', [2])).toEqual([])
    expect(e.round).toBe(0)
    feed(e, 'precommit', 3, 'x', [2]) // same sender again
    expect(e.round).toBe(0)
    const out = feed(e, 'precommit', 3, null, [1])
    expect(e.round).toBe(3)
    expect(ofType(out, 'new_round')).toEqual([{ type: 'new_round', height: H, round: 3 }])
    expect(timeouts(out)).toEqual([{ kind: 'propose', round: 3, durationMs: 2500 }])
  })

  it('counts a proposal as a message', () => {
    const e = started(0)
    e.handle(proposalMsg(2, 'w')) // from 3, the proposer of round 2
    expect(e.round).toBe(0)
    const out = feed(e, 'prevote', 2, 'w', [1])
    expect(e.round).toBe(2)
    expect(signedVotes(out)).toEqual([prevote(2, 'w')]) // and the stored proposal triggers line 22
  })

  it('n = 7: 2 senders are not enough, 3 are', () => {
    const e = started(0, 7)
    feed(e, 'prevote', 1, null, [1, 2])
    expect(e.round).toBe(0)
    feed(e, 'prevote', 1, null, [3])
    expect(e.round).toBe(1)
  })

  it('does not go back to a lower round', () => {
    const e = started(0)
    feed(e, 'prevote', 4, null, [1, 2])
    expect(e.round).toBe(4)
    feed(e, 'prevote', 2, null, [1, 2, 3])
    expect(e.round).toBe(4)
  })

  it('drops messages more than MAX_ROUNDS_AHEAD rounds ahead', () => {
    const e = started(0)
    expect(feed(e, 'prevote', MAX_ROUNDS_AHEAD + 1, null, [1, 2, 3])).toEqual([])
    expect(e.round).toBe(0)
    feed(e, 'prevote', MAX_ROUNDS_AHEAD, null, [1, 2])
    expect(e.round).toBe(MAX_ROUNDS_AHEAD)
  })
})

describe('lines 57, 61, 65: timeouts', () => {
  it('propose timeout prevotes nil', () => {
    const e = started(0)
    expect(signedVotes(e.handle(timeout('propose', 0)))).toEqual([prevote(0, null)])
    expect(e.step).toBe(Step.Prevote)
  })

  it('prevote timeout precommits nil', () => {
    const e = started(0)
    e.handle(timeout('propose', 0))
    expect(signedVotes(e.handle(timeout('prevote', 0)))).toEqual([precommit(0, null)])
    expect(e.step).toBe(Step.Precommit)
  })

  it('precommit timeout starts the next round, with longer timeouts', () => {
    const e = started(0)
    const out = e.handle(timeout('precommit', 0))
    expect([e.round, e.step]).toEqual([1, Step.Propose])
    expect(timeouts(out)).toEqual([{ kind: 'propose', round: 1, durationMs: 1500 }])
    e.handle(timeout('propose', 1))
    expect(timeouts(feed(e, 'prevote', 1, null, [1, 2]).concat(feed(e, 'prevote', 1, 'q', [3])))).toEqual([{ kind: 'prevote', round: 1, durationMs: 750 }])
  })

  it('stale timeouts do nothing', () => {
    const e = started(0)
    expect(e.handle(timeout('prevote', 0))).toEqual([]) // wrong step
    expect(e.handle(timeout('propose', 0, H + 1))).toEqual([]) // wrong height
    expect(e.handle(timeout('propose', 1))).toEqual([]) // wrong round
    e.handle(timeout('propose', 0))
    expect(e.handle(timeout('propose', 0))).toEqual([]) // already prevoted
    e.handle(timeout('precommit', 0))
    expect(e.round).toBe(1)
    expect(e.handle(timeout('precommit', 0))).toEqual([]) // old round
    expect(e.handle(timeout('prevote', 1))).toEqual([])
    expect(e.round).toBe(1)
  })
})

// ---- evidence, buffering, persistence ------------------------------------------------------------

describe('evidence', () => {
  it('reports a second, different vote once, and counts the equivocator for each value it voted', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    feed(e, 'prevote', 0, 'v', [2])
    const out = feed(e, 'prevote', 0, null, [2])
    expect(ofType(out, 'evidence')).toEqual([
      { type: 'evidence', evidence: { type: 'duplicate_vote', first: signedVote('prevote', 0, 'v', 2), second: signedVote('prevote', 0, null, 2) } },
    ])
    expect(feed(e, 'prevote', 0, 'w', [2])).toEqual([]) // reported once
    // Algorithm 1 counts senders per value: 2's nil joins 1's and 3's for a nil quorum (line 44).
    expect(signedVotes(feed(e, 'prevote', 0, null, [1, 3]))).toEqual([precommit(0, null)])
  })

  it('reports duplicate proposals from the proposer, keeping the first for line 22', () => {
    const e = started(0)
    expect(signedVotes(e.handle(proposalMsg(0, 'v')))).toEqual([prevote(0, 'v')])
    const out = e.handle(proposalMsg(0, 'w'))
    expect(ofType(out, 'evidence')).toEqual([
      { type: 'evidence', evidence: { type: 'duplicate_proposal', height: H, round: 0, signer: 1, firstValueId: 'v', secondValueId: 'w' } },
    ])
    expect(e.handle(proposalMsg(0, 'w'))).toEqual([]) // the same one again
    // The second proposal is usable for line 36 and 49.
    expect(signedVotes(feed(e, 'prevote', 0, 'w', [1, 2, 3]))).toEqual([precommit(0, 'w')])
    expect(ofType(feed(e, 'precommit', 0, 'w', [1, 2, 3]), 'decide')).toMatchObject([{ valueId: 'w' }])
  })

  it('upgrades an invalid verdict when the same proposal comes again as valid, never the reverse', () => {
    const e = started(0)
    expect(signedVotes(e.handle(proposalMsg(0, 'v', -1, { valid: false })))).toEqual([prevote(0, null)])
    expect(e.handle(proposalMsg(0, 'v', -1, { valid: true }))).toEqual([]) // no evidence, no second prevote
    expect(ofType(feed(e, 'precommit', 0, 'v', [1, 2, 3]), 'decide')).toMatchObject([{ valueId: 'v' }])
    const f = started(0)
    f.handle(proposalMsg(0, 'v'))
    f.handle(proposalMsg(0, 'v', -1, { valid: false }))
    expect(ofType(feed(f, 'precommit', 0, 'v', [1, 2, 3]), 'decide')).toMatchObject([{ valueId: 'v' }])
  })

  it('keeps at most 4 proposals per round', () => {
    const e = started(0)
    const evidence = ['a', 'b', 'c', 'd', 'e', 'f'].flatMap((id) => ofType(e.handle(proposalMsg(0, id)), 'evidence'))
    expect(evidence).toHaveLength(3)
    feed(e, 'precommit', 0, 'e', [1, 2, 3])
    expect(e.step).not.toBe(Step.Commit) // 'e' was dropped
    // 'd' was kept: a quorum for it decides, even from signers who (equivocating) precommitted 'e' too.
    expect(ofType(feed(e, 'precommit', 0, 'd', [1, 2, 3]), 'decide')).toMatchObject([{ valueId: 'd' }])
  })

  it('ignores votes from signers outside the validator set', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'v'))
    expect(feed(e, 'prevote', 0, null, [4, 5, 6])).toEqual([])
    expect(feed(e, 'prevote', 7, null, [4, 5])).toEqual([])
    expect(e.round).toBe(0)
  })
})

describe('next-height buffering', () => {
  it('buffers messages for height + 1 and replays them on start_height', () => {
    const e = started(0)
    expect(e.handle(proposalMsg(0, 'n', -1, { height: H + 1 }))).toEqual([]) // proposer(2, 0) = 2
    expect(feed(e, 'precommit', 0, 'n', [1, 2, 3], H + 1)).toEqual([])
    // Finish height 1.
    e.handle(proposalMsg(0, 'v'))
    feed(e, 'precommit', 0, 'v', [1, 2, 3])
    expect(e.step).toBe(Step.Commit)
    feed(e, 'prevote', 0, 'n', [1], H + 1) // also buffered while in Commit
    const out = e.handle({ type: 'start_height', height: H + 1 })
    expect(signedVotes(out)).toEqual([prevote(0, 'n', H + 1)])
    expect(ofType(out, 'decide')).toMatchObject([{ height: H + 1, round: 0, valueId: 'n' }])
  })

  it('keeps one message per (round, kind, signer), rounds ≤ 50, and drops other heights', () => {
    const e = started(0)
    feed(e, 'prevote', 0, 'a', [1], H + 1)
    feed(e, 'prevote', 0, 'b', [1], H + 1) // dropped: one per signer
    feed(e, 'prevote', MAX_ROUNDS_AHEAD + 1, null, [2, 3], H + 1) // dropped: too far
    feed(e, 'prevote', 0, 'a', [2, 3], H + 2) // dropped: not the next height
    feed(e, 'prevote', 0, 'a', [2, 3], H - 1) // dropped: old
    e.handle(proposalMsg(0, 'a', -1, { height: H + 1, signer: 3 })) // not proposer(2, 0)
    const out = e.handle({ type: 'start_height', height: H + 1 })
    expect(ofType(out, 'evidence')).toEqual([])
    expect(e.round).toBe(0)
    expect(signedVotes(out)).toEqual([])
    // Only signer 1's prevote for a was kept: 2 more make the quorum.
    e.handle(timeout('propose', 0, H + 1))
    const more = feed(e, 'prevote', 0, null, [2, 3], H + 1)
    expect(signedVotes(more)).toEqual([])
    expect(timeouts(more)).toEqual([{ kind: 'prevote', round: 0, durationMs: 500 }])
  })

  it('an idle engine buffers height-1 messages for its first start_height(1)', () => {
    const e = engine(0)
    expect(e.handle(proposalMsg(0, 'v'))).toEqual([])
    expect(signedVotes(e.handle({ type: 'start_height', height: H }))).toEqual([prevote(0, 'v')])
  })

  it('drops the buffer when the next height is skipped', () => {
    const e = started(0)
    e.handle(proposalMsg(0, 'n', -1, { height: H + 1 }))
    const out = e.handle({ type: 'start_height', height: H + 2 })
    expect(signedVotes(out)).toEqual([])
    expect(e.height).toBe(H + 2)
  })
})

describe('persistence', () => {
  /** For every sign_*, the last persist before it must show the state the message belongs to. */
  function assertPersistBeforeSign(effects: readonly Eff[]): number {
    let persisted: PersistedRoundState<string> | undefined
    let checked = 0
    for (const effect of effects) {
      if (effect.type === 'persist') persisted = effect.state
      if (effect.type === 'sign_vote' || effect.type === 'sign_proposal') {
        const msg = effect.type === 'sign_vote' ? effect.vote : effect.proposal
        const step = effect.type === 'sign_proposal' ? Step.Propose : effect.vote.kind === 'prevote' ? Step.Prevote : Step.Precommit
        expect(persisted).toMatchObject({ height: msg.height, round: msg.round, step })
        if (effect.type === 'sign_vote' && effect.vote.kind === 'precommit' && effect.vote.valueId !== null) {
          expect(persisted?.lockedValue?.id).toBe(effect.vote.valueId)
        }
        checked++
      }
    }
    return checked
  }

  it('persists the round state before every sign_* effect', () => {
    const e = engine(1) // proposer of round 0
    const all: Eff[] = []
    const step = (input: Input<string>): void => {
      all.push(...e.handle(input))
    }
    step({ type: 'start_height', height: H })
    step({ type: 'value', height: H, round: 0, valueId: 'v', value: val('v') })
    step(proposalMsg(0, 'v'))
    for (const s of [0, 2, 3]) step(voteMsg('prevote', 0, 'v', s))
    step(timeout('precommit', 0))
    step(timeout('propose', 1))
    step(timeout('prevote', 1))
    // proposal, prevote v, precommit v (round 0); prevote nil, precommit nil (round 1)
    expect(assertPersistBeforeSign(all)).toBe(5)
  })

  it('emits persist immediately before a sign when the state changed, and not again when it did not', () => {
    const e = started(0)
    const out = e.handle(proposalMsg(0, 'v'))
    expect(out.map((x) => x.type)).toEqual(['persist', 'sign_vote'])
    expect(ofType(out, 'persist')[0]?.state).toMatchObject({ height: H, round: 0, step: Step.Prevote })
    expect(e.handle(voteMsg('prevote', 0, 'v', 0))).toEqual([]) // own vote fed back: nothing changed
    const locked = feed(e, 'prevote', 0, 'v', [1, 2])
    expect(locked.map((x) => x.type)).toEqual(['schedule_timeout', 'persist', 'sign_vote'])
    expect(ofType(locked, 'persist')[0]?.state).toMatchObject({ step: Step.Precommit, lockedRound: 0, lockedValue: { id: 'v' } })
  })

  it('persists round changes without a signature too', () => {
    const e = started(0)
    const out = e.handle(timeout('precommit', 0))
    expect(ofType(out, 'persist').map((p) => p.state)).toMatchObject([{ round: 1, step: Step.Propose }])
  })
})

describe('restore and resume', () => {
  const restored: PersistedRoundState<string> = {
    height: 5,
    round: 2,
    step: Step.Prevote,
    lockedRound: 1,
    lockedValue: { id: 'v', value: val('v') },
    validRound: 1,
    validValue: { id: 'v', value: val('v') },
    polVotes: [],
  }

  it('resumes the height, round, step and locks; resume() re-arms the step timeout and signs nothing already signed', () => {
    const e = engine(0, 4, restored)
    expect([e.height, e.round, e.step]).toEqual([5, 2, Step.Prevote])
    expect(e.roundState()).toEqual(restored)
    // The shell feeds back the prevote this node signed before the crash; then resume() only re-arms.
    feed(e, 'prevote', 2, null, [0], 5)
    const out = e.resume()
    expect(out).toEqual([{ type: 'schedule_timeout', kind: 'prevote', height: 5, round: 2, durationMs: 1000 }])
    // The lock survives: a later proposal of w without POL gets nil.
    expect(signedVotes(e.handle(timeout('prevote', 2, 5)))).toEqual([precommit(2, null, 5)])
    e.handle(timeout('precommit', 2, 5))
    expect(e.round).toBe(3)
    expect(signedVotes(e.handle(proposalMsg(3, 'w', -1, { height: 5 })))).toEqual([prevote(3, null, 5)])
  })

  it('signs the vote of the current step when the crash came before it was signed: nil prevote, precommit of a lock of this round', () => {
    expect(signedVotes(engine(0, 4, restored).resume())).toEqual([prevote(2, null, 5)])
    expect(signedVotes(engine(0, 4, { ...restored, step: Step.Precommit }).resume())).toEqual([precommit(2, null, 5)])
    const lockedHere = { ...restored, step: Step.Precommit, lockedRound: 2, validRound: 2 }
    expect(signedVotes(engine(0, 4, lockedHere).resume())).toEqual([precommit(2, restored.lockedValue!.id, 5)])
    expect(signedVotes(engine(null, 4, restored).resume())).toEqual([]) // observers sign nothing
  })

  it('restores the prevotes behind its lock, so the proof of lock survives a crash', () => {
    const pol = [1, 2, 3].map((signer) => signedVote('prevote', restored.lockedRound, restored.lockedValue!.id, signer, 5))
    const e = engine(0, 4, { ...restored, polVotes: pol })
    expect(e.roundState().polVotes).toEqual(pol)
  })

  it('re-arms the propose and precommit timeouts', () => {
    expect(timeouts(engine(0, 4, { ...restored, step: Step.Propose }).resume())).toEqual([{ kind: 'propose', round: 2, durationMs: 2000 }])
    expect(timeouts(engine(0, 4, { ...restored, step: Step.Precommit }).resume())).toEqual([{ kind: 'precommit', round: 2, durationMs: 1000 }])
    expect(engine(0, 4, { ...restored, step: Step.Commit }).resume()).toEqual([])
  })

  it('a restored proposer in the propose step does not propose again', () => {
    // proposer(5, 2) = 3
    const e = engine(3, 4, { ...restored, step: Step.Propose })
    const out = e.resume()
    expect(signedProposals(out)).toEqual([])
    expect(ofType(out, 'build_value')).toEqual([])
    expect(e.handle({ type: 'value', height: 5, round: 2, valueId: 'z', value: val('z') })).toEqual([])
  })

  it('does not persist the restored state again before the next change', () => {
    const e = engine(0, 4, { ...restored, step: Step.Propose })
    const out = e.handle(timeout('propose', 2, 5))
    expect(out.map((x) => x.type)).toEqual(['persist', 'sign_vote'])
  })

  it('a restored engine waiting in Commit starts the next height', () => {
    const e = engine(0, 4, { ...restored, step: Step.Commit })
    e.handle({ type: 'start_height', height: 6 })
    expect([e.height, e.round, e.step]).toEqual([6, 0, Step.Propose])
  })

  it('rejects inconsistent restored states', () => {
    expect(() => engine(0, 4, { ...restored, lockedValue: null })).toThrow(RangeError)
    expect(() => engine(0, 4, { ...restored, lockedRound: 3 })).toThrow(RangeError)
    expect(() => engine(0, 4, { ...restored, step: 9 as Step })).toThrow(RangeError)
  })
})

describe('observer', () => {
  it('follows the protocol to a decision without signing, proposing or persisting', () => {
    const e = started(null)
    const out = [
      ...e.handle(proposalMsg(0, 'v')),
      ...feed(e, 'prevote', 0, 'v', [0, 1, 2]),
      ...e.handle(timeout('propose', 0)),
      ...e.handle(timeout('prevote', 0)),
      ...feed(e, 'precommit', 0, 'v', [0, 1, 2]),
    ]
    expect(out.filter((x) => x.type === 'sign_vote' || x.type === 'sign_proposal' || x.type === 'persist' || x.type === 'build_value')).toEqual([])
    expect(ofType(out, 'decide')).toMatchObject([{ valueId: 'v' }])
  })
})

// ---- a small network ------------------------------------------------------------------------------

describe('four engines in lockstep', () => {
  function run(n: number, faulty: ReadonlySet<number>, heights: number): string[][] {
    const engines = Array.from({ length: n }, (_, i) => engine(i, n))
    const decided: string[][] = engines.map(() => [])
    const queue: { to: number; input: Input<string> }[] = []
    const pendingTimeouts: { to: number; input: Input<string>; at: number }[] = []
    let now = 0
    const apply = (i: number, effects: Eff[]): void => {
      for (const effect of effects) {
        switch (effect.type) {
          case 'build_value':
            queue.push({ to: i, input: { type: 'value', height: effect.height, round: effect.round, valueId: `b${effect.height}.${effect.round}.${i}`, value: `block ${effect.height}` } })
            break
          case 'sign_proposal':
            for (let j = 0; j < n; j++) queue.push({ to: j, input: { type: 'proposal', proposal: { ...effect.proposal, signer: i, signature: new Uint8Array() }, valid: true } })
            break
          case 'sign_vote':
            for (let j = 0; j < n; j++) queue.push({ to: j, input: { type: 'vote', vote: { ...effect.vote, signer: i, timestampMs: now, signature: new Uint8Array() } } })
            break
          case 'schedule_timeout':
            pendingTimeouts.push({ to: i, input: { type: 'timeout', kind: effect.kind, height: effect.height, round: effect.round }, at: now + effect.durationMs })
            break
          case 'decide':
            decided[i]?.push(effect.valueId)
            expect(effect.commit.length).toBeGreaterThanOrEqual(Math.floor((2 * n) / 3) + 1)
            queue.push({ to: i, input: { type: 'start_height', height: effect.height + 1 } })
            break
          default:
            break
        }
      }
    }
    engines.forEach((e, i) => {
      if (!faulty.has(i)) apply(i, e.handle({ type: 'start_height', height: 1 }))
    })
    for (let steps = 0; steps < 100_000; steps++) {
      if (decided.every((d, i) => faulty.has(i) || d.length >= heights)) break
      const next = queue.shift()
      if (next !== undefined) {
        if (!faulty.has(next.to)) apply(next.to, (engines[next.to] as ConsensusEngine<string>).handle(next.input))
        continue
      }
      pendingTimeouts.sort((a, b) => a.at - b.at || a.to - b.to)
      const t = pendingTimeouts.shift()
      if (t === undefined) break
      now = t.at
      if (!faulty.has(t.to)) apply(t.to, (engines[t.to] as ConsensusEngine<string>).handle(t.input))
    }
    return decided
  }

  it('all decide the same values, height after height', () => {
    const decided = run(4, new Set(), 3)
    expect(decided[0]).toHaveLength(3)
    for (const d of decided) expect(d.slice(0, 3)).toEqual(decided[0]?.slice(0, 3))
  })

  it('decides with one silent validator, also when it is a proposer (n = 4 and n = 7)', () => {
    const four = run(4, new Set([2]), 3)
    expect(four[0]?.slice(0, 3)).toEqual(four[1]?.slice(0, 3))
    expect(four[0]?.slice(0, 3)).toEqual(four[3]?.slice(0, 3))
    expect(four[0]).toHaveLength(3)
    const seven = run(7, new Set([1, 5]), 2)
    expect(seven[0]?.slice(0, 2)).toEqual(seven[6]?.slice(0, 2))
    expect(seven[0]).toHaveLength(2)
  })
})
