import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { bytesToHex } from '@noble/hashes/utils.js'
import { txHash } from '../protocol/index.js'
import { BenchTestnet, type CommitRecord } from './guardian-testnet.js'
import { percentile, progress, round, sleep } from './measure.js'

/**
 * Consensus figures on real networks of full guardian nodes (`GuardianNode.start` on a testnet
 * folder from `initTestnet`), all in this process: commit latency with blocks back to back and
 * ordered transactions per second on one network, block sync of a restarted guardian on a
 * second one.
 */

const GUARDIANS = 5
/** Blocks back to back: the next height starts 1 ms after a commit, with or without transactions. */
const EMPTY_BLOCK_INTERVAL_MS = 1
/** Round-0 propose timeout of the latency and throughput network: the testnet's (and the config's) default. */
const TIMEOUT_PROPOSE_MS = 1000
/**
 * Round-0 propose timeout of the sync network. While one guardian is down it is the proposer of
 * every 5th height, and each of those waits out the propose timeout: ~1.5 s per such height at
 * the default, so 300 heights would take ~100 s. A guardian reads it at start only, and
 * restarting the other four would be another scenario (a crash of the whole quorum), hence a
 * second network for the sync phase.
 */
const SYNC_TIMEOUT_PROPOSE_MS = 200
const WARMUP_HEIGHTS = 5
const LATENCY_HEIGHTS = 200
const TXS = 3000
/** Keeps the bench within its time budget if ordering stalls: what committed by then counts. */
const COMMIT_DEADLINE_MS = 50_000
const SYNC_HEIGHTS = 300
/** The guardian stopped and restarted in the sync phase. */
const SYNCER = GUARDIANS - 1

export interface ConsensusFigures {
  readonly consensus_commit_latency_ms_p50: number
  readonly consensus_commit_latency_ms_p99: number
  readonly consensus_commit_latency_ms_max: number
  readonly consensus_heights: number
  readonly consensus_rounds_above_0: number
  readonly consensus_ordered_txs_per_s: number
  readonly consensus_txs_committed: number
  readonly sync_blocks_per_s: number
  readonly sync_blocks: number
  readonly sync_first_block_ms: number
}

export async function runConsensus(): Promise<ConsensusFigures> {
  const began = performance.now()
  progress(`consensus: ${GUARDIANS} full guardian nodes on 127.0.0.1, blocks back to back (empty-block interval ${EMPTY_BLOCK_INTERVAL_MS} ms)`)
  progress('consensus: all guardians share ONE JS thread here (signatures, execution, libp2p), so these figures are pessimistic next to one process per guardian')

  const { latency, ordered } = await withTestnet('consensus', TIMEOUT_PROPOSE_MS, async (net) => {
    // Signed before the nodes start: signing 3,000 envelopes mid-run would stall their shared thread.
    const txs = Array.from({ length: TXS }, (_, i) => net.voteTx(i % GUARDIANS, `bench-${i}`))
    const t0 = performance.now()
    await net.startAll()
    await net.waitConnected(30_000)
    progress(`consensus: started and connected in ${Math.round(performance.now() - t0)} ms, at height ${net.maxHeight()}`)

    const latency = await measureCommitLatency(net)
    progress(
      `consensus: commit latency p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms over ${latency.heights} heights ` +
        `(${latency.samples} samples from ${GUARDIANS} guardians, ${round(latency.heightsPerSecond, 1)} heights/s, ${latency.roundsAbove0} decided in round > 0)`,
    )
    const ordered = await measureOrderedTxs(net, txs)
    progress(
      `consensus: ${ordered.committed}/${ordered.submitted} txs committed in ${ordered.seconds.toFixed(2)} s = ${Math.round(ordered.perSecond)} txs/s ` +
        `(admission of all took ${ordered.submitSeconds.toFixed(2)} s; ${ordered.blocks} blocks, up to ${ordered.maxBlockTxs} txs/block, ` +
        `commit latency p50 ${ordered.latencyP50} ms under load, ${ordered.roundsAbove0} decided in round > 0, ${ordered.mempoolFullRetries} mempool-full retries` +
        `${Object.keys(ordered.rejected).length > 0 ? `, rejected ${JSON.stringify(ordered.rejected)}` : ''})`,
    )
    return { latency, ordered }
  })

  const sync = await withTestnet('sync', SYNC_TIMEOUT_PROPOSE_MS, async (net) => {
    await net.startAll()
    await net.waitConnected(30_000)
    await net.waitHeight(0, WARMUP_HEIGHTS, 30_000)
    const sync = await measureSync(net)
    progress(
      `sync: guardian-${SYNCER} applied ${sync.blocks} blocks in ${sync.seconds.toFixed(2)} s from its restart = ${Math.round(sync.perSecond)} blocks/s ` +
        `(first synced block ${Math.round(sync.firstBlockMs)} ms after the restart, ${Math.round(sync.applyPerSecond)} blocks/s from there)`,
    )
    return sync
  })

  progress(`consensus: done in ${((performance.now() - began) / 1000).toFixed(1)} s`)
  return {
    consensus_commit_latency_ms_p50: latency.p50,
    consensus_commit_latency_ms_p99: latency.p99,
    consensus_commit_latency_ms_max: latency.max,
    consensus_heights: latency.heights,
    consensus_rounds_above_0: latency.roundsAbove0 + ordered.roundsAbove0,
    consensus_ordered_txs_per_s: round(ordered.perSecond),
    consensus_txs_committed: ordered.committed,
    sync_blocks_per_s: round(sync.perSecond),
    sync_blocks: sync.blocks,
    sync_first_block_ms: round(sync.firstBlockMs),
  }
}

