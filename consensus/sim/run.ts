import { makeBehaviour } from './byzantine.js'
import { labelText, SimClock } from './clock.js'
import { SimKeys } from './crypto.js'
import { Invariants, type Violation } from './invariants.js'
import { describeMessage, type WireMessage } from './messages.js'
import { VARIANTS, type VariantName } from './mutants.js'
import { SimNetwork } from './network.js'
import { SimNode, type EngineFactory, type GuardFactory, type RunStats, type World } from './node.js'
import { Prng } from './prng.js'
import { makeScenario, type Scenario, type ScenarioOptions } from './scenario.js'

export interface RunOptions {
  readonly seed: number
  /** 4 or 7 by default, drawn from the seed. */
  readonly n?: number
  /** Collect a line per event (and per node action) in `trace`. */
  readonly trace?: boolean
  readonly variant?: VariantName
  /** Overrides the variant's factories (tests that break something in their own way). */
  readonly makeEngine?: EngineFactory
  readonly makeGuard?: GuardFactory
  readonly scenarioOptions?: ScenarioOptions
  /** Changes the drawn scenario before the run (keep it a pure function of the seed). */
  readonly adjust?: (s: Scenario) => Scenario
}

export interface RunResult {
  readonly seed: number
  readonly n: number
  readonly ok: boolean
  readonly violations: readonly Violation[]
  /** Committed height of each honest node instance (by instance id). */
  readonly heights: Readonly<Record<number, number>>
  readonly virtualTimeMs: number
  readonly events: number
  /** The one-line command that replays this run. */
  readonly replay: string
  readonly byzantine: readonly string[]
  /** What the scenario threw at the run. */
  readonly faults: { readonly gstMs: number; readonly partitions: number; readonly crashPoints: readonly string[] }
  readonly stats: RunStats & { readonly messages: number; readonly dropped: number }
  readonly trace?: readonly string[]
}

export function defaultN(seed: number): number {
  return seed % 2 === 0 ? 4 : 7
}

export function replayCommand(seed: number, n: number, variant: VariantName = 'none'): string {
  return `npm run sim -- --seed ${seed} --n ${n}${variant === 'none' ? '' : ` --variant ${variant}`}`
}

