import { describe, expect, it } from 'vitest'
import { makeScenario } from './scenario.js'
import { runSeed } from './run.js'

describe('determinism', () => {
  it('the same seed gives the identical trace and result twice', () => {
    for (const [seed, n] of [
      [3, 4],
      [64, 4],
      [11, 7],
      [23, 7],
    ] as const) {
      const a = runSeed({ seed, n, trace: true })
      const b = runSeed({ seed, n, trace: true })
      expect(a.trace!.length).toBeGreaterThan(100)
      expect(b.trace).toEqual(a.trace)
      expect(b).toEqual(a)
      // Tracing does not change the run.
      const { trace: _trace, ...untraced } = a
      expect(runSeed({ seed, n })).toEqual(untraced)
    }
  })

  it('different seeds give different scenarios and traces', () => {
    expect(makeScenario(1, 4)).not.toEqual(makeScenario(2, 4))
    expect(runSeed({ seed: 1, n: 4, trace: true }).trace).not.toEqual(runSeed({ seed: 2, n: 4, trace: true }).trace)
  })

  it('the scenario of a seed is a pure function of (seed, n)', () => {
    expect(makeScenario(12345, 7)).toEqual(makeScenario(12345, 7))
    const s = makeScenario(12345, 7)
    expect(s.byzantine.length).toBeLessThanOrEqual(s.f)
    for (const p of s.partitions) expect(p.endMs).toBeLessThanOrEqual(s.gstMs)
  })
})
