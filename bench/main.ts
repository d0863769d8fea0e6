import '../protocol/polyfill.js'
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { InProcessNetwork, startDevChains } from '../testnet/index.js'
import { DeliveryTracker } from './delivery-tracker.js'
import { createFixture } from './fixture.js'
import { runConsensus } from './consensus.js'
import { runCustody, type CustodyFigures } from './custody.js'
import { runDlc } from './dlc.js'
import { attachTracker, measureLatency, measureThroughput, rejectedByReason, waitGossipReady } from './gossip.js'
import { progress, round } from './measure.js'
import { runMicro } from './micro.js'
import { runValidation, type ValidationFigures } from './validation.js'

/**
 * `npm run bench`: envelope and gossip-validation microbenchmarks, then gossip latency and
 * throughput on a real 5-guardian libp2p network over loopback, then consensus (commit latency,
 * ordered transactions, block sync) on 5 full guardian nodes, then payment validations (anvil and
 * Solana dev chains → approved on every guardian), then threshold custody on a second such
 * network on the same chains (FROST DKG, approved → signed latency, signatures/s) and the
 * single-thread cost of one FROST signature. Progress goes to stderr; the last line of stdout
 * is one JSON object with the figures.
 */

const GUARDIANS = 5
const MICRO_MS = 1500
const LATENCY_MESSAGES = 300
// One publish every 15 ms (~270 deliveries/s): well below what five nodes sharing one JS
// thread sustain (~500-1200 deliveries/s on 2 cores), so latency is propagation, not queueing.
const LATENCY_INTERVAL_MS = 15
const THROUGHPUT_MS = 2000
const THROUGHPUT_WINDOW = 16
// Gossip ~15 s, consensus ~90-115 s on 2 cores (most of it ordering 3,000 transactions),
// payment validations on local chains ~65 s, threshold custody ~60 s (a network of its own: DKG,
// 16 payments signed one at a time, a 50-payment burst; FROST on one thread): ~4 min in all,
// the consensus phase varying most.
const WATCHDOG_MS = 360_000

async function main(): Promise<Record<string, unknown>> {
  const began = performance.now()
  progress(`node ${process.version}, ${cpus().length} cpus, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const gossip = await gossipFigures()
  const dlc = runDlc(MICRO_MS)
  const consensus = await runConsensus()
  const { validation, custody } = await chainFigures()
  progress(`done in ${((performance.now() - began) / 1000).toFixed(1)} s`)
  return { ...gossip, ...dlc, ...consensus, ...validation, ...custody }
}

/** The validation and custody phases, each on a network of its own, watching the same dev chains. */
async function chainFigures(): Promise<{ validation: ValidationFigures; custody: CustodyFigures }> {
  progress('starting anvil (ethereum, polygon) and the Solana dev RPC')
  const chains = await startDevChains()
  try {
    const validation = await runValidation(chains)
    const custody = await runCustody(chains)
    return { validation, custody }
  } finally {
    progress('stopping the dev chains')
    await chains.stop()
  }
}

async function gossipFigures(): Promise<Record<string, unknown>> {
  const began = performance.now()
  const fixture = await createFixture(GUARDIANS)
  const micro = runMicro(fixture, MICRO_MS)

  progress(`starting ${GUARDIANS} in-process guardians on 127.0.0.1`)
  const net = await InProcessNetwork.create({ guardians: GUARDIANS, heartbeatIntervalMs: 60_000 })
  try {
    const tracker = new DeliveryTracker(GUARDIANS)
    const detach = attachTracker(net, tracker)
    const t0 = performance.now()
    await net.waitConnected(30_000)
    progress(`connected in ${Math.round(performance.now() - t0)} ms`)
    const rounds = await waitGossipReady(net, tracker, 30_000)
    progress(`gossip flowing between all guardians after ${rounds} heartbeat round(s), ${Math.round(performance.now() - t0)} ms`)

    const latency = await measureLatency(net, tracker, LATENCY_MESSAGES, LATENCY_INTERVAL_MS)
    progress(`latency p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms, max ${latency.max.toFixed(2)} ms`)
    const throughput = await measureThroughput(net, tracker, THROUGHPUT_MS, THROUGHPUT_WINDOW)
    progress(`throughput ${Math.round(throughput.deliveriesPerSecond)} deliveries/s (${Math.round(throughput.published / throughput.seconds)} published/s, p50 under load ${throughput.p50UnderLoadMs.toFixed(1)} ms)`)
    detach()

    const rejected = await rejectedByReason(net)
    if (Object.keys(rejected).length > 0) progress(`validators refused: ${JSON.stringify(rejected)}`)
    if (tracker.unmatched > 0) progress(`${tracker.unmatched} deliveries outside the measured phases (readiness rounds)`)
    const memory = process.memoryUsage()

    progress(`gossip done in ${((performance.now() - began) / 1000).toFixed(1)} s`)
    return {
      node_version: process.version,
      cpus: cpus().length,
      envelope_sign_per_s: round(micro.sign.perSecond),
      envelope_verify_per_s: round(micro.verify.perSecond),
      gossip_validate_per_s: round(micro.validate.perSecond),
      gossip_latency_ms_p50: round(latency.p50, 2),
      gossip_latency_ms_p99: round(latency.p99, 2),
      gossip_latency_ms_max: round(latency.max, 2),
      gossip_messages: latency.messages,
      gossip_deliveries: latency.deliveries,
      gossip_delivery_ratio: round(latency.deliveries / latency.expected, 4),
      gossip_throughput_msgs_per_s: round(throughput.deliveriesPerSecond),
      rss_mb: round(memory.rss / 2 ** 20, 1),
      heap_used_mb: round(memory.heapUsed / 2 ** 20, 1),
    }
  } finally {
    progress('closing the network')
    await net.close()
  }
}

const watchdog = setTimeout(() => {
  progress(`still running after ${WATCHDOG_MS / 1000} s, giving up`)
  process.exit(1)
}, WATCHDOG_MS)
watchdog.unref()

try {
  const figures = await main()
  clearTimeout(watchdog)
  process.stdout.write(`${JSON.stringify(figures)}\n`)
  // libp2p can leave sockets or timers behind for a moment after stop(); don't wait on them.
  await new Promise<void>((resolve) => setImmediate(resolve))
  const lingering = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap')
  if (lingering.length > 0) {
    progress(`exiting with lingering handles: ${lingering.join(', ')}`)
    process.exit(0)
  }
} catch (err) {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
}
