import type { ClassicLevel } from 'classic-level'
import {
  decodeBlock,
  decodeCanonical,
  encodeBlock,
  encodeCanonical,
  ProtocolError,
  type Block,
  type CborValue,
} from '../../protocol/index.js'
import type { LastSigned, PersistedRoundState, SignStep, Step } from '../../consensus/index.js'

/** What this node signed last, and its own signed messages of that height (to re-send them identically). */
export interface SignedRecord {
  readonly last: LastSigned
  /** Encoded signed envelopes (proposal, prevotes, precommits) of `last.height`, oldest first. */
  readonly envelopes: readonly Uint8Array[]
}

const VERSION = 1
const ROUND_KEY = 'round'
const SIGNED_KEY = 'signed'

type Db = ClassicLevel<string, unknown>

/**
 * The consensus crash-safety records (CometBFT's privval state and WAL in one): the round
 * state with the lock, and the last signed message. Both are written with `sync: true`, and
 * the shell writes them before the message they cover leaves the node.
 */
export class ConsensusPersistence {
  private readonly level

  constructor(db: Db) {
    this.level = db.sublevel<string, Uint8Array>('consensus', { valueEncoding: 'view' })
  }

  async saveRoundState(state: PersistedRoundState<Block>): Promise<void> {
    const value = (v: { id: string; value: Block } | null): CborValue => (v === null ? null : [v.id, encodeBlock(v.value)])
    const votes: CborValue = state.polVotes.map((v) => [v.kind === 'prevote' ? 1 : 2, v.height, v.round, v.valueId, v.signer, v.timestampMs, v.signature])
    const bytes = encodeCanonical([VERSION, state.height, state.round, state.step, state.lockedRound, value(state.lockedValue), state.validRound, value(state.validValue), votes])
    await this.level.put(ROUND_KEY, bytes, { sync: true } as object)
  }

  async loadRoundState(): Promise<PersistedRoundState<Block> | undefined> {
    const bytes = await this.level.get(ROUND_KEY)
    if (bytes === undefined) return undefined
    const [version, height, round, step, lockedRound, lockedValue, validRound, validValue, votes] = decodeCanonical(bytes, 4 * 1024 * 1024, 'round state') as unknown[]
    if (version !== VERSION) throw new ProtocolError('unsupported_version', `round state version ${String(version)}`)
    const value = (v: unknown): { id: string; value: Block } | null => {
      if (v === null) return null
      const [id, block] = v as [string, Uint8Array]
      return { id, value: decodeBlock(block) }
    }
    return {
      height: height as number,
      round: round as number,
      step: step as Step,
      lockedRound: lockedRound as number,
      lockedValue: value(lockedValue),
      validRound: validRound as number,
      validValue: value(validValue),
      polVotes: (votes as unknown[][]).map(([kind, h, r, valueId, signer, timestampMs, signature]) => ({
        kind: kind === 1 ? 'prevote' : 'precommit',
        height: h as number,
        round: r as number,
        valueId: valueId as string | null,
        signer: signer as number,
        timestampMs: timestampMs as number,
        signature: signature as Uint8Array,
      })),
    }
  }

  async saveSigned(record: SignedRecord): Promise<void> {
    const { last } = record
    const bytes = encodeCanonical([VERSION, [last.height, last.round, last.step, last.valueId], [...record.envelopes]])
    await this.level.put(SIGNED_KEY, bytes, { sync: true } as object)
  }

  async loadSigned(): Promise<SignedRecord | undefined> {
    const bytes = await this.level.get(SIGNED_KEY)
    if (bytes === undefined) return undefined
    const [version, last, envelopes] = decodeCanonical(bytes, 32 * 1024 * 1024, 'signed record') as [unknown, unknown[], Uint8Array[]]
    if (version !== VERSION) throw new ProtocolError('unsupported_version', `signed record version ${String(version)}`)
    const [height, round, step, valueId] = last as [number, number, SignStep, string | null]
    return { last: { height, round, step, valueId }, envelopes }
  }
}
