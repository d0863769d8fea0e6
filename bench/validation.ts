import { performance } from 'node:perf_hooks'
import { HDNodeWallet, JsonRpcProvider, Wallet, hexlify, parseEther, toUtf8Bytes } from 'ethers'
import { validationId, type ChainName } from '../protocol/index.js'
import { DEV_CHAIN_IDS, DEV_EVM_PAYMENT_ADDRESS, devChainConfigs, startDevChains, type DevChains } from '../testnet/index.js'
import { BenchTestnet } from './guardian-testnet.js'
import { percentile, progress, round, sleep } from './measure.js'

/**
 * Payment validations on 5 full guardian nodes (in this process) watching two anvil chains
 * (a block every 500 ms, 2 confirmations) and the Solana dev RPC:
 * - latency: one payment at a time on ethereum, from the moment its block reaches confirmation
 *   depth (height ≤ head − 2, the head polled every 20 ms) to 'approved' on the last node;
 * - throughput: BATCH payments signed beforehand from SENDERS anvil accounts (≤ 20 each, the
 *   genesis per-sender hourly limit) on polygon, all sent at once; approved count over the
 *   time from the first payment's confirmation to the last approval on all nodes.
 */

const GUARDIANS = 5
const CONFIRMATIONS = 2
const LATENCY_PAYMENTS = 20
const SENDERS = 10
const PER_SENDER = 20
const BATCH = SENDERS * PER_SENDER
const DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const MNEMONIC = 'test test test test test test test test test test test junk'
const POLL_MS = 20

export interface ValidationFigures {
  readonly validation_latency_ms_p50: number
  readonly validation_latency_ms_p99: number
  readonly validation_latency_samples: number
  readonly validations_per_s: number
  readonly validations_approved: number
  readonly validations_batch: number
}

export async function runValidation(): Promise<ValidationFigures> {
  const began = performance.now()
  progress('validation: starting anvil (ethereum, polygon) and the Solana dev RPC')
  const chains = await startDevChains()
  let net: BenchTestnet | undefined
  const providers: JsonRpcProvider[] = []
  try {
    net = await BenchTestnet.create({
      guardians: GUARDIANS,
      chains: devChainConfigs(),
      flags: {
        'ethereum-rpc-urls': chains.ethereum.url,
        'polygon-rpc-urls': chains.polygon.url,
        'solana-rpc-urls': chains.solana.url,
        'empty-block-interval-ms': '200',
      },
    })
    await net.startAll()
    await net.waitConnected(30_000)
    progress(`validation: ${GUARDIANS} guardians connected, at height ${net.maxHeight()}`)

    const eth = provider(chains, 'ethereum', providers)
    const latency = await measureLatency(net, eth)
    progress(`validation: latency (confirmation depth reached → approved on all ${GUARDIANS}) p50 ${latency.p50} ms, p99 ${latency.p99} ms over ${latency.samples} payments`)

    const pol = provider(chains, 'polygon', providers)
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
    progress('validation: stopping the guardians and the chains')
    for (const p of providers) p.destroy()
    try {
      await net?.close()
    } finally {
      await chains.stop()
    }
  }
}

function provider(chains: DevChains, chain: 'ethereum' | 'polygon', all: JsonRpcProvider[]): JsonRpcProvider {
  const p = new JsonRpcProvider(chain === 'ethereum' ? chains.ethereum.url : chains.polygon.url, undefined, { cacheTimeout: -1, staticNetwork: true })
  all.push(p)
  return p
}

async function head(p: JsonRpcProvider): Promise<number> {
  return Number(BigInt((await p.send('eth_blockNumber', [])) as string))
}

/** The block number of `hash` once mined. */
async function minedIn(p: JsonRpcProvider, hash: string, pollMs = POLL_MS, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const receipt = (await p.send('eth_getTransactionReceipt', [hash])) as { blockNumber: string; status: string } | null
    if (receipt !== null) {
      if (receipt.status !== '0x1') throw new Error(`payment ${hash} reverted`)
      return Number(BigInt(receipt.blockNumber))
    }
    if (performance.now() > deadline) throw new Error(`payment ${hash} not mined after ${timeoutMs} ms`)
    await sleep(pollMs)
  }
}

