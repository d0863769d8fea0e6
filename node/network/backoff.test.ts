import { describe, expect, it } from 'vitest'
import { redialDelay } from './backoff.js'

const MIN = 100
const MAX = 30_000
/** random = 0.5 gives a jitter factor of exactly 1. */
const MID = 0.5

describe('redialDelay', () => {
  it('doubles with each failure from minMs', () => {
    expect([0, 1, 2, 3, 4, 5].map((f) => redialDelay(f, MIN, MAX, MID))).toEqual([100, 200, 400, 800, 1600, 3200])
  })

  it('is capped at maxMs, however many failures', () => {
    for (const failures of [9, 10, 20, 30, 31, 100, 1e6]) {
      for (const random of [0, MID, 0.999_999]) expect(redialDelay(failures, MIN, MAX, random)).toBeLessThanOrEqual(MAX)
    }
    expect(redialDelay(9, MIN, MAX, MID)).toBe(MAX) // 100·512 = 51200, capped
    expect(redialDelay(1e6, MIN, MAX, MID)).toBe(MAX)
    expect(Number.isFinite(redialDelay(Number.MAX_SAFE_INTEGER, MIN, MAX, 0.999_999))).toBe(true)
  })

  it('never goes below minMs, even with the most negative jitter', () => {
    for (let failures = 0; failures < 40; failures++) {
      for (const random of [0, 0.1, MID, 0.9, 0.999_999]) expect(redialDelay(failures, MIN, MAX, random)).toBeGreaterThanOrEqual(MIN)
    }
    expect(redialDelay(0, MIN, MAX, 0)).toBe(MIN)
  })

  it('applies jitter within ±20 % of the exponential base', () => {
    const base = 1600 // failures = 4
    for (let i = 0; i <= 100; i++) {
      const random = Math.min(i / 100, 0.999_999)
      const delay = redialDelay(4, MIN, MAX, random)
      expect(delay).toBeGreaterThanOrEqual(base * 0.8)
      expect(delay).toBeLessThanOrEqual(base * 1.2)
    }
    expect(redialDelay(4, MIN, MAX, 0)).toBe(1280)
    expect(redialDelay(4, MIN, MAX, 0.25)).toBe(1440)
    expect(redialDelay(4, MIN, MAX, 0.75)).toBe(1760)
    expect(redialDelay(4, MIN, MAX, 0.999_999)).toBe(1920)
  })

  it('spreads delays: different random inputs give different delays', () => {
    const delays = new Set([0, 0.2, 0.4, 0.6, 0.8].map((r) => redialDelay(5, MIN, MAX, r)))
    expect(delays.size).toBe(5)
  })

  it('returns whole milliseconds and grows monotonically for a fixed random', () => {
    let previous = 0
    for (let failures = 0; failures < 20; failures++) {
      const delay = redialDelay(failures, MIN, MAX, 0.37)
      expect(Number.isInteger(delay)).toBe(true)
      expect(delay).toBeGreaterThanOrEqual(previous)
      previous = delay
    }
  })
})
