import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { encodeCanonical, keccak256, MAX_ORACLE_MESSAGE_BYTES } from '../../protocol/index.js'
import { readBytes, readString, readTuple, readUint } from '../../protocol/codec.js'
import { decodeOracleAnnouncement, decodeOracleAttestation, MAX_EVENT_ID_BYTES, MAX_OUTCOME_BYTES, MAX_OUTCOMES } from '../../dlc/index.js'
import { decodeStored, MAX_TIME, readNullableUint, RECORD_VERSION } from './records.js'

/** One oracle message of an event as the log committed it. */
export interface OracleMessageEntry {
  /** The genesis name of the oracle that signed it. */
  readonly oracle: string
  /** Its dlcspecs wire bytes (oracle_announcement or oracle_attestation), signature included. */
  readonly message: Uint8Array
  readonly height: number
  readonly timeMs: number
}

/**
 * An oracle event (dlcspecs enum event) as the oracles of genesis announced and attested it.
 * The first announcement fixes outcomes and maturity; each oracle announces once (one nonce)
 * and attests once. The outcome is decided when `genesis.dlc.oracleThreshold` oracles that
 * never equivocated attest the same outcome; it never changes afterwards.
 */
export interface OracleEventRecord {
  /** hex keccak256 of the UTF-8 event id: the state key. */
  readonly key: string
  readonly eventId: string
  readonly outcomes: readonly string[]
  /** event_maturity_epoch, unix seconds. */
  readonly maturity: number
  readonly announcements: readonly OracleMessageEntry[]
  readonly attestations: readonly OracleMessageEntry[]
  /**
   * Attestations of a second outcome by an oracle that had attested another one. Two outcomes
   * signed with one nonce reveal the oracle's key: that oracle no longer counts.
   */
  readonly equivocations: readonly OracleMessageEntry[]
  readonly outcome: string | null
  readonly consensusHeight: number | null
  readonly consensusAtMs: number | null
  readonly createdHeight: number
  readonly createdAtMs: number
}

/** The JSON view of an event for the API and the derived index: hex fields, decoded messages. */
export interface OracleEventView {
  readonly key: string
  readonly eventId: string
  readonly outcomes: readonly string[]
  readonly maturity: number
  readonly announcements: ReadonlyArray<{ oracle: string; publicKey: string; nonce: string; announcement: string; height: number; timeMs: number }>
  readonly attestations: ReadonlyArray<{ oracle: string; outcome: string; signature: string; attestation: string; height: number; timeMs: number }>
  readonly equivocations: ReadonlyArray<{ oracle: string; outcome: string; signature: string; attestation: string; height: number; timeMs: number }>
  readonly outcome: string | null
  readonly consensusReached: boolean
  readonly consensusHeight: number | null
  readonly consensusAtMs: number | null
  readonly createdHeight: number
  readonly createdAtMs: number
}

const MAX_ENTRIES = 64

/** The state key of event `eventId`. */
export function oracleEventKey(eventId: string): string {
  return bytesToHex(keccak256(utf8ToBytes(eventId)))
}

export function encodeOracleEventRecord(r: OracleEventRecord): Uint8Array {
  const entries = (list: readonly OracleMessageEntry[]) => list.map((e) => [e.oracle, e.message, e.height, e.timeMs])
  return encodeCanonical([
    RECORD_VERSION,
    r.eventId,
    [...r.outcomes],
    r.maturity,
    entries(r.announcements),
    entries(r.attestations),
    entries(r.equivocations),
    r.outcome,
    r.consensusHeight,
    r.consensusAtMs,
    r.createdHeight,
    r.createdAtMs,
  ])
}

export function decodeOracleEventRecord(bytes: Uint8Array): OracleEventRecord {
  return decodeStored(bytes, 'oracle event record', (value) => {
    const t = readTuple(value, RECORD_VERSION, 11, 'oracle event')
    const eventId = readString(t[0], 'event.eventId', MAX_EVENT_ID_BYTES)
    if (!Array.isArray(t[1]) || t[1].length > MAX_OUTCOMES) throw new Error('event.outcomes: expected an array')
    return {
      key: oracleEventKey(eventId),
      eventId,
      outcomes: t[1].map((o, i) => readString(o, `event.outcomes[${i}]`, MAX_OUTCOME_BYTES)),
      maturity: readUint(t[2], 2 ** 32 - 1, 'event.maturity'),
      announcements: readEntries(t[3], 'event.announcements'),
      attestations: readEntries(t[4], 'event.attestations'),
      equivocations: readEntries(t[5], 'event.equivocations'),
      outcome: t[6] === null ? null : readString(t[6], 'event.outcome', MAX_OUTCOME_BYTES),
      consensusHeight: readNullableUint(t[7], 'event.consensusHeight'),
      consensusAtMs: readNullableUint(t[8], 'event.consensusAtMs'),
      createdHeight: readUint(t[9], MAX_TIME, 'event.createdHeight'),
      createdAtMs: readUint(t[10], MAX_TIME, 'event.createdAtMs'),
    }
  })
}

function readEntries(value: unknown, field: string): OracleMessageEntry[] {
  if (!Array.isArray(value) || value.length > MAX_ENTRIES) throw new Error(`${field}: expected an array of at most ${MAX_ENTRIES}`)
  return value.map((e, i) => {
    if (!Array.isArray(e) || e.length !== 4) throw new Error(`${field}[${i}]: expected [oracle, message, height, timeMs]`)
    return {
      oracle: readString(e[0], `${field}[${i}].oracle`, 64),
      message: readBytes(e[1], `${field}[${i}].message`, { max: MAX_ORACLE_MESSAGE_BYTES }),
      height: readUint(e[2], MAX_TIME, `${field}[${i}].height`),
      timeMs: readUint(e[3], MAX_TIME, `${field}[${i}].timeMs`),
    }
  })
}

/** The API view of a committed record (its messages were verified before they were committed). */
export function oracleEventView(r: OracleEventRecord): OracleEventView {
  const attestation = (e: OracleMessageEntry) => {
    const att = decodeOracleAttestation(e.message)
    return { oracle: e.oracle, outcome: att.outcomes[0]!, signature: bytesToHex(att.signatures[0]!), attestation: bytesToHex(e.message), height: e.height, timeMs: e.timeMs }
  }
  return {
    key: r.key,
    eventId: r.eventId,
    outcomes: [...r.outcomes],
    maturity: r.maturity,
    announcements: r.announcements.map((e) => {
      const a = decodeOracleAnnouncement(e.message)
      return { oracle: e.oracle, publicKey: bytesToHex(a.oraclePublicKey), nonce: bytesToHex(a.event.nonces[0]!), announcement: bytesToHex(e.message), height: e.height, timeMs: e.timeMs }
    }),
    attestations: r.attestations.map(attestation),
    equivocations: r.equivocations.map(attestation),
    outcome: r.outcome,
    consensusReached: r.outcome !== null,
    consensusHeight: r.consensusHeight,
    consensusAtMs: r.consensusAtMs,
    createdHeight: r.createdHeight,
    createdAtMs: r.createdAtMs,
  }
}
