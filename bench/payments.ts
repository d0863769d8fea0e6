import { performance } from 'node:perf_hooks'
import { HDNodeWallet, JsonRpcProvider, hexlify, parseEther, toUtf8Bytes } from 'ethers'
import { validationId, type ChainName } from '../protocol/index.js'
import { DEV_CHAIN_IDS, DEV_EVM_PAYMENT_ADDRESS, devChainConfigs, type DevChains } from '../testnet/index.js'
import { benchLogOptions, BenchTestnet } from './guardian-testnet.js'
import { sleep } from './measure.js'

/**
 * Payments on the dev chains (anvil: a block every 500 ms) for the validation and custody
 * phases, and what the guardians made of them.
 */

/** The guardians' confirmation depth on the dev EVM chains (devChainConfigs). */
export const CONFIRMATIONS = 2
/** anvil's first account (m/44'/60'/0'/0/0 of {@link MNEMONIC}). */
export const DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
export const MNEMONIC = 'test test test test test test test test test test test junk'
export const POLL_MS = 20

export type EvmChain = 'ethereum' | 'polygon'

/** Node flags pointing the guardians' watchers at the dev chains. */
export function chainFlags(chains: DevChains): Record<string, string> {
  return { 'ethereum-rpc-urls': chains.ethereum.url, 'polygon-rpc-urls': chains.polygon.url, 'solana-rpc-urls': chains.solana.url }
}

/**
 * A phase's own network of `guardians` full nodes watching the dev chains, an empty block every
 * 200 ms at most, `flags` on top; node logs as `benchLogOptions(phase)` says.
 */
export function chainTestnet(chains: DevChains, phase: string, guardians: number, flags: Readonly<Record<string, string>>): Promise<BenchTestnet> {
  return BenchTestnet.create({ guardians, chains: devChainConfigs(), ...benchLogOptions(phase), flags: { ...chainFlags(chains), 'empty-block-interval-ms': '200', ...flags } })
}

/** A provider of `chain` without caching, added to `all` (destroy them at the end). */
export function evmProvider(chains: DevChains, chain: EvmChain, all: JsonRpcProvider[]): JsonRpcProvider {
  const p = new JsonRpcProvider(chain === 'ethereum' ? chains.ethereum.url : chains.polygon.url, undefined, { cacheTimeout: -1, staticNetwork: true })
  all.push(p)
  return p
}

export async function head(p: JsonRpcProvider): Promise<number> {
  return Number(BigInt((await p.send('eth_blockNumber', [])) as string))
}

/** The block number of `hash` once mined. */
export async function minedIn(p: JsonRpcProvider, hash: string, pollMs = POLL_MS, timeoutMs = 30_000): Promise<number> {
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
export async function confirmedAt(p: JsonRpcProvider, block: number, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if ((await head(p)) >= block + CONFIRMATIONS) return performance.now()
    if (performance.now() > deadline) throw new Error(`block ${block} not confirmed after ${timeoutMs} ms`)
    await sleep(POLL_MS)
  }
}

/** The payment's data: the message the guardians validate (and sign a BIP-322 proof of). */
export function paymentData(i: number): string {
  return hexlify(toUtf8Bytes(`bench payment ${i}: prove your reserves`))
}

/**
 * `senders × perSender` payments to the dev payment address, signed beforehand from the
 * anvil accounts `firstSender`.. of {@link MNEMONIC} (round robin over the senders), ready for
 * eth_sendRawTransaction. The genesis allows 20 approvals per sender and hour (per network).
 */
export async function signedPayments(p: JsonRpcProvider, chain: EvmChain, opts: { senders: number; perSender: number; firstSender?: number; messageOffset: number }): Promise<string[]> {
  const first = opts.firstSender ?? 0
  const wallets = Array.from({ length: opts.senders }, (_, i) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${first + i}`))
  const nonces = await Promise.all(wallets.map((w) => p.getTransactionCount(w.address, 'pending')))
  const fee = await p.getFeeData()
  const maxFeePerGas = (fee.maxFeePerGas ?? parseEther('0.0000001')) * 2n
  const maxPriorityFeePerGas = fee.maxPriorityFeePerGas ?? 1_000_000_000n
  const raws: string[] = []
  for (let k = 0; k < opts.perSender; k++) {
    for (let s = 0; s < opts.senders; s++) {
      raws.push(
        await wallets[s]!.signTransaction({
          type: 2,
          chainId: DEV_CHAIN_IDS[chain],
          to: DEV_EVM_PAYMENT_ADDRESS,
          value: parseEther('0.01'),
          data: paymentData(opts.messageOffset + raws.length),
          nonce: nonces[s]! + k,
          gasLimit: 60_000n,
          maxFeePerGas,
          maxPriorityFeePerGas,
        }),
      )
    }
  }
  return raws
}

/** Sends `raws` all at once; their tx hashes (lower case). */
export async function sendAll(p: JsonRpcProvider, raws: readonly string[]): Promise<string[]> {
  return (await Promise.all(raws.map((raw) => p.send('eth_sendRawTransaction', [raw]) as Promise<string>))).map((h) => h.toLowerCase())
}

export interface Decided {
  /** Status on the last guardian to decide, by tx hash ('undecided' if the deadline passed). */
  readonly statuses: Map<string, string>
  /** When the last guardian decided the last one. */
  readonly lastAt: number
}

/** Polls every guardian until each of `hashes` is decided (not pending) on all of them. */
export async function decidedEverywhere(net: BenchTestnet, chain: ChainName, hashes: readonly string[], pollMs: number, timeoutMs: number): Promise<Decided> {
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
