import { performance } from 'node:perf_hooks'
import type { InProcessNetwork } from '../testnet/index.js'
import { type DeliveryTracker, type Phase } from './delivery-tracker.js'
import { percentile, progress, sleep } from './measure.js'

export interface LatencyResult {
  readonly messages: number
  readonly deliveries: number
  readonly expected: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

export interface ThroughputResult {
  readonly seconds: number
  readonly published: number
  readonly deliveriesInWindow: number
  readonly deliveriesPerSecond: number
  readonly deliveredTotal: number
  readonly expectedTotal: number
  readonly p50UnderLoadMs: number
}

function networkOf(net: InProcessNetwork, index: number) {
  const g = net.guardians.get(index)
  if (g === undefined) throw new Error(`guardian ${index} is not running`)
  return g.network
}

/** Subscribes the tracker to every node; returns the unsubscribe function. */
export function attachTracker(net: InProcessNetwork, tracker: DeliveryTracker): () => void {
  const offs = [...net.guardians.values()].map((g) => g.network.onMessage((m) => tracker.onReceive(g.index, m)))
  return () => offs.forEach((off) => off())
}

/**
 * Connections alone do not mean gossip flows: subscriptions travel after the connection is up.
 * Every node publishes a heartbeat per round until each has accepted one from every other.
 */
export async function waitGossipReady(net: InProcessNetwork, tracker: DeliveryTracker, timeoutMs: number): Promise<number> {
  const start = performance.now()
  const pending: Promise<void>[] = []
  let rounds = 0
  while (!tracker.allSeen()) {
    if (performance.now() - start > timeoutMs) throw new Error(`gossip not flowing between all guardians after ${timeoutMs} ms`)
    rounds++
    for (let i = 0; i < tracker.nodes; i++) {
      while (!tracker.canPublish(i)) await sleep(1)
      pending.push(tracker.publish(i, () => networkOf(net, i).publishHeartbeat()).done)
    }
    await sleep(200)
  }
  await Promise.all(pending)
  return rounds
}

async function drain(phase: Phase, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (phase.deliveries < phase.expected && performance.now() < deadline) await sleep(10)
}

/** `messages` heartbeats from a rotating sender, one every `intervalMs`; one latency sample per (message, receiver). */
export async function measureLatency(net: InProcessNetwork, tracker: DeliveryTracker, messages: number, intervalMs: number): Promise<LatencyResult> {
  const phase = tracker.beginPhase()
  const pending: Promise<void>[] = []
  const start = performance.now()
  for (let k = 0; k < messages; k++) {
    const wait = start + k * intervalMs - performance.now()
    if (wait > 0) await sleep(wait)
    const sender = k % tracker.nodes
    while (!tracker.canPublish(sender)) await sleep(1)
    pending.push(tracker.publish(sender, () => networkOf(net, sender).publishHeartbeat()).done)
  }
  await Promise.all(pending)
  await drain(phase, 5000)
  tracker.endPhase()
  const elapsed = (performance.now() - start) / 1000
  progress(`latency phase: ${phase.sends.length} messages in ${elapsed.toFixed(2)} s, ${phase.deliveries}/${phase.expected} deliveries`)
  return {
    messages: phase.sends.length,
    deliveries: phase.deliveries,
    expected: phase.expected,
    p50: percentile(phase.latenciesMs, 50),
    p99: percentile(phase.latenciesMs, 99),
    max: phase.latenciesMs.length === 0 ? Number.NaN : Math.max(...phase.latenciesMs),
  }
}

/**
 * All nodes publish as fast as strictly increasing millisecond timestamps allow, each keeping
 * at most `window` of its messages in flight (not yet accepted by every other node, and less
 * than a second old) so the single process measures sustained throughput, not a growing backlog.
 */
export async function measureThroughput(net: InProcessNetwork, tracker: DeliveryTracker, durationMs: number, window: number): Promise<ThroughputResult> {
  const phase = tracker.beginPhase()
  const receivers = tracker.nodes - 1
  const start = performance.now()
  const end = start + durationMs
  const pending: Promise<void>[] = []

  const sender = async (index: number): Promise<void> => {
    const network = networkOf(net, index)
    const inFlight: { sentAt: number; done: () => boolean }[] = []
    while (performance.now() < end) {
      const now = performance.now()
      while (inFlight.length > 0 && (inFlight[0]!.done() || now - inFlight[0]!.sentAt > 1000)) inFlight.shift()
      if (inFlight.length >= window || !tracker.canPublish(index)) {
        await sleep(1)
        continue
      }
      const { send, done } = tracker.publish(index, () => network.publishHeartbeat())
      pending.push(done)
      inFlight.push({ sentAt: send.sentAt, done: () => send.deliveries >= receivers })
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
  await Promise.all(Array.from({ length: tracker.nodes }, (_, i) => sender(i)))
  const stoppedAt = performance.now()
  await Promise.all(pending)
  await drain(phase, 5000)
  tracker.endPhase()

  const seconds = (stoppedAt - start) / 1000
  const deliveriesInWindow = phase.receivedAt.filter((t) => t >= start && t <= stoppedAt).length
  progress(
    `throughput phase: ${phase.sends.length} published in ${seconds.toFixed(2)} s, ${deliveriesInWindow} deliveries in the window, ` +
      `${phase.deliveries}/${phase.expected} after draining`,
  )
  return {
    seconds,
    published: phase.sends.length,
    deliveriesInWindow,
    deliveriesPerSecond: deliveriesInWindow / seconds,
    deliveredTotal: phase.deliveries,
    expectedTotal: phase.expected,
    p50UnderLoadMs: percentile(phase.latenciesMs, 50),
  }
}

/** Messages the nodes' validators refused, by reason, summed over the network. */
export async function rejectedByReason(net: InProcessNetwork): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const g of net.guardians.values()) {
    const metric = g.registry.getSingleMetric('ubtc_gossip_messages_rejected_total')
    if (metric === undefined) continue
    for (const v of (await metric.get()).values) {
      const reason = String(v.labels.reason ?? 'unknown')
      out[reason] = (out[reason] ?? 0) + v.value
    }
  }
  return out
}
