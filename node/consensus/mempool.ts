import { bytesToHex } from '@noble/hashes/utils.js'
import { txHash } from '../../protocol/index.js'

/**
 * Transactions admitted by checkTx and not yet committed, in arrival order. Bounded: when full,
 * new transactions are refused (the sender retries), so a flood cannot grow memory.
 */
export class Mempool {
  private readonly txs = new Map<string, Uint8Array>()

  constructor(private readonly capacity = 10_000) {}

  get size(): number {
    return this.txs.size
  }

  has(hash: string): boolean {
    return this.txs.has(hash)
  }

  /** Adds an admitted transaction; false if present already or full. */
  add(hash: string, tx: Uint8Array): boolean {
    if (this.txs.has(hash) || this.txs.size >= this.capacity) return false
    this.txs.set(hash, tx)
    return true
  }

  /** The oldest `max` transactions, for a block proposal. */
  candidates(max: number): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const tx of this.txs.values()) {
      if (out.length >= max) break
      out.push(tx)
    }
    return out
  }

  removeCommitted(txs: readonly Uint8Array[]): void {
    for (const tx of txs) this.txs.delete(bytesToHex(txHash(tx)))
  }

  /** Drops transactions that are no longer valid against the newly committed state. */
  async recheck(stillValid: (tx: Uint8Array) => Promise<boolean>): Promise<void> {
    for (const [hash, tx] of [...this.txs]) if (!(await stillValid(tx))) this.txs.delete(hash)
  }
}
