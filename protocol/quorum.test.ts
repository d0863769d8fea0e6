import { describe, expect, it } from 'vitest'
import { commitQuorum, honestWitness, maxFaulty } from './quorum.js'

describe('BFT quorum sizes', () => {
  // n, f = ⌊(n−1)/3⌋, commit quorum = ⌊2n/3⌋ + 1, honest witness = f + 1
  it.each([
    [1, 0, 1, 1],
    [2, 0, 2, 1],
    [3, 0, 3, 1],
    [4, 1, 3, 2],
    [5, 1, 4, 2],
    [6, 1, 5, 2],
    [7, 2, 5, 3],
    [8, 2, 6, 3],
    [9, 2, 7, 3],
    [10, 3, 7, 4],
  ])('n = %i: f = %i, commit quorum = %i, honest witness = %i', (n, f, q, w) => {
    expect(maxFaulty(n)).toBe(f)
    expect(commitQuorum(n)).toBe(q)
    expect(honestWitness(n)).toBe(w)
  })

  it('n = 3f + 1 needs exactly 2f + 1 votes', () => {
    for (let f = 0; f <= 20; f++) {
      expect(maxFaulty(3 * f + 1)).toBe(f)
      expect(commitQuorum(3 * f + 1)).toBe(2 * f + 1)
    }
  })

  it('for n = 1..50 two commit quorums share more than f guardians, so at least one honest', () => {
    for (let n = 1; n <= 50; n++) {
      const f = maxFaulty(n)
      const q = commitQuorum(n)
      expect(q, `n=${n}`).toBeLessThanOrEqual(n)
      // Smallest possible overlap of two quorums of size q among n guardians.
      expect(2 * q - n, `n=${n}`).toBeGreaterThan(f)
      // A quorum is reachable with all f faulty guardians silent (liveness).
      expect(n - f, `n=${n}`).toBeGreaterThanOrEqual(q)
      // More than two thirds.
      expect(3 * q, `n=${n}`).toBeGreaterThan(2 * n)
      // f + 1 voices always include an honest one, and never exceed a quorum.
      expect(honestWitness(n), `n=${n}`).toBe(f + 1)
      expect(honestWitness(n), `n=${n}`).toBeLessThanOrEqual(q)
    }
  })

  it.each([[0], [-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY]])('rejects guardian count %s', (n) => {
    expect(() => maxFaulty(n)).toThrow(RangeError)
    expect(() => commitQuorum(n)).toThrow(RangeError)
    expect(() => honestWitness(n)).toThrow(RangeError)
  })
})
