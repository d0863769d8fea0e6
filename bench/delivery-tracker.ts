import { MessageKind } from '../protocol/index.js'
import { performance } from 'node:perf_hooks'
import type { AcceptedMessage } from '../node/network/index.js'

/** One tracked publish: the sender's clock window around the call, so its heartbeat timestamp can be matched. */
export interface TrackedSend {
  readonly sender: number
  readonly sentAt: number
  deliveries: number
}

/** The sends of one measurement phase and what the other nodes received of them. */
export class Phase {
  readonly sends: TrackedSend[] = []
  readonly latenciesMs: number[] = []
  /** Receive times (performance.now()) of every matched delivery. */
  readonly receivedAt: number[] = []
  private readonly byKey = new Map<string, TrackedSend>()

  constructor(readonly receivers: number) {}

  add(send: TrackedSend, fromMs: number, toMs: number): void {
    this.sends.push(send)
    for (let ts = fromMs; ts <= toMs; ts++) this.byKey.set(`${send.sender}:${ts}`, send)
  }

  /** Returns the send a receipt belongs to, if it was published in this phase. */
  match(sender: number, timestampMs: number): TrackedSend | undefined {
    return this.byKey.get(`${sender}:${timestampMs}`)
  }

  get deliveries(): number {
    return this.latenciesMs.length
  }

  get expected(): number {
    return this.sends.length * this.receivers
  }
}

/**
 * Sees every accepted message on every node. Publishes go through {@link publish}, which
 * records performance.now() and the Date.now() window around the call (publishHeartbeat stamps
 * the heartbeat with Date.now() synchronously inside the call), and holds a sender back until
 * its clock has moved past its previous window, so a sender's timestamps strictly increase and
 * each (sender, timestamp) pair identifies exactly one publish.
 */
export class DeliveryTracker {
  /** seen[receiver][sender]: the receiver accepted at least one message from the sender. */
  readonly seen: boolean[][]
  unmatched = 0
  private phase: Phase | undefined
  private readonly lastWindowEnd: number[]

  constructor(readonly nodes: number) {
    this.seen = Array.from({ length: nodes }, () => Array.from({ length: nodes }, () => false))
    this.lastWindowEnd = Array.from({ length: nodes }, () => -1)
  }

  beginPhase(): Phase {
    this.phase = new Phase(this.nodes - 1)
    return this.phase
  }

  endPhase(): void {
    this.phase = undefined
  }

  /** Whether `sender` may publish now without repeating a heartbeat timestamp. */
  canPublish(sender: number): boolean {
    return Date.now() > this.lastWindowEnd[sender]!
  }

  /**
   * Calls `publishHeartbeat` for `sender` and tracks it in the current phase (if any); the
   * caller checks {@link canPublish} first. `done` settles when the publish call does.
   */
  publish(sender: number, publishHeartbeat: () => Promise<void>): { send: TrackedSend; done: Promise<void> } {
    if (!this.canPublish(sender)) throw new Error(`sender ${sender} would publish twice within one millisecond`)
    const send: TrackedSend = { sender, sentAt: performance.now(), deliveries: 0 }
    const fromMs = Date.now()
    const done = publishHeartbeat()
    const toMs = Date.now()
    this.lastWindowEnd[sender] = toMs
    this.phase?.add(send, fromMs, toMs)
    return { send, done }
  }

  onReceive(receiver: number, message: AcceptedMessage): void {
    const now = performance.now()
    const sender = message.signer.index
    this.seen[receiver]![sender] = true
    const phase = this.phase
    if (message.message.kind !== MessageKind.Heartbeat) return
    const send = phase?.match(sender, message.message.heartbeat.timestampMs)
    if (phase === undefined || send === undefined) {
      this.unmatched++
      return
    }
    send.deliveries++
    phase.latenciesMs.push(now - send.sentAt)
    phase.receivedAt.push(now)
  }

  /** Every node has accepted a message from every other node. */
  allSeen(): boolean {
    return this.seen.every((row, r) => row.every((seen, s) => seen || r === s))
  }
}
