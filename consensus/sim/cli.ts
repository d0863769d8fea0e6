import { isVariantName, type VariantName } from './mutants.js'
import { runCampaign } from './campaign.js'
import { runSeed } from './run.js'

/**
 * npm run sim -- --seeds 100000 --n 7            campaign over seeds 0..99999 (--start S to shift)
 * npm run sim -- --seed 42 --n 4 [--trace]       replay one seed (with its event trace)
 * Options: --variant ignore-lock|amnesia|amnesia-no-guard|forget-own-votes (deliberately broken builds).
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
  let failed = 0
  let lastProgress = 0
  const summary = runCampaign({
    start: args.start,
    count: args.seeds,
    n: args.n,
    variant: args.variant,
    onResult: (r, done) => {
      if (!r.ok) {
        failed++
        process.stderr.write(`seed ${r.seed} (n=${r.n}): ${r.violations[0]!.message}\n`)
      }
      const now = elapsedMs()
      if (now - lastProgress >= 2000 || done === args.seeds) {
        lastProgress = now
        process.stderr.write(`[sim] ${done}/${args.seeds} runs, ${failed} failed, ${(now / 1000).toFixed(1)} s\n`)
      }
    },
  })
  const { failures, ...rest } = summary
  process.stdout.write(`${JSON.stringify({ ...rest, failures: failures.slice(0, 20), elapsedMs: elapsedMs() })}\n`)
  return summary.failed === 0 ? 0 : 1
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
