/**
 * Virtual time and the event queue. Events run in (time, seq) order: `seq` is the order of
 * scheduling, so events at the same virtual millisecond run first-scheduled-first and a run
 * is a pure function of its seed. Cancellation is lazy (a cancelled event stays in the heap
 * and is skipped when popped).
 */

export interface SimEvent {
  readonly time: number
  readonly seq: number
  /** Short description for traces (a function when it costs something to build). */
  readonly label: Label
  readonly run: () => void
}

export type Label = string | (() => string)

export function labelText(label: Label): string {
  return typeof label === 'string' ? label : label()
}

/** A binary min-heap of events keyed by (time, seq). */
export class EventHeap {
  private readonly items: SimEvent[] = []

  get size(): number {
    return this.items.length
  }

  push(event: SimEvent): void {
    const items = this.items
    items.push(event)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(event, items[parent]!)) break
      items[i] = items[parent]!
      i = parent
    }
    items[i] = event
  }

  peek(): SimEvent | undefined {
    return this.items[0]
  }

  pop(): SimEvent | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    const n = items.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && before(items[r]!, items[l]!) ? r : l
      if (!before(items[child]!, last)) break
      items[i] = items[child]!
      i = child
    }
    items[i] = last
    return top
  }
}

function before(x: SimEvent, y: SimEvent): boolean {
  return x.time < y.time || (x.time === y.time && x.seq < y.seq)
}

export class SimClock {
  private readonly heap = new EventHeap()
  private readonly cancelled = new Set<number>()
  private seq = 0
  private current = 0

  /** Virtual milliseconds since the start of the run. */
  get now(): number {
    return this.current
  }

  get pending(): number {
    return this.heap.size - this.cancelled.size
  }

  /** Schedules `run` after `delayMs` (≥ 0, rounded to whole ms); returns a handle for `cancel`. */
  schedule(delayMs: number, label: Label, run: () => void): number {
    if (!(delayMs >= 0)) throw new RangeError(`negative delay ${delayMs}`)
    return this.at(this.current + Math.round(delayMs), label, run)
  }

  at(time: number, label: Label, run: () => void): number {
    if (time < this.current) throw new RangeError(`event in the past: ${time} < ${this.current}`)
    const seq = this.seq++
    this.heap.push({ time, seq, label, run })
    return seq
  }

  cancel(handle: number): void {
    this.cancelled.add(handle)
  }

  /** Removes the next live event and advances the clock to its time (without running it). */
  next(): SimEvent | undefined {
    for (;;) {
      const event = this.heap.pop()
      if (event === undefined) return undefined
      if (this.cancelled.delete(event.seq)) continue
      this.current = event.time
      return event
    }
  }

  /** Time of the next live event, if any. */
  peekTime(): number | undefined {
    for (;;) {
      const event = this.heap.peek()
      if (event === undefined) return undefined
      if (!this.cancelled.has(event.seq)) return event.time
      this.heap.pop()
      this.cancelled.delete(event.seq)
    }
  }
}
