/**
 * Deterministic proposer rotation: proposer(h, r) = (h + r) mod n. Every validator computes the
 * same proposer from public data, and a round change moves the role to the next validator.
 */
export function proposerFor(height: number, round: number, n: number): number {
  if (!Number.isSafeInteger(height) || height < 0) throw new RangeError(`height must be a non-negative integer, got ${height}`)
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`)
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`validator count must be a positive integer, got ${n}`)
  // Reduce each term first so that height + round cannot leave the safe-integer range.
  return ((height % n) + (round % n)) % n
}
