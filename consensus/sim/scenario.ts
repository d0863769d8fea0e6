import { DEFAULT_TIMEOUTS, thresholds, type TimeoutParams } from '../index.js'
import { BYZANTINE_KINDS, type ByzantineKind } from './byzantine.js'
import type { LinkConditions } from './network.js'
import type { CrashFilter, CrashPoint } from './node.js'
import { Prng } from './prng.js'

/**
 * A seeded random fault scenario, as plain data (so a trace can print it). Faults stay within
 * the model's bounds: at most f Byzantine validators (a Twin pair is its index's one), crashes
 * only of honest nodes and every one restarted by GST, partitions that heal by GST, and after
 * GST a network without drops and with bounded delay.
 */
export interface ByzantineSpec {
  readonly index: number
  readonly kind: ByzantineKind
  /** Stops sending at GST (after doing its damage before it). */
  readonly silentAfterGst: boolean
  /** Twins: the instance id of the second engine. */
  readonly twinInstance?: number
}

export interface CrashSpec {
  readonly index: number
  readonly atMs: number
  readonly downMs: number
  /** 'clean': between events; otherwise right after the next durable write of that kind. */
  readonly point: 'clean' | CrashPoint
  /** For a crash point: only at a write of this height / step. */
  readonly filter?: CrashFilter
}

export interface PartitionSpec {
  readonly startMs: number
  readonly endMs: number
  /** Instance ids per group. */
  readonly groups: readonly (readonly number[])[]
}

export interface Scenario {
  readonly seed: number
  readonly n: number
  readonly f: number
  /** Validator index of each network instance (0..n−1 are the validators, then second Twins). */
  readonly instanceIndex: readonly number[]
  /** Links cut for good (Twins each see only their own peers). */
  readonly cutLinks: readonly (readonly [number, number])[]
  readonly bootMs: readonly number[]
  readonly targetHeight: number
  readonly gstMs: number
  /** After GST every honest node commits `livenessHeights` more heights within this bound. */
  readonly livenessBoundMs: number
  readonly livenessHeights: number
  readonly timeouts: TimeoutParams
  readonly gossipIntervalMs: number
  readonly maxEvents: number
  readonly preGst: LinkConditions
  readonly postGst: LinkConditions
  readonly byzantine: readonly ByzantineSpec[]
  readonly crashes: readonly CrashSpec[]
  readonly partitions: readonly PartitionSpec[]
}

export interface ScenarioOptions {
  /** Restrict the Byzantine behaviours drawn (default: all). */
  readonly byzantineKinds?: readonly ByzantineKind[]
  /** Always use f Byzantine validators (default: 0..f). */
  readonly maxByzantine?: boolean
  /** Force honest crash-restarts of these kinds in every run. */
  readonly crashPoints?: readonly ('clean' | CrashPoint)[]
  readonly minCrashes?: number
}

export const LIVENESS_BOUND_MS = 60_000
export const LIVENESS_HEIGHTS = 2

