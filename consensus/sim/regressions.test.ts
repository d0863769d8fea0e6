import { describe, expect, it } from 'vitest'
import { ConsensusEngine, DEFAULT_TIMEOUTS, Step, type Effect, type Input, type SignedVote, type ValueId, type VoteKind } from '../index.js'
import { runSeed } from './run.js'
import { targeted } from './test-helpers/scenarios.js'

/**
 * Regression tests for the liveness bugs the simulator found in the engine and the shells
 * (all fixed). Each names the campaign seed that showed the bug in a full run; the comments
 * say what went wrong before the fix.
 */
describe('liveness bugs the simulator found stay fixed', () => {
  it('a node that crashed after persisting its new step but before signing still sends that vote (n = 4, one validator silent)', () => {
    // Before the fix `resume()` only re-armed the step's timeout. The round state on disk said "prevote step", so the
    // restarted engine never prevoted in that round; with validator 3 silent the two others never saw
    // 2f+1 prevotes, armed no prevote timeout, and the height stalled for good.
    // Campaign replays: npm run sim -- --seed 47 --n 4 ; npm run sim -- --seed 125 --n 4
    const result = runSeed({
      seed: 5,
      n: 4,
      adjust: targeted([{ index: 2, atMs: 0, downMs: 700, point: 'after_persist', filter: { height: 2, step: Step.Prevote } }]),
    })
    expect(result.violations.map((v) => v.message)).toEqual([])
  })

  it('the same after persisting the precommit step', () => {
    const result = runSeed({
      seed: 6,
      n: 4,
      adjust: targeted([{ index: 1, atMs: 0, downMs: 700, point: 'after_persist', filter: { height: 2, step: Step.Precommit } }]),
    })
    expect(result.violations.map((v) => v.message)).toEqual([])
  })

  it('a prevote equivocator cannot lock one honest node on a POL the others cannot count (npm run sim -- --seed 997 --n 4)', () => {
    // The vote keeper counts only a signer's first prevote. Validator 0 sends v to one node and nil to the
    // others; that node sees 2f+1 for v and locks, the others never can (they hold 0's nil first), so the
    // locked node's re-proposal of v is never prevoted and nothing else gets past its lock.
    const result = runSeed({ seed: 997, n: 4 })
    expect(result.byzantine).toEqual(['0:double_vote'])
    expect(result.violations.map((v) => v.message)).toEqual([])
  })

  it('nor can Twins (npm run sim -- --seed 64 --n 4)', () => {
    const result = runSeed({ seed: 64, n: 4 })
    expect(result.byzantine).toEqual(['2:twins'])
    expect(result.violations.map((v) => v.message)).toEqual([])
  })

  it('the prevotes behind a lock survive a crash (npm run sim -- --seed 2331 --n 4)', () => {
    // Validator 2 locks on v in round 0 on prevotes from 1, 2 and the equivocator 0 (which sent nil to
    // the others), then crashes; the round state keeps the lock but not the 2f+1 prevotes behind it.
    // Validator 3 was down when 0's v prevote reached it, and 0 goes silent at GST: nobody can show
    // the POL again, 2 never prevotes anything else, and with 0 silent nothing gets 2f+1. Persisting
    // the POL of lockedRound/validRound (or a WAL of the height's received votes) and feeding it back
    // on restart fixes it.
    const result = runSeed({ seed: 2331, n: 4 })
    expect(result.byzantine).toEqual(['0:double_vote+silent'])
    expect(result.violations.map((v) => v.message)).toEqual([])
  })

  it('Algorithm 1 line 28 counts every sender of a prevote for v, also one that prevoted nil to us first', () => {
    // n = 4, self = 0; validator 3 equivocates in round 0 (nil first, then v). Validators 1, 2 and 3 prevoted
    // v in round 0, so the round-1 proposal of v with polRound 0 has its 2f+1 and must get our prevote.
    const v = 'aa'.repeat(32)
    const engine = new ConsensusEngine<string>({ n: 4, self: 0, timeouts: DEFAULT_TIMEOUTS })
    const feed = (input: Input<string>): Effect<string>[] => engine.handle(input)
    const vote = (kind: VoteKind, round: number, signer: number, valueId: ValueId | null): Input<string> => ({
      type: 'vote',
      vote: { kind, height: 1, round, signer, valueId, timestampMs: kind === 'precommit' ? 1 : 0, signature: new Uint8Array([signer]) } satisfies SignedVote,
    })
    feed({ type: 'start_height', height: 1 })
    feed({ type: 'timeout', kind: 'propose', height: 1, round: 0 })
    feed(vote('prevote', 0, 0, null))
    feed(vote('prevote', 0, 1, v))
    feed(vote('prevote', 0, 2, v))
    feed(vote('prevote', 0, 3, null))
    feed({ type: 'timeout', kind: 'prevote', height: 1, round: 0 })
    feed(vote('precommit', 0, 0, null))
    feed(vote('precommit', 0, 1, null))
    feed(vote('precommit', 0, 2, v))
    feed({ type: 'timeout', kind: 'precommit', height: 1, round: 0 })
    expect(engine.round).toBe(1)
    feed(vote('prevote', 0, 3, v)) // relayed to us later: validator 3's other round-0 prevote
    const effects = feed({
      type: 'proposal',
      valid: true,
      proposal: { height: 1, round: 1, polRound: 0, valueId: v, value: 'v', signer: 2, signature: new Uint8Array([2]) },
    })
    expect(effects.filter((e) => e.type === 'sign_vote')).toEqual([{ type: 'sign_vote', vote: { kind: 'prevote', height: 1, round: 1, valueId: v } }])
  })
})
