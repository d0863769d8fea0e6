import type { ChainName } from '../protocol/index.js'

/**
 * The contract between the guardians' chain watchers and each chain: a payment is a transfer of
 * native value to the chain's payment address carrying a message (EVM: the calldata; Solana: an
 * SPL Memo instruction). Adapters report only payments at the chain's confirmation depth
 * (or `finalized`), from a cursor the node persists.
 */

export interface ConfirmedPayment {
  readonly chain: ChainName
  /** EVM: 0x-prefixed lower-case hex; Solana: base58 signature. */
  readonly txHash: string
  readonly from: string
  readonly to: string
  /** wei or lamports */
  readonly amount: bigint
  /** Raw message bytes (calldata or memo); judging them (UTF-8, length) is the state machine's job. */
  readonly message: Uint8Array
  /** Block number (EVM) or slot (Solana), and that block's hash. */
  readonly blockHeight: number
  readonly blockHash: string
}

/** Where a watcher stands: the last block it scanned completely (at confirmation depth). */
export interface ChainCursor {
  readonly height: number
  readonly hash: string
}

export interface ChainHealth {
  readonly chain: ChainName
  readonly ok: boolean
  /** The chain's head as last seen, and how far the confirmed cursor trails it. */
  readonly headHeight: number | null
  readonly lag: number | null
  readonly lastError: string | null
}

export interface PollResult {
  readonly payments: readonly ConfirmedPayment[]
  /** The new cursor; equal to the old one when nothing new is confirmed. */
  readonly cursor: ChainCursor
}

export interface ChainAdapter {
  readonly chain: ChainName
  /**
   * Scans confirmed blocks after `cursor` (null: start at the confirmed head) up to at most
   * `maxBlocks` of them. If the block at `cursor.height` no longer has `cursor.hash` (a reorg
   * deeper than the confirmation depth), rescans from before it. Throws ChainError on RPC failure;
   * the caller retries with backoff.
   */
  poll(cursor: ChainCursor | null, opts: { readonly maxBlocks: number; readonly signal: AbortSignal }): Promise<PollResult>
  health(): ChainHealth
}