export function makeScenario(seed: number, n: number, options: ScenarioOptions = {}): Scenario {
  if (n < 1) throw new RangeError(`n must be positive, got ${n}`)
  const prng = new Prng(seed).fork('scenario')
  const f = thresholds(n).f
  const timeouts = DEFAULT_TIMEOUTS

  // Byzantine validators.
  const kinds = options.byzantineKinds ?? BYZANTINE_KINDS
  const byzCount = kinds.length === 0 ? 0 : options.maxByzantine === true ? f : prng.int(0, f)
  const byzIndexes = prng.shuffle(range(n)).slice(0, byzCount).sort((a, b) => a - b)
  const instanceIndex = range(n)
  const byzantine: ByzantineSpec[] = byzIndexes.map((index) => {
    const kind = prng.pick(kinds)
    const silentAfterGst = kind !== 'silent' && kind !== 'twins' && prng.chance(0.3)
    if (kind !== 'twins') return { index, kind, silentAfterGst }
    instanceIndex.push(index)
    return { index, kind, silentAfterGst, twinInstance: instanceIndex.length - 1 }
  })
  const instances = instanceIndex.length
  const cutLinks: [number, number][] = []
  for (const spec of byzantine) {
    if (spec.twinInstance === undefined) continue
    const a = spec.index
    const b = spec.twinInstance
    cutLinks.push([a, b])
    const others = range(instances).filter((i) => i !== a && i !== b)
    const sides = others.map(() => prng.pick(['a', 'a', 'b', 'b', 'both'] as const))
    if (!sides.some((s) => s !== 'b')) sides[0] = 'a'
    if (!sides.some((s) => s !== 'a')) sides[sides.length - 1] = 'b'
    others.forEach((peer, i) => {
      if (sides[i] === 'a') cutLinks.push([b, peer])
      if (sides[i] === 'b') cutLinks.push([a, peer])
    })
  }

  // Network before and after GST.
  const gstMs = prng.int(2_000, 15_000)
  const maxDelayMs = prng.pick([20, 150, 600, 2_000])
  const preGst: LinkConditions = {
    dropP: prng.pick([0, 0.02, 0.1, 0.3]),
    dupP: prng.pick([0, 0.05, 0.2]),
    minDelayMs: prng.int(1, Math.min(10, maxDelayMs)),
    maxDelayMs,
    spikeP: prng.pick([0, 0.02, 0.1]),
    spikeMaxMs: maxDelayMs * 4,
  }
  const postMax = prng.pick([10, 80, 300])
  const postGst: LinkConditions = { dropP: 0, dupP: Math.min(preGst.dupP, 0.05), minDelayMs: 1, maxDelayMs: postMax, spikeP: 0, spikeMaxMs: postMax }

  // Partitions, one after another, all healed by GST.
  const partitions: PartitionSpec[] = []
  let t = prng.int(0, 1_000)
  for (let i = prng.int(0, 2); i > 0 && t < gstMs - 300; i--) {
    const startMs = prng.int(t, gstMs - 300)
    const endMs = Math.min(gstMs, startMs + prng.int(300, 6_000))
    partitions.push({ startMs, endMs, groups: randomGroups(prng, instances) })
    t = endMs + prng.int(0, 1_000)
  }

  // Crash-restarts of honest validators, each back by GST.
  const honest = range(n).filter((i) => !byzIndexes.includes(i))
  const crashes: CrashSpec[] = []
  const crashCount = Math.max(options.minCrashes ?? 0, prng.int(0, 3))
  for (let i = 0; i < crashCount && honest.length > 0; i++) {
    const atMs = prng.int(0, gstMs - 200)
    const point = options.crashPoints !== undefined ? prng.pick(options.crashPoints) : prng.pick(['clean', 'clean', 'after_persist', 'after_sign'] as const)
    crashes.push({ index: prng.pick(honest), atMs, downMs: prng.int(50, 4_000), point })
  }
  crashes.sort((a, b) => a.atMs - b.atMs)

  return {
    seed,
    n,
    f,
    instanceIndex,
    cutLinks,
    bootMs: range(instances).map(() => prng.int(0, 300)),
    targetHeight: prng.int(5, 8),
    gstMs,
    livenessBoundMs: LIVENESS_BOUND_MS,
    livenessHeights: LIVENESS_HEIGHTS,
    timeouts,
    gossipIntervalMs: 1_000,
    maxEvents: 400_000,
    preGst,
    postGst,
    byzantine,
    crashes,
    partitions,
  }
}

function randomGroups(prng: Prng, instances: number): number[][] {
  const ids = prng.shuffle(range(instances))
  switch (prng.pick(['halves', 'halves', 'isolate', 'three'] as const)) {
    case 'isolate':
      return [ids.slice(0, 1), ids.slice(1)]
    case 'three': {
      const a = prng.int(1, Math.max(1, instances - 2))
      const b = prng.int(a + 1, Math.max(a + 1, instances - 1))
      return [ids.slice(0, a), ids.slice(a, b), ids.slice(b)].filter((g) => g.length > 0)
    }
    case 'halves': {
      const cut = prng.int(1, instances - 1)
      return [ids.slice(0, cut), ids.slice(cut)]
    }
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}
