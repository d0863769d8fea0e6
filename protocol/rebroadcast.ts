import { decodeCanonical, encodeCanonical, readBytes, readTuple, readUint } from './codec.js'
import { MAX_PAYLOAD_BYTES, MessageKind } from './envelope.js'
import { ProtocolError } from './errors.js'

/**
 * A guardian's latest consensus messages (its own signed proposal and votes of the current
 * height, and the prevotes that justify its lock), sent again: gossipsub delivers at most once and may lose a message, and its
 * content-hash dedupe would drop an identical resend, so the resend travels in a fresh,
 * timestamped wrapper.
 */
export interface Rebroadcast {
  readonly timestampMs: number
  /** Encoded signed envelopes: the sender's proposals, votes of any guardian. */
  readonly envelopes: readonly Uint8Array[]
}

/** Own messages of a height (a few) plus the prevotes behind a lock (at most 2 × MAX_GUARDIANS). */
export const MAX_REBROADCAST_ENVELOPES = 160
const VERSION = 1

export function encodeRebroadcast(r: Rebroadcast): Uint8Array {
  return encodeCanonical([VERSION, r.timestampMs, [...r.envelopes]])
}

export function decodeRebroadcast(bytes: Uint8Array): Rebroadcast {
  const [timestampMs, envelopes] = readTuple(decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.Rebroadcast], 'rebroadcast'), VERSION, 2, 'rebroadcast')
  if (!Array.isArray(envelopes) || envelopes.length === 0 || envelopes.length > MAX_REBROADCAST_ENVELOPES) {
    throw new ProtocolError('malformed', `rebroadcast.envelopes: expected 1-${MAX_REBROADCAST_ENVELOPES} entries`)
  }
  return {
    timestampMs: readUint(timestampMs, Number.MAX_SAFE_INTEGER, 'rebroadcast.timestampMs'),
    envelopes: envelopes.map((e: unknown, i) => readBytes(e, `rebroadcast.envelopes[${i}]`, { max: MAX_PAYLOAD_BYTES[MessageKind.Proposal] + 256 })),
  }
}
