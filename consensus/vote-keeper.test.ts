import { describe, expect, it } from 'vitest'
import type { SignedVote, VoteKind } from './types.js'
import { MAX_VALUES_PER_SIGNER, VoteKeeper } from './vote-keeper.js'

const vote = (kind: VoteKind, round: number, valueId: string | null, signer: number, height = 1, timestampMs = 0): SignedVote => ({
  kind,
  height,
  round,
  valueId,
  signer,
  timestampMs,
  signature: new Uint8Array([signer]),
})

describe('VoteKeeper', () => {
  it('counts votes per (round, kind, value) and in total', () => {
    const k = new VoteKeeper(1, 4)
    expect(k.quorum).toBe(3)
    expect(k.add(vote('prevote', 0, 'aa', 0)).status).toBe('added')
    expect(k.add(vote('prevote', 0, 'aa', 1)).status).toBe('added')
    expect(k.add(vote('prevote', 0, null, 2)).status).toBe('added')
    expect(k.add(vote('precommit', 0, 'aa', 0)).status).toBe('added')
    expect(k.count(0, 'prevote', 'aa')).toBe(2)
    expect(k.count(0, 'prevote', null)).toBe(1)
    expect(k.count(0, 'prevote', 'bb')).toBe(0)
    expect(k.total(0, 'prevote')).toBe(3)
    expect(k.total(0, 'precommit')).toBe(1)
    expect(k.total(1, 'prevote')).toBe(0)
    expect(k.hasQuorumAny(0, 'prevote')).toBe(true)
    expect(k.hasQuorum(0, 'prevote', 'aa')).toBe(false)
    expect(k.add(vote('prevote', 0, 'aa', 3)).status).toBe('added')
    expect(k.hasQuorum(0, 'prevote', 'aa')).toBe(true)
  })

  it('ignores a repeated vote with the same value', () => {
    const k = new VoteKeeper(1, 4)
    k.add(vote('prevote', 0, 'aa', 1))
    expect(k.add(vote('prevote', 0, 'aa', 1, 1, 99)).status).toBe('ignored')
    expect(k.count(0, 'prevote', 'aa')).toBe(1)
  })

  it('reports equivocation once per (round, kind, signer), and counts the equivocator once for each value', () => {
    const k = new VoteKeeper(1, 4)
    const first = vote('precommit', 2, 'aa', 3)
    const second = vote('precommit', 2, 'bb', 3)
    k.add(first)
    const outcome = k.add(second)
    expect(outcome).toEqual({ status: 'equivocation', evidence: { type: 'duplicate_vote', first, second } })
    expect(k.add(vote('precommit', 2, null, 3)).status).toBe('added') // counted for nil, not reported again
    expect(k.add(second).status).toBe('ignored') // the same vote again
    expect(k.count(2, 'precommit', 'aa')).toBe(1)
    expect(k.count(2, 'precommit', 'bb')).toBe(1)
    expect(k.count(2, 'precommit', null)).toBe(1)
    expect(k.total(2, 'precommit')).toBe(1) // distinct signers
    expect(k.voteOf(2, 'precommit', 3)).toBe(first)
    // The same signer may vote differently in another kind or round.
    expect(k.add(vote('prevote', 2, 'bb', 3)).status).toBe('added')
    expect(k.add(vote('precommit', 3, 'bb', 3)).status).toBe('added')
  })

  it('counts at most MAX_VALUES_PER_SIGNER values per signer (memory bound against a spraying equivocator)', () => {
    const k = new VoteKeeper(1, 4)
    const values = Array.from({ length: MAX_VALUES_PER_SIGNER + 3 }, (_, i) => `v${i}`)
    const statuses = values.map((v) => k.add(vote('prevote', 0, v, 1)).status)
    expect(statuses.filter((st) => st !== 'ignored')).toHaveLength(MAX_VALUES_PER_SIGNER)
    expect(values.filter((v) => k.count(0, 'prevote', v) === 1)).toHaveLength(MAX_VALUES_PER_SIGNER)
  })

  it('treats nil versus a value as equivocation', () => {
    const k = new VoteKeeper(1, 4)
    k.add(vote('prevote', 0, null, 0))
    expect(k.add(vote('prevote', 0, 'aa', 0)).status).toBe('equivocation')
  })

  it('ignores votes of another height or from signers outside the set', () => {
    const k = new VoteKeeper(1, 4)
    expect(k.add(vote('prevote', 0, 'aa', 4)).status).toBe('ignored')
    expect(k.add(vote('prevote', 0, 'aa', -1)).status).toBe('ignored')
    expect(k.add(vote('prevote', 0, 'aa', 0, 2)).status).toBe('ignored')
    expect(k.total(0, 'prevote')).toBe(0)
    expect(k.rounds()).toEqual([])
  })

  it('tracks distinct senders of any message per round, proposals included', () => {
    const k = new VoteKeeper(1, 4)
    k.add(vote('prevote', 3, 'aa', 1))
    k.add(vote('precommit', 3, 'aa', 1))
    expect(k.senders(3)).toBe(1)
    k.noteSender(3, 2)
    expect(k.senders(3)).toBe(2)
    k.noteSender(3, 9) // outside the set
    expect(k.senders(3)).toBe(2)
    k.add(vote('prevote', 1, null, 0))
    k.noteSender(7, 0)
    expect(k.rounds()).toEqual([1, 3, 7])
  })

  it('returns votes for a value sorted by signer and lists precommit quorums as they form', () => {
    const k = new VoteKeeper(1, 4)
    for (const s of [3, 0, 2]) k.add(vote('precommit', 1, 'aa', s))
    k.add(vote('precommit', 1, 'aa', 1))
    for (const s of [0, 1, 2]) k.add(vote('precommit', 0, null, s)) // nil quorums are not decision candidates
    expect(k.votesFor(1, 'precommit', 'aa').map((v) => v.signer)).toEqual([0, 1, 2, 3])
    expect(k.precommitQuorums()).toEqual([{ round: 1, valueId: 'aa' }])
    for (const s of [1, 2, 3]) k.add(vote('prevote', 0, 'bb', s))
    expect(k.precommitQuorums()).toEqual([{ round: 1, valueId: 'aa' }])
  })

  it('uses ⌊2n/3⌋+1 for n = 7', () => {
    const k = new VoteKeeper(1, 7)
    expect(k.quorum).toBe(5)
    for (const s of [0, 1, 2, 3]) k.add(vote('prevote', 0, 'aa', s))
    expect(k.hasQuorum(0, 'prevote', 'aa')).toBe(false)
    k.add(vote('prevote', 0, 'aa', 6))
    expect(k.hasQuorum(0, 'prevote', 'aa')).toBe(true)
  })
})
