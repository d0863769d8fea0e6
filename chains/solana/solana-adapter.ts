import {
  address,
  createSolanaRpc,
  getBase58Encoder,
  isSolanaError,
  signature as toSignature,
  SOLANA_ERROR__MALFORMED_JSON_RPC_ERROR,
  type Address,
  type PendingRpcRequest,
  type Signature,
  type SolanaRpcApi,
  type Rpc,
} from '@solana/kit'
import type { SolanaChainConfig } from '../../protocol/genesis.js'
import { ChainError } from '../errors.js'
import type { ChainAdapter, ChainCursor, ChainHealth, ConfirmedPayment, PollResult } from '../types.js'

/**
 * Watches a Solana payment address through standard JSON-RPC only (`getSlot`,
 * `getSignaturesForAddress`, `getTransaction`), so it runs unchanged against a real validator or
 * the LiteSVM dev chain in testnet/solana-rpc.
 *
 * Rules, all explicit:
 * - Everything is read at `finalized` commitment. Finalized slots never roll back, so there is no
 *   reorg check: the cursor is `{ height: slot, hash: signature }` of the last transaction touching
 *   the payment address that was processed, and the next poll lists signatures `until` it.
 * - A payment is a successful transaction (meta.err null) with exactly one top-level System
 *   `Transfer` to the payment address (lamports > 0) and exactly one top-level Memo instruction;
 *   its message is the memo's raw bytes (the state machine judges it, and minPaymentLamports, as
 *   for EVM). Anything else (a plain
 *   transfer, a memo alone, several transfers or memos, a failed transaction) is not a payment.
 * - `blockHeight` is the slot; `blockHash` is the slot as a decimal string. Solana transactions
 *   are identified by signature, and finalized slots are final, so the slot is the honest
 *   block identifier without an extra `getBlock` round trip.
 * - `maxBlocks` bounds the number of distinct slots whose transactions are processed per poll.
 * - A null cursor starts at the newest finalized signature of the payment address (or, if it has
 *   none yet, at the finalized head with an empty hash: everything later is new).
 */

export interface SolanaAdapterOptions {
  readonly config: SolanaChainConfig
  /** Tried in order; a failing URL falls through to the next. */
  readonly rpcUrls: readonly string[]
  /** Page size for getSignaturesForAddress (1..1000); default 1000. */
  readonly pageLimit?: number
  /** Per-request timeout; default 10 s. */
  readonly timeoutMs?: number
}

interface SignatureInfo {
  readonly signature: string
  readonly slot: number
  readonly err: unknown
}

