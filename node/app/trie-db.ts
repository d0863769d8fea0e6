import type { AbstractBatchOperation, AbstractLevel, AbstractSublevel } from 'abstract-level'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import type { BatchDBOp, DB, EncodingOpts } from '@ethereumjs/util'

/** The node's LevelDB (a classic-level database, or a sublevel of one). */
export type AppDb = AbstractLevel<string | Buffer | Uint8Array, string, unknown>

/** A sublevel of the node's LevelDB holding binary values. */
export type BinarySublevel = AbstractSublevel<AppDb, string | Buffer | Uint8Array, string, Uint8Array>

/** A batch operation for the root database, aimed at one of its sublevels. */
export type SublevelOp = AbstractBatchOperation<AppDb, string, unknown>

/**
 * The @ethereumjs/mpt `DB` of the state trie: trie nodes live in a sublevel of the node's
 * LevelDB (key = unprefixed hex node hash, value = the RLP node), seen through an in-memory
 * write overlay.
 *
 * Nothing the trie writes reaches the disk by itself: puts and dels land in the overlay, reads
 * see the overlay first and the sublevel second. `takeOps()` hands the pending writes over as
 * root-level batch operations (with `sublevel:`), so that a commit writes trie nodes, block,
 * certificate, indexes and meta in one atomic `db.batch(ops, { sync: true })`. `fork()` makes
 * a copy for speculative execution (block validation, proposals): it sees what this one sees,
 * and its writes stay its own until taken — or are dropped with it.
 *
 * The trie is never pruned, so every committed root stays readable; a speculative fork built
 * on a committed root therefore stays valid while later blocks are committed.
 */
export class TrieDb implements DB<string, string | Uint8Array> {
  private constructor(
    private readonly sublevel: BinarySublevel,
    /** key → value, or null for a pending delete. */
    private overlay: Map<string, Uint8Array | null>,
  ) {}

  /** A TrieDb over the named sublevel of `db` (binary values). */
  static open(db: AppDb, name = 'trie'): TrieDb {
    return new TrieDb(db.sublevel<string, Uint8Array>(name, { valueEncoding: 'view' }), new Map())
  }

  /** Number of pending writes. */
  get pendingWrites(): number {
    return this.overlay.size
  }

  /** The pending value of `key`: bytes, null for a pending delete, undefined if untouched. */
  pending(key: string): Uint8Array | null | undefined {
    return this.overlay.get(key)
  }

  async get(key: string, opts?: EncodingOpts): Promise<string | Uint8Array | undefined> {
    let value: Uint8Array | undefined
    if (this.overlay.has(key)) {
      value = this.overlay.get(key) ?? undefined
    } else {
      value = await this.sublevel.get(key)
    }
    if (value === undefined) return undefined
    // The trie asks for hex strings when built with ValueEncoding.String; we build it with bytes.
    return opts?.valueEncoding === 'string' ? bytesToHex(value) : value
  }

  async put(key: string, value: string | Uint8Array): Promise<void> {
    this.overlay.set(key, typeof value === 'string' ? hexToBytes(value) : value)
  }

  async del(key: string): Promise<void> {
    this.overlay.set(key, null)
  }

  async batch(ops: BatchDBOp<string, string | Uint8Array>[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') await this.put(op.key, op.value as string | Uint8Array)
      else await this.del(op.key)
    }
  }

  /** Same overlay, same sublevel (the `DB` contract: a copy that shares the database). */
  shallowCopy(): TrieDb {
    return new TrieDb(this.sublevel, this.overlay)
  }

  async open(): Promise<void> {}

  /** A speculative copy: starts with this overlay's contents; its writes never touch this one. */
  fork(): TrieDb {
    return new TrieDb(this.sublevel, new Map(this.overlay))
  }

  /** Drops pending puts whose keys `keep` refuses (unreachable trie nodes); deletes stay. */
  retain(keep: (key: string) => boolean): void {
    for (const [key, value] of this.overlay) if (value !== null && !keep(key)) this.overlay.delete(key)
  }

  /**
   * Hands over the pending writes as root-level batch operations on the trie sublevel, in key
   * order, and empties the overlay: from here on the caller owns them and must write them.
   */
  takeOps(): SublevelOp[] {
    const keys = [...this.overlay.keys()].sort()
    const ops: SublevelOp[] = keys.map((key) => {
      const value = this.overlay.get(key) as Uint8Array | null
      return value === null ? { type: 'del', sublevel: this.sublevel, key } : { type: 'put', sublevel: this.sublevel, key, value }
    })
    this.overlay = new Map()
    return ops
  }
}