/**
 * A fresh 5-guardian testnet folder with this propose timeout, for `run`; then the node log
 * summary (warn and above unless UBTC_BENCH_LOG_LEVEL says otherwise), and everything stopped
 * and deleted. UBTC_BENCH_LOG_DIR keeps the node logs (<name>.log) in that folder.
 */
async function withTestnet<T>(name: string, timeoutProposeMs: number, run: (net: BenchTestnet) => Promise<T>): Promise<T> {
  const logDir = process.env.UBTC_BENCH_LOG_DIR
  const logLevel = process.env.UBTC_BENCH_LOG_LEVEL
  const net = await BenchTestnet.create({
    guardians: GUARDIANS,
    // No DKG (testnet configs start one at start-up): these figures are consensus alone.
    flags: { 'empty-block-interval-ms': String(EMPTY_BLOCK_INTERVAL_MS), 'timeout-propose-ms': String(timeoutProposeMs), 'auto-dkg': 'false' },
    ...(logDir !== undefined && logDir !== '' ? { logFile: join(logDir, `${name}.log`) } : {}),
    ...(logLevel !== undefined && logLevel !== '' ? { logLevel } : {}),
  })
  progress(`${name}: testnet folder ${net.dir}, propose timeout ${timeoutProposeMs} ms`)
  try {
    return await run(net)
  } finally {
    progress(`${name}: stopping the guardians`)
    try {
      const logs = await net.logSummary()
      const where = logDir !== undefined && logDir !== '' ? net.logFile : 'deleted with the folder, UBTC_BENCH_LOG_DIR keeps it'
      if (logs.size > 0) progress(`${name}: node log, ${logLevel ?? 'warn'} and above (${where}): ${JSON.stringify(Object.fromEntries(logs))}`)
    } finally {
      await net.close()
    }
  }
}

// ---- commit latency -------------------------------------------------------------------

interface LatencyResult {
  readonly heights: number
  readonly samples: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly roundsAbove0: number
  readonly heightsPerSecond: number
}

/**
 * Every guardian's latency (start of the height to its decision, on that guardian) for
 * LATENCY_HEIGHTS heights, after WARMUP_HEIGHTS heights with everyone connected.
 */
