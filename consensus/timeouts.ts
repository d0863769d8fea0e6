import type { TimeoutKind, TimeoutParams } from './types.js'

/** Algorithm 1's timeouts grow linearly with the round, so that after GST they eventually exceed the message delay. */
export const DEFAULT_TIMEOUTS: TimeoutParams = Object.freeze({
  proposeBaseMs: 1000,
  proposeDeltaMs: 500,
  prevoteBaseMs: 500,
  prevoteDeltaMs: 250,
  precommitBaseMs: 500,
  precommitDeltaMs: 250,
})

/** timeout(kind, r) = base + r × delta (ms). */
export function timeoutFor(kind: TimeoutKind, round: number, params: TimeoutParams): number {
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`)
  switch (kind) {
    case 'propose':
      return params.proposeBaseMs + round * params.proposeDeltaMs
    case 'prevote':
      return params.prevoteBaseMs + round * params.prevoteDeltaMs
    case 'precommit':
      return params.precommitBaseMs + round * params.precommitDeltaMs
  }
}
