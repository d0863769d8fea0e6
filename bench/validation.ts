import { performance } from 'node:perf_hooks'
import { type JsonRpcProvider, Wallet, parseEther } from 'ethers'
import { DEV_EVM_PAYMENT_ADDRESS, type DevChains } from '../testnet/index.js'
import type { BenchTestnet } from './guardian-testnet.js'
import { percentile, progress, round, sleep } from './measure.js'
import { chainTestnet, confirmedAt, decidedEverywhere, DEV_KEY, evmProvider, minedIn, paymentData, POLL_MS, sendAll, signedPayments } from './payments.js'

/**
 * Payment validations on 5 full guardian nodes (in this process) watching two anvil chains
 * (a block every 500 ms, 2 confirmations) and the Solana dev RPC:
 * - latency: one payment at a time on ethereum, from the moment its block reaches confirmation
 *   depth (height ≤ head − 2, the head polled every 20 ms) to 'approved' on the last node;
 * - throughput: BATCH payments signed beforehand from SENDERS anvil accounts (≤ 20 each, the
 *   genesis per-sender hourly limit) on polygon, all sent at once; approved count over the
 *   time from the first payment's confirmation to the last approval on all nodes.
 *
 * Without a reserve key: the DKG is off here (testnet configs start it at start-up), so
 * approved validations are not signed and these figures are the validation path alone,
 * comparable with the runs before threshold custody. Signing is measured on a network of its
 * own (bench/custody.ts): on 2 cores, approving this 200-payment batch while the same five
 * nodes (one JS thread) sign the approvals overloads them until consensus stops committing.
 * 'signed' still counts as approved, should a reserve key exist.
 */

const GUARDIANS = 5
const LATENCY_PAYMENTS = 20
const SENDERS = 10
const PER_SENDER = 20
const BATCH = SENDERS * PER_SENDER
/** Validation statuses that mean approved ('signed': approved, then signed by the reserve). */
export const APPROVED: ReadonlySet<string> = new Set(['approved', 'signed'])

export interface ValidationFigures {
  readonly validation_latency_ms_p50: number
  readonly validation_latency_ms_p99: number
  readonly validation_latency_samples: number
  readonly validations_per_s: number
  readonly validations_approved: number
  readonly validations_batch: number
}

export async function runValidation(chains: DevChains): Promise<ValidationFigures> {
  const began = performance.now()
  let net: BenchTestnet | undefined
  const providers: JsonRpcProvider[] = []
  try {
    net = await chainTestnet(chains, 'validation', GUARDIANS, { 'auto-dkg': 'false' })
    await net.startAll()
    await net.waitConnected(30_000)
    progress(`validation: ${GUARDIANS} guardians connected, at height ${net.maxHeight()} (no DKG: no reserve key, nothing signed)`)

    const eth = evmProvider(chains, 'ethereum', providers)
    const latency = await measureLatency(net, eth)
    progress(`validation: latency (confirmation depth reached → approved on all ${GUARDIANS}) p50 ${latency.p50} ms, p99 ${latency.p99} ms over ${latency.samples} payments`)

    const pol = evmProvider(chains, 'polygon', providers)
    const tp = await measureThroughput(net, pol)
    progress(
      `validation: ${tp.approved}/${BATCH} approved on all guardians in ${tp.seconds.toFixed(2)} s from the first confirmation = ${tp.perSecond.toFixed(1)} validations/s ` +
        `(signed in ${tp.signMs} ms, sent in ${tp.sendMs} ms, ${tp.blocks} blocks${tp.other > 0 ? `, ${tp.other} not approved: ${JSON.stringify(tp.statuses)}` : ''})`,
    )
    progress(`validation: done in ${((performance.now() - began) / 1000).toFixed(1)} s`)
    return {
      validation_latency_ms_p50: latency.p50,
      validation_latency_ms_p99: latency.p99,
      validation_latency_samples: latency.samples,
      validations_per_s: round(tp.perSecond, 1),
      validations_approved: tp.approved,
      validations_batch: BATCH,
    }
  } finally {
    progress('validation: stopping the guardians')
    for (const p of providers) p.destroy()
    await net?.close()
  }
}

interface LatencyResult {
  readonly samples: number
  readonly p50: number
  readonly p99: number
}

async function measureLatency(net: BenchTestnet, p: JsonRpcProvider): Promise<LatencyResult> {
  const wallet = new Wallet(DEV_KEY, p)
  let nonce = await p.getTransactionCount(wallet.address, 'pending')
  const samples: number[] = []
  for (let i = 0; i < LATENCY_PAYMENTS; i++) {
    const tx = await wallet.sendTransaction({ to: DEV_EVM_PAYMENT_ADDRESS, value: parseEther('0.01'), data: paymentData(i), nonce: nonce++ })
    const hash = tx.hash.toLowerCase()
    const block = await minedIn(p, hash)
    const t0 = await confirmedAt(p, block)
    const decided = await decidedEverywhere(net, 'ethereum', [hash], POLL_MS, 30_000)
    const status = decided.statuses.get(hash)
    if (status === undefined || !APPROVED.has(status)) throw new Error(`payment ${hash}: ${status ?? 'undecided'} instead of approved`)
    samples.push(decided.lastAt - t0)
    // Off the block timer's phase, so the samples spread over where a payment lands in a block.
    await sleep(100 + Math.floor(Math.random() * 400))
  }
  return { samples: samples.length, p50: round(percentile(samples, 50), 1), p99: round(percentile(samples, 99), 1) }
}

interface ThroughputResult {
  readonly approved: number
  readonly other: number
  readonly statuses: Record<string, number>
  readonly seconds: number
  readonly perSecond: number
  readonly signMs: number
  readonly sendMs: number
  readonly blocks: number
}

async function measureThroughput(net: BenchTestnet, p: JsonRpcProvider): Promise<ThroughputResult> {
  const signStart = performance.now()
  const raws = await signedPayments(p, 'polygon', { senders: SENDERS, perSender: PER_SENDER, messageOffset: 1000 })
  const signMs = Math.round(performance.now() - signStart)

  const sendStart = performance.now()
  const hashes = await sendAll(p, raws)
  const sendMs = Math.round(performance.now() - sendStart)

  const blocks = await Promise.all(hashes.map((h) => minedIn(p, h, 250)))
  const firstBlock = Math.min(...blocks)
  const t0 = await confirmedAt(p, firstBlock)
  const decided = await decidedEverywhere(net, 'polygon', hashes, 50, 60_000)
  const statuses: Record<string, number> = {}
  for (const s of decided.statuses.values()) statuses[s] = (statuses[s] ?? 0) + 1
  const approved = hashes.filter((h) => APPROVED.has(decided.statuses.get(h) ?? '')).length
  const seconds = (decided.lastAt - t0) / 1000
  return {
    approved,
    other: hashes.length - approved,
    statuses,
    seconds,
    perSecond: approved / seconds,
    signMs,
    sendMs,
    blocks: new Set(blocks).size,
  }
}
