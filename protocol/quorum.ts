/**
 * BFT quorum math for n guardians: at most f = ⌊(n−1)/3⌋ may be faulty, and a commit needs
 * more than two thirds, ⌊2n/3⌋ + 1 (= 2f+1 when n = 3f+1).
 */
export function maxFaulty(n: number): number {
  assertSize(n)
  return Math.floor((n - 1) / 3)
}

export function commitQuorum(n: number): number {
  assertSize(n)
  return Math.floor((2 * n) / 3) + 1
}

/** f+1 voices include at least one honest guardian (Tendermint's round-skip rule). */
export function honestWitness(n: number): number {
  return maxFaulty(n) + 1
}

function assertSize(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`guardian count must be a positive integer, got ${n}`)
}
