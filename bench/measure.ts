import { performance } from 'node:perf_hooks'

export interface RateResult {
  readonly ops: number
  readonly seconds: number
  readonly perSecond: number
}

/**
 * Runs `op` repeatedly: first for `warmupMs` (discarded), then for `durationMs`, and returns
 * the measured rate. The clock is read once per batch so timing overhead stays negligible.
 */
export function measureRate(op: (i: number) => void, durationMs = 1500, warmupMs = 300, batch = 32): RateResult {
  let i = 0
  const warmEnd = performance.now() + warmupMs
  while (performance.now() < warmEnd) for (let k = 0; k < batch; k++) op(i++)
  let ops = 0
  const start = performance.now()
  const end = start + durationMs
  let now = start
  while (now < end) {
    for (let k = 0; k < batch; k++) op(i++)
    ops += batch
    now = performance.now()
  }
  const seconds = (now - start) / 1000
  return { ops, seconds, perSecond: ops / seconds }
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

export function round(value: number, decimals = 0): number {
  const f = 10 ** decimals
  return Math.round(value * f) / f
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}
