import { isVariantName, type VariantName } from './mutants.js'
import { runSeed, type RunResult } from './run.js'

/**
 * npm run sim -- --seeds 100000 --n 7            campaign over seeds 0..99999 (--start S to shift)
 * npm run sim -- --seed 42 --n 4 [--trace]       replay one seed (with its event trace)
 * Options: --variant ignore-lock|amnesia|amnesia-no-guard (deliberately broken builds).
 * Progress and violations go to stderr; the last stdout line is a JSON summary; exit 1 on any
 * violation.
 */
const HELP = `usage: npm run sim -- --seeds COUNT [--start S] [--n 4|7] [--variant V]
       npm run sim -- --seed S [--n 4|7] [--variant V] [--trace]`

interface Args {
  seed?: number
  seeds?: number
  start: number
  n?: number
  trace: boolean
  variant: VariantName
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { start: 0, trace: false, variant: 'none' }
  const int = (flag: string, value: string | undefined, min: number): number => {
    const x = Number(value)
    if (value === undefined || !Number.isSafeInteger(x) || x < min) throw new Error(`${flag} needs an integer ≥ ${min}`)
    return x
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    switch (flag) {
      case '--seed':
        args.seed = int(flag, argv[++i], 0)
        break
      case '--seeds':
        args.seeds = int(flag, argv[++i], 1)
        break
      case '--start':
        args.start = int(flag, argv[++i], 0)
        break
      case '--n':
        args.n = int(flag, argv[++i], 1)
        break
      case '--trace':
        args.trace = true
        break
      case '--variant': {
        const v = argv[++i] ?? ''
        if (!isVariantName(v)) throw new Error(`unknown variant "${v}"`)
        args.variant = v
        break
      }
      case '--help':
      case '-h':
        process.stdout.write(`${HELP}\n`)
        process.exit(0)
        break
      default:
        throw new Error(`unknown option "${flag}"`)
    }
  }
  if ((args.seed === undefined) === (args.seeds === undefined)) throw new Error('give exactly one of --seed and --seeds')
  return args
}

function replayOne(args: Args & { seed: number }): number {
  const result = runSeed({ seed: args.seed, n: args.n, variant: args.variant, trace: args.trace })
  if (result.trace !== undefined) for (const line of result.trace) process.stdout.write(`${line}\n`)
  for (const v of result.violations) process.stderr.write(`${v.message}\n`)
  const { trace: _trace, ...summary } = result
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  return result.ok ? 0 : 1
}

function campaign(args: Args & { seeds: number }): number {
  const began = process.hrtime.bigint()
  const elapsedMs = (): number => Number((process.hrtime.bigint() - began) / 1_000_000n)
  const failures: Array<{ seed: number; n: number; kinds: string[]; message: string }> = []
  const byKind: Record<string, number> = {}
  const ns: Record<number, number> = {}
  let totalEvents = 0
  let maxEvents = 0
  let totalVirtual = 0
  let maxVirtual = 0
  let maxRound = 0
  let minHeight = Infinity
  let sumHeight = 0
  let heightCount = 0
  let crashes = 0
  let guardRefusals = 0
  let evidence = 0
  let lastProgress = 0
  const note = (r: RunResult): void => {
    ns[r.n] = (ns[r.n] ?? 0) + 1
    totalEvents += r.events
    maxEvents = Math.max(maxEvents, r.events)
    totalVirtual += r.virtualTimeMs
    maxVirtual = Math.max(maxVirtual, r.virtualTimeMs)
    maxRound = Math.max(maxRound, r.stats.maxRound)
    crashes += r.stats.crashes
    guardRefusals += r.stats.guardRefusals
    evidence += r.stats.evidence
    for (const h of Object.values(r.heights)) {
      minHeight = Math.min(minHeight, h)
      sumHeight += h
      heightCount++
    }
    if (!r.ok) {
      const kinds = [...new Set(r.violations.map((v) => v.kind))]
      for (const k of kinds) byKind[k] = (byKind[k] ?? 0) + 1
      failures.push({ seed: r.seed, n: r.n, kinds, message: r.violations[0]!.message })
      process.stderr.write(`seed ${r.seed} (n=${r.n}): ${r.violations[0]!.message}\n`)
    }
  }
  for (let i = 0; i < args.seeds; i++) {
    const seed = args.start + i
    note(runSeed({ seed, n: args.n, variant: args.variant }))
    const now = elapsedMs()
    if (now - lastProgress >= 2000 || i + 1 === args.seeds) {
      lastProgress = now
      process.stderr.write(`[sim] ${i + 1}/${args.seeds} runs, ${failures.length} failed, ${(now / 1000).toFixed(1)} s\n`)
    }
  }
  const runs = args.seeds
  const summary = {
    runs,
    start: args.start,
    n: args.n ?? ns,
    variant: args.variant,
    ok: runs - failures.length,
    failed: failures.length,
    byKind,
    failures: failures.slice(0, 20),
    meanHonestHeight: heightCount === 0 ? 0 : Number((sumHeight / heightCount).toFixed(2)),
    minHonestHeight: heightCount === 0 ? 0 : minHeight,
    maxRound,
    crashes,
    guardRefusals,
    evidence,
    events: { total: totalEvents, meanPerRun: Math.round(totalEvents / runs), max: maxEvents },
    virtualTimeMs: { mean: Math.round(totalVirtual / runs), max: maxVirtual },
    elapsedMs: elapsedMs(),
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  return failures.length === 0 ? 0 : 1
}

function main(): number {
  let args: Args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`sim: ${(err as Error).message}\n${HELP}\n`)
    return 2
  }
  if (args.seed !== undefined) return replayOne({ ...args, seed: args.seed })
  return campaign({ ...args, seeds: args.seeds! })
}

process.exitCode = main()
