import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import type { Nonces } from '@noble/curves/abstract/frost.js'
import { equalBytes } from '@noble/curves/utils.js'

/**
 * FROST round-one nonces, kept only in memory.
 *
 * A {@link NoncePair} holds its two secret nonces in a `#private` field: `JSON.stringify`,
 * pino and `util.inspect` cannot see it, so no log line can carry a nonce by accident. The
 * nonces can be taken out exactly once ({@link NoncePair.take}); {@link NoncePair.wipe} zeroes
 * them in place (best effort: JavaScript may hold other copies) and forgets them.
 */
export class NoncePair {
  /** The public commitments (compressed points), safe to show anyone. */
  readonly hiding: Uint8Array
  readonly binding: Uint8Array
  #nonces: Nonces | undefined

  constructor(identifier: string, signingShare: Uint8Array) {
    const generated = schnorr_FROST.commit({ identifier, signingShare })
    this.hiding = generated.commitments.hiding
    this.binding = generated.commitments.binding
    this.#nonces = generated.nonces
  }

  /** The secret nonces, once; undefined if already taken or wiped. The caller wipes them after use. */
  take(): Nonces | undefined {
    const nonces = this.#nonces
    this.#nonces = undefined
    return nonces
  }

  /** Zeroes and forgets the nonces if they were not taken. */
  wipe(): void {
    const nonces = this.take()
    if (nonces !== undefined) wipeNonces(nonces)
  }

  get spent(): boolean {
    return this.#nonces === undefined
  }

  toJSON(): string {
    return '[nonce pair]'
  }
}

export function wipeNonces(nonces: Nonces): void {
  nonces.hiding.fill(0)
  nonces.binding.fill(0)
}

export interface NoncePoolOptions {
  /** Pairs kept ready (default 64). */
  readonly target: number
  /** Pairs generated per event-loop turn when refilling (default 4; one pair ≈ 1 ms). */
  readonly chunk: number
  /** Called with the pool size whenever it changes. */
  readonly onSize: (size: number) => void
}

interface PoolOwner {
  readonly identifier: string
  readonly signingShare: Uint8Array
}

/**
 * Nonce pairs generated ahead of time, so that answering a commit request costs no curve
 * multiplication. The pool belongs to one key share: a new share empties it. It refills in
 * the background, a few pairs per event-loop turn, and never touches the disk.
 */
export class NoncePool {
  #pairs: NoncePair[] = []
  #owner: PoolOwner | undefined
  #refill: NodeJS.Immediate | undefined
  #running = false

  constructor(private readonly opts: NoncePoolOptions) {}

  get size(): number {
    return this.#pairs.length
  }

  /** Starts refilling for `owner` (or, if undefined, stops and empties). */
  start(owner: PoolOwner | undefined): void {
    this.#running = true
    this.own(owner)
    this.scheduleRefill()
  }

  stop(): void {
    this.#running = false
    if (this.#refill !== undefined) clearImmediate(this.#refill)
    this.#refill = undefined
    this.#owner = undefined
    this.clear()
  }

  /** Wipes every pair of the pool. */
  clear(): void {
    for (const pair of this.#pairs) pair.wipe()
    this.#pairs = []
    this.opts.onSize(0)
  }

  /**
   * `count` fresh pairs for `owner`: taken from the pool, the rest generated now (yielding to
   * the event loop between chunks). Each pair leaves the pool for good.
   */
  async take(owner: PoolOwner, count: number): Promise<NoncePair[]> {
    this.own(owner)
    const pairs = this.#pairs.splice(0, count)
    this.opts.onSize(this.#pairs.length)
    while (pairs.length < count) {
      for (let i = 0; i < this.opts.chunk && pairs.length < count; i++) pairs.push(new NoncePair(owner.identifier, owner.signingShare))
      if (pairs.length < count) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    this.scheduleRefill()
    return pairs
  }

  private own(owner: PoolOwner | undefined): void {
    const same = owner !== undefined && this.#owner !== undefined && owner.identifier === this.#owner.identifier && equalBytes(owner.signingShare, this.#owner.signingShare)
    if (same) return
    this.clear()
    this.#owner = owner === undefined ? undefined : { identifier: owner.identifier, signingShare: owner.signingShare }
  }

  private scheduleRefill(): void {
    if (!this.#running || this.#refill !== undefined || this.#owner === undefined || this.#pairs.length >= this.opts.target) return
    this.#refill = setImmediate(() => {
      this.#refill = undefined
      const owner = this.#owner
      if (!this.#running || owner === undefined) return
      for (let i = 0; i < this.opts.chunk && this.#pairs.length < this.opts.target; i++) this.#pairs.push(new NoncePair(owner.identifier, owner.signingShare))
      this.opts.onSize(this.#pairs.length)
      this.scheduleRefill()
    })
  }
}
