import { decodeCanonical, encodeCanonical, readString, readTuple, readUint, readUint64, uint64 } from './codec.js'
import { MAX_PAYLOAD_BYTES, MessageKind } from './envelope.js'

/** A guardian's periodic liveness statement, gossiped in a signed envelope. */
export interface Heartbeat {
  readonly name: string
  readonly version: string
  readonly height: bigint
  readonly peerCount: number
  /** Sender's wall clock in ms; strictly increasing per guardian, which makes replays detectable. */
  readonly timestampMs: number
  readonly peerId: string
}

const HEARTBEAT_VERSION = 1

export function encodeHeartbeat(hb: Heartbeat): Uint8Array {
  return encodeCanonical([HEARTBEAT_VERSION, hb.name, hb.version, uint64(hb.height), hb.peerCount, hb.timestampMs, hb.peerId])
}

export function decodeHeartbeat(bytes: Uint8Array): Heartbeat {
  const fields = readTuple(decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.Heartbeat], 'heartbeat'), HEARTBEAT_VERSION, 6, 'heartbeat')
  const [name, version, height, peerCount, timestampMs, peerId] = fields
  return {
    name: readString(name, 'heartbeat.name', 64),
    version: readString(version, 'heartbeat.version', 64),
    height: readUint64(height, 'heartbeat.height'),
    peerCount: readUint(peerCount, 10_000, 'heartbeat.peerCount'),
    timestampMs: readUint(timestampMs, Number.MAX_SAFE_INTEGER, 'heartbeat.timestampMs'),
    peerId: readString(peerId, 'heartbeat.peerId', 128),
  }
}