export async function measureCommitLatency(net: BenchTestnet): Promise<LatencyResult> {
  const from = net.maxHeight() + WARMUP_HEIGHTS
  const to = from + LATENCY_HEIGHTS
  const samples: number[] = []
  const roundsAbove0 = new Set<number>()
  let firstAt: number | undefined
  let lastAt = 0
  const stop = net.observe(({ node, at, event }: CommitRecord) => {
    const h = event.block.header.height
    if (h <= from || h > to) return
    if (event.latencyMs !== null) samples.push(event.latencyMs)
    if (event.certificate.round > 0) roundsAbove0.add(h)
    if (node === 0) {
      firstAt ??= at
      lastAt = at
    }
  })
  try {
    await net.waitHeight(0, to, 60_000)
    // The others decide the last height within a few ms of guardian 0.
    for (let i = 1; i < net.size; i++) await net.waitHeight(i, to, 10_000)
  } finally {
    stop()
  }
  const heightsPerSecond = firstAt === undefined || lastAt <= firstAt ? Number.NaN : (LATENCY_HEIGHTS - 1) / ((lastAt - firstAt) / 1000)
  return {
    heights: LATENCY_HEIGHTS,
    samples: samples.length,
    p50: round(percentile(samples, 50), 1),
    p99: round(percentile(samples, 99), 1),
    max: round(percentile(samples, 100), 1),
    roundsAbove0: roundsAbove0.size,
    heightsPerSecond,
  }
}

// ---- ordered transactions -----------------------------------------------------------------

interface OrderedResult {
  readonly submitted: number
  readonly accepted: number
  readonly committed: number
  readonly seconds: number
  readonly perSecond: number
  readonly submitSeconds: number
  readonly blocks: number
  readonly maxBlockTxs: number
  readonly latencyP50: number
  readonly roundsAbove0: number
  readonly mempoolFullRetries: number
  readonly rejected: Record<string, number>
}

/**
 * Submits `txs` (tx i is guardian i mod 5's vote, submitted to that guardian's node) as fast
 * as admission takes them, one at a time per node, and times from the first submission to
 * guardian 0's commit of the block that completes them.
 */
export async function measureOrderedTxs(net: BenchTestnet, txs: readonly Uint8Array[]): Promise<OrderedResult> {
  const ours = new Set(txs.map((tx) => bytesToHex(txHash(tx))))
  let committed = 0
  let blocks = 0
  let maxBlockTxs = 0
  let lastOursAt = 0
  const latencies: number[] = []
  const roundsAbove0 = new Set<number>()
  const stop = net.observe(({ node, at, event }) => {
    if (event.latencyMs !== null) latencies.push(event.latencyMs)
    if (node !== 0) return
    if (event.certificate.round > 0) roundsAbove0.add(event.block.header.height)
    const n = event.block.txs.filter((tx) => ours.has(bytesToHex(txHash(tx)))).length
    if (n === 0) return
    committed += n
    blocks++
    maxBlockTxs = Math.max(maxBlockTxs, event.block.txs.length)
    lastOursAt = at
  })

  const rejected: Record<string, number> = {}
  let accepted = 0
  let mempoolFullRetries = 0
  const t0 = performance.now()
  try {
    await Promise.all(
      Array.from({ length: net.size }, async (_, i) => {
        const node = net.node(i)
        for (let k = i; k < txs.length; k += net.size) {
          for (;;) {
            const result = await node.submitTx(txs[k]!)
            if (result.ok) {
              accepted++
              break
            }
            if (result.code === 'mempool_full') {
              mempoolFullRetries++
              await sleep(10)
              continue
            }
            rejected[result.code] = (rejected[result.code] ?? 0) + 1
            break
          }
        }
      }),
    )
    const submitSeconds = (performance.now() - t0) / 1000
    const deadline = performance.now() + COMMIT_DEADLINE_MS
    while (committed < accepted && performance.now() < deadline) await sleep(5)
    if (committed < accepted) progress(`consensus: only ${committed} of ${accepted} admitted txs committed ${COMMIT_DEADLINE_MS / 1000} s after the last admission`)
    const seconds = (lastOursAt - t0) / 1000
    return {
      submitted: txs.length,
      accepted,
      committed,
      seconds,
      perSecond: committed / seconds,
      submitSeconds,
      blocks,
      maxBlockTxs,
      latencyP50: round(percentile(latencies, 50), 1),
      roundsAbove0: roundsAbove0.size,
      mempoolFullRetries,
      rejected,
    }
  } finally {
    stop()
  }
}

