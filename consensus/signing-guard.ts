import type { UnsignedProposal, UnsignedVote, ValueId } from './types.js'

/** The three signed steps of a round, in the order a correct validator signs them. */
export type SignStep = 1 | 2 | 3 // proposal, prevote, precommit

export const SIGN_STEP_PROPOSAL: SignStep = 1
export const SIGN_STEP_PREVOTE: SignStep = 2
export const SIGN_STEP_PRECOMMIT: SignStep = 3

export interface LastSigned {
  readonly height: number
  readonly round: number
  readonly step: SignStep
  readonly valueId: ValueId | null
}

export type SignDecision = 'sign' | 'resign' | 'refuse'

/**
 * Double-sign protection (CometBFT's "privval"): the last signed (height, round, step) only
 * moves forward. The shell stores `last` durably together with the signed message, before the
 * message leaves the node, and consults `check` before every signature.
 */
export class SigningGuard {
  private lastSigned: LastSigned | undefined

  constructor(last?: LastSigned) {
    if (last !== undefined) assertWellFormed(last)
    this.lastSigned = last === undefined ? undefined : copy(last)
  }

  /**
   * 'sign' if (h, r, step) is strictly after the last signed; 'resign' if identical
   * (h, r, step, valueId): the shell then re-sends the stored message, never a new one;
   * 'refuse' otherwise (a conflicting value at the same step, or a regression).
   */
  check(msg: LastSigned): SignDecision {
    assertWellFormed(msg)
    const last = this.lastSigned
    if (last === undefined) return 'sign'
    const order = compareHrs(msg, last)
    if (order > 0) return 'sign'
    if (order === 0 && msg.valueId === last.valueId) return 'resign'
    return 'refuse'
  }

  /** Records a signature the shell made after `check` answered 'sign' (a 'resign' is a no-op). */
  record(msg: LastSigned): void {
    const decision = this.check(msg)
    if (decision === 'refuse') {
      throw new RangeError(`refusing to record ${describe(msg)}: conflicts with or precedes the last signed ${describe(this.lastSigned)}`)
    }
    if (decision === 'sign') this.lastSigned = copy(msg)
  }

  get last(): LastSigned | undefined {
    return this.lastSigned
  }
}

function compareHrs(a: LastSigned, b: LastSigned): number {
  if (a.height !== b.height) return a.height < b.height ? -1 : 1
  if (a.round !== b.round) return a.round < b.round ? -1 : 1
  if (a.step !== b.step) return a.step < b.step ? -1 : 1
  return 0
}

function assertWellFormed(msg: LastSigned): void {
  if (!Number.isSafeInteger(msg.height) || msg.height < 0) throw new RangeError(`bad height ${msg.height}`)
  if (!Number.isSafeInteger(msg.round) || msg.round < 0) throw new RangeError(`bad round ${msg.round}`)
  if (msg.step !== 1 && msg.step !== 2 && msg.step !== 3) throw new RangeError(`bad sign step ${String(msg.step)}`)
  if (msg.step === 1 && msg.valueId === null) throw new RangeError('a proposal always carries a value')
}

function copy(msg: LastSigned): LastSigned {
  return Object.freeze({ height: msg.height, round: msg.round, step: msg.step, valueId: msg.valueId })
}

function describe(msg: LastSigned | undefined): string {
  if (msg === undefined) return 'nothing'
  return `(h=${msg.height}, r=${msg.round}, step=${msg.step}, value=${msg.valueId ?? 'nil'})`
}

/** What the guard must check for a message the engine asks to sign. */
export function lastSignedOf(msg: UnsignedProposal<unknown> | UnsignedVote): LastSigned {
  if ('kind' in msg) {
    return { height: msg.height, round: msg.round, step: msg.kind === 'prevote' ? SIGN_STEP_PREVOTE : SIGN_STEP_PRECOMMIT, valueId: msg.valueId }
  }
  return { height: msg.height, round: msg.round, step: SIGN_STEP_PROPOSAL, valueId: msg.valueId }
}
