import {
  decodeEnvelope,
  decodeHeartbeat,
  MAX_ENVELOPE_BYTES,
  MessageKind,
  ProtocolError,
  verifyEnvelope,
  type GuardianInfo,
  type GuardianSet,
  type Heartbeat,
  type SignedEnvelope,
} from '../../protocol/index.js'

export type RejectReason =
  | 'oversize'
  | 'malformed'
  | 'non_canonical'
  | 'unsupported_version'
  | 'wrong_kind'
  | 'wrong_topic'
  | 'unknown_signer'
  | 'bad_signature'
  | 'identity_mismatch'
  | 'replayed'
  | 'clock_skew'
  | 'stale'

export const REJECT_REASONS: readonly RejectReason[] = [
  'oversize', 'malformed', 'non_canonical', 'unsupported_version', 'wrong_kind', 'wrong_topic',
  'unknown_signer', 'bad_signature', 'identity_mismatch', 'replayed', 'clock_skew', 'stale',
]

export type GossipMessage = { readonly kind: MessageKind.Heartbeat; readonly heartbeat: Heartbeat }

export type GossipVerdict =
  | { readonly accepted: true; readonly envelope: SignedEnvelope; readonly signer: GuardianInfo; readonly message: GossipMessage }
  | {
      readonly accepted: false
      readonly reason: RejectReason
      /** `reject` penalises the relaying peer in gossipsub scoring; `ignore` drops without blame (late or out-of-order copies). */
      readonly action: 'reject' | 'ignore'
      readonly detail: string
      readonly signer?: GuardianInfo
    }

export interface GossipValidatorOptions {
  readonly networkId: Uint8Array
  readonly guardians: GuardianSet
  /** Heartbeats further ahead of our clock than this are dropped. */
  readonly maxClockSkewMs?: number
  /** Heartbeats older than this are dropped. */
  readonly maxAgeMs?: number
}

/**
 * Decides what to do with one gossip message: decode with size limits, check the topic,
 * the signer's membership and signature, decode the payload, and refuse replays. Pure apart
 * from the per-guardian replay watermark it keeps.
 */
export class GossipValidator {
  private readonly lastTimestamp = new Map<number, number>()
  private readonly maxClockSkewMs: number
  private readonly maxAgeMs: number

  constructor(private readonly opts: GossipValidatorOptions) {
    this.maxClockSkewMs = opts.maxClockSkewMs ?? 30_000
    this.maxAgeMs = opts.maxAgeMs ?? 120_000
  }

  /** Seeds the replay watermark, e.g. from heartbeats persisted before a restart. */
  remember(guardianIndex: number, timestampMs: number): void {
    if (timestampMs > (this.lastTimestamp.get(guardianIndex) ?? -1)) this.lastTimestamp.set(guardianIndex, timestampMs)
  }

  validate(topicKind: MessageKind, data: Uint8Array, nowMs: number): GossipVerdict {
    if (data.length > MAX_ENVELOPE_BYTES) return refuse('oversize', `envelope of ${data.length} bytes`)
    let envelope: SignedEnvelope
    let signer: GuardianInfo
    try {
      envelope = decodeEnvelope(data)
      if (envelope.kind !== topicKind) return refuse('wrong_topic', `kind ${envelope.kind} on the topic of kind ${topicKind}`)
      signer = verifyEnvelope(this.opts.networkId, this.opts.guardians, envelope)
    } catch (err) {
      if (err instanceof ProtocolError) return refuse(err.code as RejectReason, err.message)
      throw err
    }

    let heartbeat: Heartbeat
    try {
      heartbeat = decodeHeartbeat(envelope.payload)
    } catch (err) {
      if (err instanceof ProtocolError) return refuse(err.code as RejectReason, err.message, signer)
      throw err
    }
    if (heartbeat.name !== signer.name || heartbeat.peerId !== signer.peerId) {
      return refuse('identity_mismatch', `heartbeat claims ${heartbeat.name}/${heartbeat.peerId}, signed by ${signer.name}`, signer)
    }
    const last = this.lastTimestamp.get(signer.index)
    if (last !== undefined && heartbeat.timestampMs <= last) {
      return { accepted: false, reason: 'replayed', action: 'ignore', detail: `heartbeat ${heartbeat.timestampMs} not after ${last}`, signer }
    }
    if (heartbeat.timestampMs > nowMs + this.maxClockSkewMs) {
      return { accepted: false, reason: 'clock_skew', action: 'ignore', detail: `heartbeat ${heartbeat.timestampMs - nowMs} ms in the future`, signer }
    }
    if (heartbeat.timestampMs < nowMs - this.maxAgeMs) {
      return { accepted: false, reason: 'stale', action: 'ignore', detail: `heartbeat ${nowMs - heartbeat.timestampMs} ms old`, signer }
    }
    this.lastTimestamp.set(signer.index, heartbeat.timestampMs)
    return { accepted: true, envelope, signer, message: { kind: MessageKind.Heartbeat, heartbeat } }
  }
}

function refuse(reason: RejectReason, detail: string, signer?: GuardianInfo): GossipVerdict {
  return signer === undefined
    ? { accepted: false, reason, action: 'reject', detail }
    : { accepted: false, reason, action: 'reject', detail, signer }
}