/** Runs one seeded scenario to its end (target height after GST, a violation, or the time limit). */
export function runSeed(opts: RunOptions): RunResult {
  const n = opts.n ?? defaultN(opts.seed)
  const variant = VARIANTS[opts.variant ?? 'none']
  let scenario = makeScenario(opts.seed, n, opts.scenarioOptions)
  if (opts.adjust !== undefined) scenario = opts.adjust(scenario)
  const replay = replayCommand(opts.seed, n, opts.variant)
  const root = new Prng(opts.seed).fork('run')

  const clock = new SimClock()
  const traceLines: string[] | undefined = opts.trace === true ? [] : undefined
  const trace = traceLines === undefined ? undefined : (line: string) => void traceLines.push(line)
  const byzIndexes = new Set(scenario.byzantine.map((b) => b.index))
  const honestIndexes = new Set<number>()
  for (let i = 0; i < n; i++) if (!byzIndexes.has(i)) honestIndexes.add(i)
  const invariants = new Invariants(n, honestIndexes, () => clock.now, replay)
  const network = new SimNetwork<WireMessage>(clock, root.fork('network'), scenario.instanceIndex.length, describeMessage)
  for (const [a, b] of scenario.cutLinks) network.setLinked(a, b, false)
  network.conditions = scenario.preGst
  const stats: RunStats = { commits: 0, syncedBlocks: 0, crashes: 0, restarts: 0, guardRefusals: 0, evidence: 0, badMessages: 0, maxRound: 0 }
  const keys = new SimKeys(opts.seed, n)
  const world: World = {
    n,
    clock,
    network,
    keys,
    invariants,
    timeouts: scenario.timeouts,
    gossipIntervalMs: scenario.gossipIntervalMs,
    makeEngine: opts.makeEngine ?? variant.makeEngine,
    makeGuard: opts.makeGuard ?? variant.makeGuard,
    stats,
    trace,
  }
  trace?.(`scenario ${JSON.stringify(scenario)}`)

  const byzPrng = root.fork('byzantine')
  const nodes = scenario.instanceIndex.map((index, id) => {
    const spec = scenario.byzantine.find((b) => b.index === index)
    const behaviour =
      spec?.kind === 'equivocate' || spec?.kind === 'double_vote' ? makeBehaviour(spec.kind, { keys, invariants, n, prng: byzPrng }) : undefined
    return new SimNode(world, {
      id,
      index,
      honest: spec === undefined,
      prng: root.fork(`node/${id}`),
      behaviour,
      persistRoundState: variant.persistRoundState,
      replayOwnOnRestart: variant.replayOwnOnRestart,
    })
  })
  const honestNodes = nodes.filter((node) => node.honest)

  // Boot (silent validators never do).
  nodes.forEach((node, id) => {
    if (scenario.byzantine.some((b) => b.index === node.index && b.kind === 'silent')) return
    clock.at(scenario.bootMs[id]!, `boot n${id}`, () => node.start())
  })
  for (const p of scenario.partitions) {
    clock.at(p.startMs, `partition ${JSON.stringify(p.groups)}`, () => network.partition(p.groups))
    clock.at(p.endMs, 'heal', () => network.heal())
  }
  const restartAt = (node: SimNode, downMs: number): void => {
    const at = Math.min(clock.now + downMs, Math.max(scenario.gstMs, clock.now))
    clock.at(at, `restart n${node.id}`, () => node.restart())
  }
  for (const c of scenario.crashes) {
    const node = nodes[c.index]!
    if (c.point === 'clean') {
      clock.at(c.atMs, `crash n${node.id}`, () => {
        if (!node.isUp) return
        node.crash()
        restartAt(node, c.downMs)
      })
    } else {
      const point = c.point
      clock.at(c.atMs, `arm crash ${point} n${node.id}`, () => node.armCrash(point, () => restartAt(node, c.downMs), c.filter))
    }
  }

  // GST: the network calms down, crash points are disarmed, some Byzantine nodes go quiet.
  const heightAtGst = new Map<SimNode, number>()
  let afterGst = false
  clock.at(scenario.gstMs, 'GST', () => {
    afterGst = true
    network.heal()
    network.conditions = scenario.postGst
    for (const node of nodes) node.disarmCrash()
    for (const spec of scenario.byzantine) if (spec.silentAfterGst) nodes[spec.index]!.crash('goes silent at GST')
    for (const node of honestNodes) heightAtGst.set(node, node.chain.height)
  })
  const needed = (node: SimNode): number => Math.max(scenario.targetHeight, (heightAtGst.get(node) ?? 0) + scenario.livenessHeights)
  const deadline = scenario.gstMs + scenario.livenessBoundMs
  clock.at(deadline, 'liveness deadline', () => {
    invariants.checkLiveness(
      honestNodes.map((node) => ({ node, height: node.chain.height, needed: (heightAtGst.get(node) ?? 0) + scenario.livenessHeights })),
      scenario.gstMs,
    )
  })

  let events = 0
  for (;;) {
    const event = clock.next()
    if (event === undefined) break
    events++
    traceLines?.push(`${event.time} ${labelText(event.label)}`)
    event.run()
    if (!invariants.ok) break
    if (clock.now >= deadline) break
    if (afterGst && honestNodes.every((node) => node.chain.height >= needed(node))) break
    if (events >= scenario.maxEvents) {
      invariants.fail('event_cap', `${events} events without finishing (heights ${honestNodes.map((x) => x.chain.height).join(',')})`)
      break
    }
  }

  const heights: Record<number, number> = {}
  for (const node of honestNodes) heights[node.id] = node.chain.height
  return {
    seed: opts.seed,
    n,
    ok: invariants.ok,
    violations: invariants.violations,
    heights,
    virtualTimeMs: clock.now,
    events,
    replay,
    byzantine: scenario.byzantine.map((b) => `${b.index}:${b.kind}${b.silentAfterGst ? '+silent' : ''}`),
    faults: { gstMs: scenario.gstMs, partitions: scenario.partitions.length, crashPoints: scenario.crashes.map((c) => c.point) },
    stats: { ...stats, messages: network.stats.sent, dropped: network.stats.dropped + network.stats.partitioned },
    ...(traceLines === undefined ? {} : { trace: traceLines }),
  }
}
