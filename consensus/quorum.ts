import { commitQuorum, maxFaulty } from '../protocol/index.js'

/** The two thresholds Algorithm 1 uses, for n validators of equal power. */
export interface Thresholds {
  /** 2f+1 in the paper: ⌊2n/3⌋ + 1. */
  readonly quorum: number
  /** f+1: at least one correct sender (the round-skip rule, line 55). */
  readonly honestWitness: number
  /** f = ⌊(n−1)/3⌋. */
  readonly f: number
}

export function thresholds(n: number): Thresholds {
  const f = maxFaulty(n)
  return { quorum: commitQuorum(n), honestWitness: f + 1, f }
}
