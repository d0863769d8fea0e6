import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { encodeCanonical, keccak256 } from '../../protocol/index.js'
import type { ValueId } from '../index.js'
import type { Prng } from './prng.js'

/**
 * A small deterministic application for the simulation. Values are blocks that chain by
 * parent id; a node's state root after a block is keccak(previous root ‖ block id). `valid`
 * is Algorithm 1's valid(v), so a Byzantine proposer can offer invalid blocks too.
 */
export interface SimBlock {
  readonly height: number
  readonly parentId: ValueId
  /** Small transaction ids, distinct, each below MAX_TX_ID. */
  readonly txs: readonly number[]
  readonly proposer: number
}

export const GENESIS_ID: ValueId = '00'.repeat(32)
export const GENESIS_ROOT: ValueId = '00'.repeat(32)
export const MAX_BLOCK_TXS = 6
export const MAX_TX_ID = 0xffff

const idCache = new WeakMap<SimBlock, ValueId>()

/** Hex keccak256 of the block's canonical (deterministic CBOR) encoding. */
export function blockId(block: SimBlock): ValueId {
  let id = idCache.get(block)
  if (id === undefined) {
    id = bytesToHex(keccak256(encodeCanonical([1, block.height, block.parentId, [...block.txs], block.proposer])))
    idCache.set(block, id)
  }
  return id
}

export function nextRoot(previousRoot: ValueId, valueId: ValueId): ValueId {
  return bytesToHex(keccak256(hexToBytes(previousRoot), hexToBytes(valueId)))
}

/** Stateless well-formedness (everything but the chain position). */
export function wellFormed(block: SimBlock): boolean {
  if (!Number.isSafeInteger(block.height) || block.height < 1) return false
  if (!Number.isSafeInteger(block.proposer) || block.proposer < 0) return false
  if (block.txs.length > MAX_BLOCK_TXS) return false
  const seen = new Set<number>()
  for (const tx of block.txs) {
    if (!Number.isSafeInteger(tx) || tx < 0 || tx > MAX_TX_ID || seen.has(tx)) return false
    seen.add(tx)
  }
  return true
}

/** A block proposed on top of `parentId` at `height`: valid iff well-formed and in that place. */
export function validAt(block: SimBlock, height: number, parentId: ValueId): boolean {
  return block.height === height && block.parentId === parentId && wellFormed(block)
}

export function buildBlock(height: number, parentId: ValueId, proposer: number, prng: Prng): SimBlock {
  const count = prng.int(0, MAX_BLOCK_TXS)
  const txs = new Set<number>()
  while (txs.size < count) txs.add(prng.int(0, MAX_TX_ID))
  return { height, parentId, txs: [...txs], proposer }
}

export type InvalidKind = 'wrong_parent' | 'wrong_height' | 'duplicate_tx'

/** A block that `validAt(…, height, parentId)` rejects, for a Byzantine proposer. */
export function buildInvalidBlock(height: number, parentId: ValueId, proposer: number, prng: Prng): SimBlock {
  const kind = prng.pick<InvalidKind>(['wrong_parent', 'wrong_height', 'duplicate_tx'])
  const base = buildBlock(height, parentId, proposer, prng)
  switch (kind) {
    case 'wrong_parent':
      return { ...base, parentId: bytesToHex(keccak256(hexToBytes(parentId))) }
    case 'wrong_height':
      return { ...base, height: height + 1 }
    case 'duplicate_tx': {
      const tx = prng.int(0, MAX_TX_ID)
      return { ...base, txs: [tx, tx] }
    }
  }
}

export interface CommittedBlock {
  readonly height: number
  readonly round: number
  readonly valueId: ValueId
  readonly value: SimBlock
  readonly root: ValueId
}

/** One node's committed chain (its durable application state). */
export class SimChain {
  private readonly blocks: CommittedBlock[] = []

  /** Highest committed height (0 before the first block). */
  get height(): number {
    return this.blocks.length
  }

  get tipId(): ValueId {
    return this.blocks.at(-1)?.valueId ?? GENESIS_ID
  }

  get root(): ValueId {
    return this.blocks.at(-1)?.root ?? GENESIS_ROOT
  }

  at(height: number): CommittedBlock | undefined {
    return this.blocks[height - 1]
  }

  /** valid(v) for the next height. */
  validNext(block: SimBlock): boolean {
    return validAt(block, this.height + 1, this.tipId)
  }

  build(proposer: number, prng: Prng): SimBlock {
    return buildBlock(this.height + 1, this.tipId, proposer, prng)
  }

  /** Applies the next block; returns the new state root. */
  apply(round: number, valueId: ValueId, value: SimBlock): CommittedBlock {
    if (value.height !== this.height + 1) throw new RangeError(`apply: block height ${value.height}, chain height ${this.height}`)
    const entry: CommittedBlock = { height: value.height, round, valueId, value, root: nextRoot(this.root, valueId) }
    this.blocks.push(entry)
    return entry
  }
}
