import { describe, expect, it } from 'vitest'
import { Step } from '../index.js'
import { runSeed } from './run.js'
import { targeted } from './test-helpers/scenarios.js'

describe('crash between the durable write and the send', () => {
  it('crash after signing a prevote, before sending it: the restarted node sends the same vote, nobody double-signs, the chain goes on', () => {
    const result = runSeed({
      seed: 1,
      n: 4,
      trace: true,
      adjust: targeted([{ index: 2, atMs: 0, downMs: 700, point: 'after_sign', filter: { height: 2, step: 2 } }]),
    })
    expect(result.violations).toEqual([])
    expect(result.stats.crashes).toBe(1)
    expect(result.stats.restarts).toBe(1)
    const trace = result.trace!
    expect(trace.some((l) => /n2 crash after signing, before sending \(.*last signed prevote h2 r0/.test(l))).toBe(true)
    expect(trace.some((l) => /n2 restart from round state h2 r0 step2/.test(l))).toBe(true)
    // Validator 3 is silent: nothing at height 2 could be decided without validator 2's prevote, which was
    // never sent before the crash; it reached the others after the restart.
    for (const h of Object.values(result.heights)) expect(h).toBeGreaterThanOrEqual(6)
  })

  it('crash after signing a precommit, before sending it', () => {
    const result = runSeed({
      seed: 2,
      n: 4,
      adjust: targeted([{ index: 1, atMs: 0, downMs: 1500, point: 'after_sign', filter: { height: 3, step: 3 } }]),
    })
    expect(result.violations).toEqual([])
    expect(result.stats.restarts).toBe(1)
    for (const h of Object.values(result.heights)) expect(h).toBeGreaterThanOrEqual(6)
  })

  it('crash after persisting the round state, before signing, with all four validators up: the others carry on', () => {
    const result = runSeed({
      seed: 3,
      n: 4,
      adjust: targeted([{ index: 2, atMs: 0, downMs: 700, point: 'after_persist', filter: { height: 2, step: Step.Prevote } }], { allHonest: true }),
    })
    expect(result.violations).toEqual([])
    expect(result.stats.restarts).toBe(1)
    for (const h of Object.values(result.heights)) expect(h).toBeGreaterThanOrEqual(6)
  })

  it('clean crashes of every honest node (one after another) lose no safety and the chain continues', () => {
    const result = runSeed({
      seed: 4,
      n: 4,
      adjust: targeted(
        [
          { index: 0, atMs: 500, downMs: 400, point: 'clean' },
          { index: 1, atMs: 1200, downMs: 400, point: 'clean' },
          { index: 2, atMs: 2100, downMs: 400, point: 'clean' },
        ],
        { allHonest: true },
      ),
    })
    expect(result.violations).toEqual([])
    expect(result.stats.restarts).toBe(3)
    for (const h of Object.values(result.heights)) expect(h).toBeGreaterThanOrEqual(6)
  })
})
