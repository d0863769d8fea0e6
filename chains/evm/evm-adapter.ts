import { FetchRequest, JsonRpcProvider, Network, getBytes, type Block, type TransactionResponse } from 'ethers'
import type { Logger } from 'pino'
import type { ChainName, EvmChainConfig } from '../../protocol/index.js'
import { ChainError } from '../errors.js'
import type { ChainAdapter, ChainCursor, ChainHealth, ConfirmedPayment, PollResult } from '../types.js'

/** How many scanned block hashes are remembered for reorg recovery. */
export const REORG_WINDOW = 64

export interface EvmAdapterOptions {
  readonly chain: ChainName
  readonly config: EvmChainConfig
  /** Tried in this order on every call; the first that answers wins. */
  readonly rpcUrls: readonly string[]
  readonly logger?: Logger
  /** Per-request timeout (default 10 s). */
  readonly requestTimeoutMs?: number
}

interface Endpoint {
  readonly url: string
  readonly provider: JsonRpcProvider
}

/**
 * Watches an EVM chain for payments: transactions with `to` == the payment address, value > 0,
 * non-empty calldata (the message; a plain transfer is not a payment, as a Solana transfer
 * without a memo is not), that did not revert. The state machine judges the message and
 * minPaymentWei. Only blocks at depth `confirmations` (height ≤ head − confirmations)
 * are scanned; the `finalized` tag is not used.
 *
 * Reorgs: the hashes of the last REORG_WINDOW scanned blocks are kept in memory. Each poll first
 * checks that the block at `cursor.height` still has `cursor.hash`; if not, it walks back through
 * the remembered hashes to the newest block still on the chain and rescans from there. If none
 * matches (e.g. after a restart, memory empty), it restarts from head − confirmations − REORG_WINDOW
 * and logs a warning; payments in that range may be reported again, so consumers dedupe by txHash.
 * A null cursor starts at the confirmed head: that block itself is not scanned.
 */
export class EvmAdapter implements ChainAdapter {
  readonly chain: ChainName
  private readonly config: EvmChainConfig
  private readonly paymentAddress: string
  private readonly endpoints: readonly Endpoint[]
  private readonly log: Logger | undefined
  /** height → hash of blocks scanned (or verified) recently. */
  private readonly recent = new Map<number, string>()
  private headHeight: number | null = null
  private cursorHeight: number | null = null
  private lastError: string | null = null

  constructor(opts: EvmAdapterOptions) {
    if (opts.rpcUrls.length === 0) throw new ChainError('misconfigured', `${opts.chain}: no RPC URLs`)
    this.chain = opts.chain
    this.config = opts.config
    this.paymentAddress = opts.config.paymentAddress.toLowerCase()
    this.log = opts.logger
    const network = Network.from(opts.config.chainId)
    this.endpoints = opts.rpcUrls.map((url) => {
      const req = new FetchRequest(url)
      req.timeout = opts.requestTimeoutMs ?? 10_000
      const provider = new JsonRpcProvider(req, network, {
        staticNetwork: network,
        batchMaxCount: 1,
        batchStallTime: 0,
        // No request de-duplication cache: a head or block read must be fresh (reorg checks).
        cacheTimeout: -1,
      })
      return { url, provider }
    })
  }

  /** Releases the providers. */
  close(): void {
    for (const e of this.endpoints) e.provider.destroy()
  }

  health(): ChainHealth {
    return {
      chain: this.chain,
      ok: this.lastError === null && this.headHeight !== null,
      headHeight: this.headHeight,
      lag: this.headHeight !== null && this.cursorHeight !== null ? this.headHeight - this.cursorHeight : null,
      lastError: this.lastError,
    }
  }