/** The bench-clock moment the chain head reaches `block + CONFIRMATIONS` (the watchers' confirmation depth). */
async function confirmedAt(p: JsonRpcProvider, block: number, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if ((await head(p)) >= block + CONFIRMATIONS) return performance.now()
    if (performance.now() > deadline) throw new Error(`block ${block} not confirmed after ${timeoutMs} ms`)
    await sleep(POLL_MS)
  }
}

function message(i: number): string {
  return hexlify(toUtf8Bytes(`bench payment ${i}: prove your reserves`))
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
    const tx = await wallet.sendTransaction({ to: DEV_EVM_PAYMENT_ADDRESS, value: parseEther('0.01'), data: message(i), nonce: nonce++ })
    const hash = tx.hash.toLowerCase()
    const block = await minedIn(p, hash)
    const t0 = await confirmedAt(p, block)
    const decided = await decidedEverywhere(net, 'ethereum', [hash], POLL_MS, 30_000)
    const status = decided.statuses.get(hash)
    if (status !== 'approved') throw new Error(`payment ${hash}: ${status ?? 'undecided'} instead of approved`)
    samples.push(decided.lastAt - t0)
    // Off the block timer's phase, so the samples spread over where a payment lands in a block.
    await sleep(100 + Math.floor(Math.random() * 400))
  }
  return { samples: samples.length, p50: round(percentile(samples, 50), 1), p99: round(percentile(samples, 99), 1) }
}

interface Decided {
  /** Status on the last guardian to decide, by tx hash ('undecided' if the deadline passed). */
  readonly statuses: Map<string, string>
  /** When the last guardian decided the last one. */
  readonly lastAt: number
}

/** Polls every guardian until each of `hashes` is decided (not pending) on all of them. */
async function decidedEverywhere(net: BenchTestnet, chain: ChainName, hashes: readonly string[], pollMs: number, timeoutMs: number): Promise<Decided> {
  const deadline = performance.now() + timeoutMs
  const pending = new Map<number, Set<string>>()
  for (let n = 0; n < net.size; n++) pending.set(n, new Set(hashes))
  const statuses = new Map<string, string>()
  let lastAt = 0
  while ([...pending.values()].some((s) => s.size > 0)) {
    if (performance.now() > deadline) {
      for (const s of pending.values()) for (const h of s) statuses.set(h, 'undecided')
      break
    }
    for (const [n, set] of pending) {
      const node = net.node(n)
      for (const h of [...set]) {
        const v = await node.validation(validationId(chain, h))
        if (v === undefined || v.status === 'pending') continue
        const at = performance.now()
        set.delete(h)
        statuses.set(h, v.status)
        lastAt = Math.max(lastAt, at)
      }
    }
    await sleep(pollMs)
  }
  return { statuses, lastAt }
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
  const wallets = Array.from({ length: SENDERS }, (_, i) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`))
  const nonces = await Promise.all(wallets.map((w) => p.getTransactionCount(w.address, 'pending')))
  const fee = await p.getFeeData()
  const maxFeePerGas = (fee.maxFeePerGas ?? parseEther('0.0000001')) * 2n
  const maxPriorityFeePerGas = fee.maxPriorityFeePerGas ?? 1_000_000_000n
  const raws: string[] = []
  for (let k = 0; k < PER_SENDER; k++) {
    for (let s = 0; s < SENDERS; s++) {
      raws.push(
        await wallets[s]!.signTransaction({
          type: 2,
          chainId: DEV_CHAIN_IDS.polygon,
          to: DEV_EVM_PAYMENT_ADDRESS,
          value: parseEther('0.01'),
          data: message(1000 + raws.length),
          nonce: nonces[s]! + k,
          gasLimit: 60_000n,
          maxFeePerGas,
          maxPriorityFeePerGas,
        }),
      )
    }
  }
  const signMs = Math.round(performance.now() - signStart)

  const sendStart = performance.now()
  const hashes = (await Promise.all(raws.map((raw) => p.send('eth_sendRawTransaction', [raw]) as Promise<string>))).map((h) => h.toLowerCase())
  const sendMs = Math.round(performance.now() - sendStart)

  const blocks = await Promise.all(hashes.map((h) => minedIn(p, h, 250)))
  const firstBlock = Math.min(...blocks)
  const t0 = await confirmedAt(p, firstBlock)
  const decided = await decidedEverywhere(net, 'polygon', hashes, 50, 60_000)
  const statuses: Record<string, number> = {}
  for (const s of decided.statuses.values()) statuses[s] = (statuses[s] ?? 0) + 1
  const approved = statuses.approved ?? 0
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
