import {
  decodeEnvelope,
  decodeHeartbeat,
  decodeProposal,
  decodeRebroadcast,
  decodeTx,
  decodeVote,
  MAX_ENVELOPE_BYTES,
  MessageKind,
  ProtocolError,
  verifyEnvelope,
  type GuardianInfo,
  type GuardianSet,
  type Heartbeat,
  type Proposal,
  type SignedEnvelope,
  type Transaction,
  type Vote,
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

/** A consensus message inside a verified envelope. */
export type ConsensusMessage =
  | { readonly kind: MessageKind.Proposal; readonly proposal: Proposal; readonly envelope: SignedEnvelope }
  | { readonly kind: MessageKind.Vote; readonly vote: Vote; readonly envelope: SignedEnvelope }

export type GossipMessage =
  | { readonly kind: MessageKind.Heartbeat; readonly heartbeat: Heartbeat }
  | ConsensusMessage
  /** `bytes` is the whole envelope: a transaction travels, and is stored in blocks, as its signed envelope. */
  | { readonly kind: MessageKind.Tx; readonly tx: Transaction; readonly bytes: Uint8Array }
  | { readonly kind: MessageKind.Rebroadcast; readonly messages: readonly ConsensusMessage[] }

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

    try {
      switch (envelope.kind) {
        case MessageKind.Heartbeat:
          return this.acceptHeartbeat(envelope, signer, decodeHeartbeat(envelope.payload), nowMs)
        case MessageKind.Proposal:
        case MessageKind.Vote:
          return accept(envelope, signer, consensusMessage(envelope))
        case MessageKind.Tx:
          return accept(envelope, signer, { kind: MessageKind.Tx, tx: decodeTx(envelope.payload), bytes: data })
        case MessageKind.Rebroadcast:
          return this.acceptRebroadcast(envelope, signer)
        case MessageKind.DkgRound1:
          return refuse('wrong_kind', 'DKG packages are pulled over dkg/1, never gossiped', signer)
      }
    } catch (err) {
      if (err instanceof ProtocolError) return refuse(err.code as RejectReason, err.message, signer)
      throw err
    }
  }

  private acceptHeartbeat(envelope: SignedEnvelope, signer: GuardianInfo, heartbeat: Heartbeat, nowMs: number): GossipVerdict {
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
    return accept(envelope, signer, { kind: MessageKind.Heartbeat, heartbeat })
  }

  /**
   * Each wrapped message must be signed and well formed: the sender's own proposal or votes,
   * or other guardians' prevotes (the proof of a lock the sender holds, which peers that crashed
   * may have lost).
   */
  private acceptRebroadcast(envelope: SignedEnvelope, signer: GuardianInfo): GossipVerdict {
    const messages: ConsensusMessage[] = []
    for (const bytes of decodeRebroadcast(envelope.payload).envelopes) {
      const inner = decodeEnvelope(bytes)
      if (inner.kind !== MessageKind.Proposal && inner.kind !== MessageKind.Vote) {
        return refuse('wrong_kind', `rebroadcast carries kind ${inner.kind}`, signer)
      }
      if (inner.kind === MessageKind.Proposal && inner.signer !== envelope.signer) {
        return refuse('identity_mismatch', `rebroadcast by ${signer.name} carries another guardian's proposal`, signer)
      }
      verifyEnvelope(this.opts.networkId, this.opts.guardians, inner)
      messages.push(consensusMessage(inner))
    }
    return accept(envelope, signer, { kind: MessageKind.Rebroadcast, messages })
  }
}

function consensusMessage(envelope: SignedEnvelope): ConsensusMessage {
  return envelope.kind === MessageKind.Proposal
    ? { kind: MessageKind.Proposal, proposal: decodeProposal(envelope.payload), envelope }
    : { kind: MessageKind.Vote, vote: decodeVote(envelope.payload), envelope }
}

function accept(envelope: SignedEnvelope, signer: GuardianInfo, message: GossipMessage): GossipVerdict {
  return { accepted: true, envelope, signer, message }
}

function refuse(reason: RejectReason, detail: string, signer?: GuardianInfo): GossipVerdict {
  return signer === undefined
    ? { accepted: false, reason, action: 'reject', detail }
    : { accepted: false, reason, action: 'reject', detail, signer }
}
