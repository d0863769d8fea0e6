/**
 * Redial delay after `failures` consecutive failures: exponential from `minMs`, capped at
 * `maxMs`, with ±20 % jitter (`random` in [0, 1)) so guardians restarted together do not dial
 * in lockstep.
 */
export function redialDelay(failures: number, minMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(failures, 30))
  const jitter = 1 + (random * 0.4 - 0.2)
  return Math.max(minMs, Math.min(maxMs, Math.round(base * jitter)))
}