  async poll(cursor: ChainCursor | null, opts: { readonly maxBlocks: number; readonly signal: AbortSignal }): Promise<PollResult> {
    try {
      const result = await this.pollInner(cursor, opts)
      this.lastError = null
      this.cursorHeight = result.cursor.height
      return result
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err)
      throw err
    }
  }

  private async pollInner(cursor: ChainCursor | null, opts: { readonly maxBlocks: number; readonly signal: AbortSignal }): Promise<PollResult> {
    const { signal } = opts
    const maxBlocks = Math.max(1, Math.floor(opts.maxBlocks))
    signal.throwIfAborted()
    const head = await this.call('eth_blockNumber', (p) => p.getBlockNumber())
    this.headHeight = head
    const confirmedHead = head - this.config.confirmations

    let from: ChainCursor
    if (cursor === null) {
      from = await this.blockRef(Math.max(0, confirmedHead))
    } else {
      from = await this.checkCursor(cursor, confirmedHead, signal)
    }
    this.remember(from.height, from.hash)

    const payments: ConfirmedPayment[] = []
    const last = Math.min(confirmedHead, from.height + maxBlocks)
    let at = from
    for (let n = from.height + 1; n <= last; n++) {
      signal.throwIfAborted()
      const block = await this.call(`eth_getBlockByNumber(${n})`, async (p) => requireBlock(await p.getBlock(n, true), n))
      if (block.parentHash.toLowerCase() !== at.hash) {
        // The chain changed under us mid-scan; stop here, the next poll sees the mismatch at the cursor.
        this.log?.warn({ chain: this.chain, height: n }, 'evm: parent hash mismatch during scan; stopping this poll')
        break
      }
      for (const tx of block.prefetchedTransactions) {
        const payment = await this.toPayment(tx, block, signal)
        if (payment) payments.push(payment)
      }
      at = { height: n, hash: block.hash!.toLowerCase() }
      this.remember(at.height, at.hash)
    }
    return { payments, cursor: at }
  }

  /** The cursor if its block is still on the chain, else the newest remembered block that is. */
  private async checkCursor(cursor: ChainCursor, confirmedHead: number, signal: AbortSignal): Promise<ChainCursor> {
    const wanted = cursor.hash.toLowerCase()
    const current = await this.hashAt(cursor.height)
    if (current === wanted) return { height: cursor.height, hash: wanted }

    this.log?.warn({ chain: this.chain, height: cursor.height, expected: wanted, found: current }, 'evm: reorg below the cursor; walking back')
    for (let h = cursor.height - 1; h >= 0 && h >= cursor.height - REORG_WINDOW; h--) {
      signal.throwIfAborted()
      const remembered = this.recent.get(h)
      if (remembered === undefined) continue
      if ((await this.hashAt(h)) === remembered) {
        for (const k of [...this.recent.keys()]) if (k > h) this.recent.delete(k)
        this.log?.warn({ chain: this.chain, height: h }, 'evm: rescanning from the last block still on the chain')
        return { height: h, hash: remembered }
      }
    }
    this.recent.clear()
    const restart = Math.max(0, confirmedHead - REORG_WINDOW)
    this.log?.warn(
      { chain: this.chain, cursorHeight: cursor.height, restartHeight: restart },
      `evm: no remembered block matches the chain; restarting from height ${restart} (payments may be reported again)`,
    )
    return this.blockRef(restart)
  }

  private async toPayment(tx: TransactionResponse, block: Block, signal: AbortSignal): Promise<ConfirmedPayment | null> {
    if (tx.to === null || tx.to.toLowerCase() !== this.paymentAddress || tx.value <= 0n || tx.data === '0x') return null
    signal.throwIfAborted()
    const receipt = await this.call(`eth_getTransactionReceipt(${tx.hash})`, async (p) => {
      const r = await p.getTransactionReceipt(tx.hash)
      if (r === null) throw new Error(`no receipt for ${tx.hash}`)
      return r
    })
    if (receipt.status !== 1) return null
    return {
      chain: this.chain,
      txHash: tx.hash.toLowerCase(),
      from: tx.from.toLowerCase(),
      to: tx.to.toLowerCase(),
      amount: tx.value,
      message: getBytes(tx.data),
      blockHeight: block.number,
      blockHash: block.hash!.toLowerCase(),
    }
  }

  private async hashAt(height: number): Promise<string | null> {
    const block = await this.call(`eth_getBlockByNumber(${height})`, (p) => p.getBlock(height, false))
    return block?.hash?.toLowerCase() ?? null
  }

  private async blockRef(height: number): Promise<ChainCursor> {
    const block = await this.call(`eth_getBlockByNumber(${height})`, async (p) => requireBlock(await p.getBlock(height, false), height))
    return { height, hash: block.hash!.toLowerCase() }
  }

  private remember(height: number, hash: string): void {
    this.recent.set(height, hash)
    for (const k of this.recent.keys()) if (k <= height - REORG_WINDOW) this.recent.delete(k)
  }

  /** Runs `fn` against each RPC URL in order until one succeeds. */
  private async call<T>(what: string, fn: (p: JsonRpcProvider) => Promise<T>): Promise<T> {
    const failures: string[] = []
    for (const { url, provider } of this.endpoints) {
      try {
        return await fn(provider)
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        failures.push(`${url}: ${message.slice(0, 200)}`)
        this.log?.debug({ chain: this.chain, url, err: message }, `evm: ${what} failed`)
      }
    }
    throw new ChainError('rpc_unavailable', `${this.chain}: ${what} failed on every RPC URL (${failures.join('; ')})`)
  }
}

function requireBlock(block: Block | null, height: number): Block {
  if (block === null || block.hash === null) throw new Error(`block ${height} not found`)
  return block
}