// ---- block sync ---------------------------------------------------------------------------

interface SyncResult {
  readonly blocks: number
  readonly seconds: number
  readonly perSecond: number
  readonly firstBlockMs: number
  readonly applyPerSecond: number
}

/**
 * Stops guardian SYNCER, lets the others commit SYNC_HEIGHTS heights, restarts it with the same
 * config and times it until it reaches the others' height at restart time.
 */
export async function measureSync(net: BenchTestnet): Promise<SyncResult> {
  const live = Array.from({ length: net.size }, (_, i) => i).filter((i) => i !== SYNCER)
  await net.stop(SYNCER)
  const stoppedAt = net.maxHeight(live)
  const roundsAbove0 = new Set<number>()
  const stopRounds = net.observe(({ node, event }) => {
    if (node === live[0] && event.certificate.round > 0) roundsAbove0.add(event.block.header.height)
  })
  const t0 = performance.now()
  try {
    await net.waitHeight(live[0]!, stoppedAt + SYNC_HEIGHTS, 90_000)
  } finally {
    stopRounds()
  }
  const target = net.maxHeight(live)
  progress(
    `sync: guardian-${SYNCER} stopped at height ${stoppedAt}; the others committed ${target - stoppedAt} heights in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s (${roundsAbove0.size} needed round > 0: the stopped guardian was their proposer)`,
  )

  let synced = 0
  let firstSyncAt: number | undefined
  let reached: { at: number; synced: number } | undefined
  let rejoined: { at: number; height: number } | undefined
  const stop = net.observe(({ node, at, event }) => {
    if (node !== SYNCER) return
    if (event.latencyMs === null) {
      synced++
      firstSyncAt ??= at
    } else {
      rejoined ??= { at, height: event.block.header.height }
    }
    if (reached === undefined && event.block.header.height >= target) reached = { at, synced }
  })
  try {
    const restartAt = performance.now()
    await net.start(SYNCER)
    const deadline = performance.now() + 60_000
    while (reached === undefined && performance.now() < deadline) await sleep(10)
    if (reached === undefined) throw new Error(`guardian-${SYNCER} at height ${net.height(SYNCER)} did not reach ${target} within 60 s of its restart`)
    const { at, synced: blocks } = reached
    // Back in consensus: it decides a height itself instead of fetching it.
    const rejoinDeadline = performance.now() + 15_000
    while (rejoined === undefined && performance.now() < rejoinDeadline) await sleep(10)
    if (rejoined === undefined) {
      progress(`sync: guardian-${SYNCER} still only syncing 15 s after reaching ${target} (height ${net.height(SYNCER)}, others ${net.maxHeight(live)})`)
    } else {
      progress(`sync: guardian-${SYNCER} back in consensus at height ${rejoined.height}, ${Math.round(rejoined.at - restartAt)} ms after restart (${synced} blocks synced in all)`)
    }
    const seconds = (at - restartAt) / 1000
    const firstBlockMs = (firstSyncAt ?? at) - restartAt
    return {
      blocks,
      seconds,
      perSecond: blocks / seconds,
      firstBlockMs,
      applyPerSecond: firstSyncAt === undefined || at <= firstSyncAt ? Number.NaN : (blocks - 1) / ((at - firstSyncAt) / 1000),
    }
  } finally {
    stop()
  }
}