const SYSTEM_PROGRAM = '11111111111111111111111111111111'
const MEMO_PROGRAMS = new Set(['MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr', 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo'])
const SYSTEM_TRANSFER = 2

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function bad(message: string): ChainError {
  return new ChainError('rpc_bad_response', message)
}

/** kit turns integers into bigint; accept either and return a safe non-negative number. */
function intOf(v: unknown): number | null {
  const n = typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n ? Number(v) : v
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : null
}

function slotOf(v: unknown, what: string): number {
  const n = intOf(v)
  if (n === null) throw bad(`${what}: expected a slot`)
  return n
}

function signatureOf(s: string, what: string): Signature {
  try {
    return toSignature(s)
  } catch {
    throw bad(`${what}: not a base58 signature`)
  }
}

function base58(s: unknown, what: string): Uint8Array {
  if (typeof s !== 'string') throw bad(`${what}: expected base58`)
  try {
    return new Uint8Array(getBase58Encoder().encode(s))
  } catch {
    throw bad(`${what}: invalid base58`)
  }
}

function stringArray(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(`${what}: expected an array of strings`)
  return v as string[]
}

export class SolanaAdapter implements ChainAdapter {
  readonly chain = 'solana' as const
  private readonly config: SolanaChainConfig
  private readonly paymentAddress: Address
  private readonly rpcs: readonly { readonly url: string; readonly rpc: Rpc<SolanaRpcApi> }[]
  private readonly pageLimit: number
  private readonly timeoutMs: number
  private ok = false
  private headHeight: number | null = null
  private lag: number | null = null
  private lastError: string | null = null

  constructor(opts: SolanaAdapterOptions) {
    if (opts.rpcUrls.length === 0) throw new ChainError('misconfigured', 'solana: no RPC URLs')
    const pageLimit = opts.pageLimit ?? 1000
    if (!Number.isInteger(pageLimit) || pageLimit < 1 || pageLimit > 1000) throw new ChainError('misconfigured', 'solana: pageLimit must be 1..1000')
    if (base58Length(opts.config.paymentAddress) !== 32) throw new ChainError('misconfigured', 'solana: paymentAddress is not a base58 32-byte address')
    this.config = opts.config
    this.paymentAddress = address(opts.config.paymentAddress)
    this.rpcs = opts.rpcUrls.map((url) => ({ url, rpc: createSolanaRpc(url) }))
    this.pageLimit = pageLimit
    this.timeoutMs = opts.timeoutMs ?? 10_000
  }

  health(): ChainHealth {
    return { chain: this.chain, ok: this.ok, headHeight: this.headHeight, lag: this.lag, lastError: this.lastError }
  }

  async poll(cursor: ChainCursor | null, opts: { readonly maxBlocks: number; readonly signal: AbortSignal }): Promise<PollResult> {
    try {
      const result = await this.scan(cursor, opts.maxBlocks, opts.signal)
      this.ok = true
      this.lastError = null
      return result
    } catch (e) {
      this.ok = false
      this.lastError = e instanceof Error ? e.message : String(e)
      throw e
    }
  }

  private async scan(cursor: ChainCursor | null, maxBlocks: number, signal: AbortSignal): Promise<PollResult> {
    const head = slotOf(await this.rpc('getSlot', (rpc) => rpc.getSlot({ commitment: 'finalized' }), signal), 'getSlot')
    this.headHeight = head
    if (cursor === null) {
      const [newest] = await this.signaturesPage({ limit: 1 }, signal)
      this.lag = 0
      return { payments: [], cursor: newest ? { height: newest.slot, hash: newest.signature } : { height: head, hash: '' } }
    }

    // Newest first, paging back until the cursor's signature (or anything older than its slot).
    const fresh: SignatureInfo[] = []
    for (let before: string | undefined; ; ) {
      const page = await this.signaturesPage({ limit: this.pageLimit, before, until: cursor.hash || undefined }, signal)
      const newer = page.filter((s) => s.slot >= cursor.height && s.signature !== cursor.hash)
      fresh.push(...newer)
      if (page.length < this.pageLimit || newer.length < page.length) break
      before = page[page.length - 1]!.signature
    }
    fresh.reverse()

    const payments: ConfirmedPayment[] = []
    let next: ChainCursor = cursor
    let lastSlot: number | null = null
    let slots = 0
    let truncated = false
    for (const s of fresh) {
      if (s.slot !== lastSlot) {
        if (slots >= maxBlocks) {
          truncated = true
          break
        }
        slots++
        lastSlot = s.slot
      }
      if (s.err === null) {
        const payment = await this.paymentIn(s, signal)
        if (payment) payments.push(payment)
      }
      next = { height: s.slot, hash: s.signature }
    }
    this.lag = truncated ? Math.max(0, head - next.height) : 0
    return { payments, cursor: next }
  }

  private async paymentIn(s: SignatureInfo, signal: AbortSignal): Promise<ConfirmedPayment | null> {
    const sig = signatureOf(s.signature, 'getSignaturesForAddress.signature')
    const tx: unknown = await this.rpc(
      'getTransaction',
      (rpc) => rpc.getTransaction(sig, { commitment: 'finalized', encoding: 'json', maxSupportedTransactionVersion: 0 }),
      signal,
    )
    if (tx === null) throw bad(`getTransaction(${s.signature}): finalized transaction not available`)
    if (!isObject(tx) || !isObject(tx.meta) || !isObject(tx.transaction) || !isObject(tx.transaction.message)) throw bad('getTransaction: malformed result')
    const slot = slotOf(tx.slot, 'getTransaction.slot')
    const signatures = stringArray(tx.transaction.signatures, 'getTransaction.signatures')
    if (signatures[0] !== s.signature) throw bad(`getTransaction(${s.signature}): returned another transaction`)
    if (tx.meta.err !== null) return null

    const message = tx.transaction.message
    const loaded = isObject(tx.meta.loadedAddresses) ? tx.meta.loadedAddresses : {}
    const keys = [
      ...stringArray(message.accountKeys, 'getTransaction.accountKeys'),
      ...(loaded.writable === undefined ? [] : stringArray(loaded.writable, 'loadedAddresses.writable')),
      ...(loaded.readonly === undefined ? [] : stringArray(loaded.readonly, 'loadedAddresses.readonly')),
    ]
    if (!Array.isArray(message.instructions)) throw bad('getTransaction: instructions missing')

    const transfers: { from: string; amount: bigint }[] = []
    const memos: Uint8Array[] = []
    for (const ix of message.instructions as unknown[]) {
      const programIdIndex = isObject(ix) ? intOf(ix.programIdIndex) : null
      if (!isObject(ix) || programIdIndex === null || !Array.isArray(ix.accounts)) throw bad('getTransaction: malformed instruction')
      const accounts = (ix.accounts as unknown[]).map((i) => {
        const index = intOf(i)
        const key = index === null ? undefined : keys[index]
        if (key === undefined) throw bad('getTransaction: account index out of range')
        return key
      })
      const program = keys[programIdIndex]
      if (program === undefined) throw bad('getTransaction: program index out of range')
      if (program === SYSTEM_PROGRAM) {
        const data = base58(ix.data, 'instruction data')
        if (data.length !== 12 || accounts.length < 2) continue
        const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
        if (view.getUint32(0, true) !== SYSTEM_TRANSFER || accounts[1] !== this.config.paymentAddress) continue
        transfers.push({ from: accounts[0]!, amount: view.getBigUint64(4, true) })
      } else if (MEMO_PROGRAMS.has(program)) {
        memos.push(base58(ix.data, 'memo data'))
      }
    }
    const [transfer] = transfers
    const [memo] = memos
    if (transfers.length !== 1 || memos.length !== 1 || !transfer || !memo) return null
    if (transfer.amount <= 0n) return null
    return {
      chain: this.chain,
      txHash: s.signature,
      from: transfer.from,
      to: this.config.paymentAddress,
      amount: transfer.amount,
      message: memo,
      blockHeight: slot,
      blockHash: String(slot),
    }
  }

  private async signaturesPage(opts: { limit: number; before?: string; until?: string }, signal: AbortSignal): Promise<SignatureInfo[]> {
    const before = opts.before === undefined ? undefined : signatureOf(opts.before, 'before')
    const until = opts.until === undefined ? undefined : signatureOf(opts.until, 'cursor hash')
    const result: unknown = await this.rpc(
      'getSignaturesForAddress',
      (rpc) =>
        rpc.getSignaturesForAddress(this.paymentAddress, {
          commitment: 'finalized',
          limit: opts.limit,
          ...(before === undefined ? {} : { before }),
          ...(until === undefined ? {} : { until }),
        }),
      signal,
    )
    if (!Array.isArray(result)) throw bad('getSignaturesForAddress: expected an array')
    return result.map((r: unknown) => {
      if (!isObject(r) || typeof r.signature !== 'string' || !('err' in r)) throw bad('getSignaturesForAddress: malformed entry')
      return { signature: r.signature, slot: slotOf(r.slot, 'getSignaturesForAddress.slot'), err: r.err ?? null }
    })
  }

  /** One JSON-RPC call through kit, falling through the URLs in order; the last error is thrown. */
  private async rpc<T>(method: string, call: (rpc: Rpc<SolanaRpcApi>) => PendingRpcRequest<T>, signal: AbortSignal): Promise<T> {
    let lastError: ChainError | null = null
    for (const { url, rpc } of this.rpcs) {
      signal.throwIfAborted()
      try {
        return await call(rpc).send({ abortSignal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) })
      } catch (e) {
        signal.throwIfAborted()
        lastError = classify(e, `${method} at ${url}`)
      }
    }
    throw lastError ?? new ChainError('rpc_unavailable', `${method}: no RPC URL`)
  }
}

/**
 * Maps what kit throws to a ChainError. A JSON-RPC error object from the node (or an HTTP error
 * status) is the node refusing or failing, as before: rpc_unavailable. A body that is not JSON, or
 * a malformed JSON-RPC error, is an unusable answer: rpc_bad_response. Network failures and
 * timeouts are rpc_unavailable.
 */
function classify(e: unknown, where: string): ChainError {
  const message = e instanceof Error ? e.message : String(e)
  if (e instanceof ChainError) return e
  if (isSolanaError(e, SOLANA_ERROR__MALFORMED_JSON_RPC_ERROR)) return new ChainError('rpc_bad_response', `${where}: ${message}`, { cause: e })
  if (isSolanaError(e)) return new ChainError('rpc_unavailable', `${where}: ${message}`, { cause: e })
  if (e instanceof SyntaxError) return new ChainError('rpc_bad_response', `${where}: response is not JSON`, { cause: e })
  // fetch rejects with TypeError('fetch failed') on network errors; any other TypeError comes from
  // kit walking a body that is JSON but not a JSON-RPC response.
  if (e instanceof TypeError && !(message === 'fetch failed' || e.cause !== undefined)) return new ChainError('rpc_bad_response', `${where}: ${message}`, { cause: e })
  return new ChainError('rpc_unavailable', `${where}: ${message}`, { cause: e })
}

function base58Length(s: string): number {
  try {
    return getBase58Encoder().encode(s).length
  } catch {
    return -1
  }
}
