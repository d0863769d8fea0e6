import type { SimClock } from './clock.js'
import type { Prng } from './prng.js'

/**
 * The simulated network between node instances (ids 0..size−1; Twins are two instances of one
 * validator). Each message gets a random delay, may be dropped or duplicated (so arrival order
 * is shuffled too), and is lost when a partition separates sender and receiver when it is sent
 * or when it would arrive. Links can be cut for good (each Twin sees only its own peers). All
 * randomness comes from the network's PRNG.
 */
export interface LinkConditions {
  readonly dropP: number
  readonly dupP: number
  readonly minDelayMs: number
  readonly maxDelayMs: number
  /** Probability of a long delay, uniform in (maxDelayMs, spikeMaxMs]. */
  readonly spikeP: number
  readonly spikeMaxMs: number
}

export const RELIABLE: LinkConditions = { dropP: 0, dupP: 0, minDelayMs: 1, maxDelayMs: 1, spikeP: 0, spikeMaxMs: 1 }

export interface NetworkStats {
  sent: number
  delivered: number
  dropped: number
  partitioned: number
  duplicated: number
}

export type Handler<M> = (from: number, msg: M) => void

export class SimNetwork<M> {
  private readonly handlers: Array<Handler<M> | undefined>
  private readonly linked: boolean[][]
  /** Group of each instance while partitioned, else null. */
  private groupOf: number[] | null = null
  conditions: LinkConditions = RELIABLE
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, partitioned: 0, duplicated: 0 }

  constructor(
    private readonly clock: SimClock,
    private readonly prng: Prng,
    readonly size: number,
    private readonly describe: (msg: M) => string = () => 'message',
  ) {
    this.handlers = new Array<Handler<M> | undefined>(size).fill(undefined)
    this.linked = Array.from({ length: size }, (_, a) => Array.from({ length: size }, (_, b) => a !== b))
  }

  attach(id: number, handler: Handler<M>): void {
    this.handlers[id] = handler
  }

  /** Cuts or restores the link a–b for good (both directions). */
  setLinked(a: number, b: number, linked: boolean): void {
    this.linked[a]![b] = linked && a !== b
    this.linked[b]![a] = linked && a !== b
  }

  isLinked(a: number, b: number): boolean {
    return this.linked[a]![b]!
  }

  /** Instances `id` has a link to (partitions aside). */
  peers(id: number): number[] {
    const out: number[] = []
    const row = this.linked[id]!
    for (let b = 0; b < this.size; b++) if (row[b]) out.push(b)
    return out
  }

  /** Splits the instances into `groups` (instances not listed form one more group) until `heal`. */
  partition(groups: readonly (readonly number[])[]): void {
    const groupOf = new Array<number>(this.size).fill(groups.length)
    groups.forEach((g, i) => g.forEach((id) => (groupOf[id] = i)))
    this.groupOf = groupOf
  }

  heal(): void {
    this.groupOf = null
  }

  get partitioned(): boolean {
    return this.groupOf !== null
  }

  separated(a: number, b: number): boolean {
    return this.groupOf !== null && this.groupOf[a] !== this.groupOf[b]
  }

  broadcast(from: number, msg: M): void {
    const row = this.linked[from]!
    for (let to = 0; to < this.size; to++) if (row[to]) this.send(from, to, msg)
  }

  send(from: number, to: number, msg: M): void {
    this.stats.sent++
    if (!this.linked[from]![to]) {
      this.stats.dropped++
      return
    }
    if (this.separated(from, to)) {
      this.stats.partitioned++
      return
    }
    const c = this.conditions
    if (this.prng.chance(c.dropP)) {
      this.stats.dropped++
      return
    }
    this.schedule(from, to, msg)
    if (this.prng.chance(c.dupP)) {
      this.stats.duplicated++
      this.schedule(from, to, msg)
    }
  }

  private schedule(from: number, to: number, msg: M): void {
    const c = this.conditions
    const delay = this.prng.chance(c.spikeP) ? this.prng.int(c.maxDelayMs + 1, Math.max(c.maxDelayMs + 1, c.spikeMaxMs)) : this.prng.int(c.minDelayMs, c.maxDelayMs)
    this.clock.schedule(
      delay,
      () => `net ${from}->${to} ${this.describe(msg)}`,
      () => {
        if (this.separated(from, to)) {
          this.stats.partitioned++
          return
        }
        this.stats.delivered++
        this.handlers[to]?.(from, msg)
      },
    )
  }
}
