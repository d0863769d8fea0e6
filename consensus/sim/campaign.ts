import type { ViolationKind } from './invariants.js'
import type { VariantName } from './mutants.js'
import { runSeed, type RunOptions, type RunResult } from './run.js'

export interface CampaignOptions {
  readonly start: number
  readonly count: number
  /** Fixed n, or (default) 4 or 7 drawn from each seed. */
  readonly n?: number
  readonly variant?: VariantName
  readonly scenarioOptions?: RunOptions['scenarioOptions']
  readonly makeEngine?: RunOptions['makeEngine']
  readonly onResult?: (result: RunResult, done: number) => void
}

export interface CampaignFailure {
  readonly seed: number
  readonly n: number
  readonly kinds: readonly ViolationKind[]
  readonly message: string
}

export interface CampaignSummary {
  readonly runs: number
  readonly start: number
  readonly variant: VariantName
  readonly runsByN: Readonly<Record<number, number>>
  readonly ok: number
  readonly failed: number
  readonly byKind: Readonly<Partial<Record<ViolationKind, number>>>
  readonly failures: readonly CampaignFailure[]
  /** How many runs had each fault (a run counts once per kind). */
  readonly coverage: Readonly<Record<string, number>>
  readonly meanHonestHeight: number
  readonly minHonestHeight: number
  readonly maxRound: number
  readonly totals: { readonly crashes: number; readonly restarts: number; readonly syncedBlocks: number; readonly guardRefusals: number; readonly evidence: number }
  readonly events: { readonly total: number; readonly meanPerRun: number; readonly max: number }
  readonly virtualTimeMs: { readonly mean: number; readonly max: number }
}

/** Runs seeds start..start+count−1 and sums them up. */
export function runCampaign(opts: CampaignOptions): CampaignSummary {
  const failures: CampaignFailure[] = []
  const byKind: Partial<Record<ViolationKind, number>> = {}
  const runsByN: Record<number, number> = {}
  const coverage: Record<string, number> = {}
  const totals = { crashes: 0, restarts: 0, syncedBlocks: 0, guardRefusals: 0, evidence: 0 }
  let totalEvents = 0
  let maxEvents = 0
  let totalVirtual = 0
  let maxVirtual = 0
  let maxRound = 0
  let minHeight = Infinity
  let sumHeight = 0
  let heightCount = 0
  const cover = (key: string): void => void (coverage[key] = (coverage[key] ?? 0) + 1)
  for (let i = 0; i < opts.count; i++) {
    const r = runSeed({ seed: opts.start + i, n: opts.n, variant: opts.variant, scenarioOptions: opts.scenarioOptions, makeEngine: opts.makeEngine })
    runsByN[r.n] = (runsByN[r.n] ?? 0) + 1
    totalEvents += r.events
    maxEvents = Math.max(maxEvents, r.events)
    totalVirtual += r.virtualTimeMs
    maxVirtual = Math.max(maxVirtual, r.virtualTimeMs)
    maxRound = Math.max(maxRound, r.stats.maxRound)
    totals.crashes += r.stats.crashes
    totals.restarts += r.stats.restarts
    totals.syncedBlocks += r.stats.syncedBlocks
    totals.guardRefusals += r.stats.guardRefusals
    totals.evidence += r.stats.evidence
    for (const kind of new Set(r.byzantine.map((b) => b.split(':')[1]!.replace('+silent', '')))) cover(`byzantine:${kind}`)
    for (const point of new Set(r.faults.crashPoints)) cover(`crash:${point}`)
    if (r.faults.partitions > 0) cover('partition')
    if (r.stats.syncedBlocks > 0) cover('block_sync')
    if (r.stats.maxRound > 0) cover('round_change')
    for (const h of Object.values(r.heights)) {
      minHeight = Math.min(minHeight, h)
      sumHeight += h
      heightCount++
    }
    if (!r.ok) {
      const kinds = [...new Set(r.violations.map((v) => v.kind))]
      for (const k of kinds) byKind[k] = (byKind[k] ?? 0) + 1
      failures.push({ seed: r.seed, n: r.n, kinds, message: r.violations[0]!.message })
    }
    opts.onResult?.(r, i + 1)
  }
  const runs = opts.count
  return {
    runs,
    start: opts.start,
    variant: opts.variant ?? 'none',
    runsByN,
    ok: runs - failures.length,
    failed: failures.length,
    byKind,
    failures,
    coverage,
    meanHonestHeight: heightCount === 0 ? 0 : Number((sumHeight / heightCount).toFixed(2)),
    minHonestHeight: heightCount === 0 ? 0 : minHeight,
    maxRound,
    totals,
    events: { total: totalEvents, meanPerRun: runs === 0 ? 0 : Math.round(totalEvents / runs), max: maxEvents },
    virtualTimeMs: { mean: runs === 0 ? 0 : Math.round(totalVirtual / runs), max: maxVirtual },
  }
}
