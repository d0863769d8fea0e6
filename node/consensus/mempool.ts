import { bytesToHex } from '@noble/hashes/utils.js'
import { txHash } from '../../protocol/index.js'

/**
 * Transactions admitted by checkTx and not yet committed, in arrival order. Bounded: when full,
 * new transactions are refused (the sender retries), so a flood cannot grow memory. A
 * transaction may name a slot (e.g. the signature of one signing job): one transaction per slot
 * waits at a time, so equivalent ones are not carried, proposed and executed again and again.
 */
export class Mempool {
  private readonly txs = new Map<string, Uint8Array>()
  /** slot → hash of the transaction holding it; hash → its slot */
  private readonly slots = new Map<string, string>()
  private readonly slotOf = new Map<string, string>()

  constructor(private readonly capacity = 10_000) {}

  get size(): number {
    return this.txs.size
  }

  has(hash: string): boolean {
    return this.txs.has(hash)
  }

  /** Adds an admitted transaction: 'added', or why not ('present', 'full', or 'slot_taken' by another transaction). */
  add(hash: string, tx: Uint8Array, slot?: string): 'added' | 'present' | 'full' | 'slot_taken' {
    if (this.txs.has(hash)) return 'present'
    if (slot !== undefined && this.slots.has(slot)) return 'slot_taken'
    if (this.txs.size >= this.capacity) return 'full'
    this.txs.set(hash, tx)
    if (slot !== undefined) {
      this.slots.set(slot, hash)
      this.slotOf.set(hash, slot)
    }
    return 'added'
  }

  private delete(hash: string): void {
    this.txs.delete(hash)
    const slot = this.slotOf.get(hash)
    if (slot === undefined) return
    this.slotOf.delete(hash)
    this.slots.delete(slot)
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
    for (const tx of txs) this.delete(bytesToHex(txHash(tx)))
  }

  /** Drops transactions that are no longer valid against the newly committed state. */
  async recheck(stillValid: (tx: Uint8Array) => Promise<boolean>): Promise<void> {
    for (const [hash, tx] of [...this.txs]) if (!(await stillValid(tx))) this.delete(hash)
  }
}
