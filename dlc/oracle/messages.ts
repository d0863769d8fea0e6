import { bytesToHex } from '@noble/hashes/utils.js'
import { MAX_ORACLE_MESSAGE_BYTES, taggedKeccak256 } from '../../protocol/index.js'
import { malformed, WireReader, WireWriter, wireStringBytes } from './wire.js'

/**
 * dlcspecs oracle messages, version 0, enum events only — the wire form of
 * discreetlogcontracts/dlcspecs Oracle.md ("Version 0 `oracle_event`", "Version 0
 * `oracle_announcement`", "Version 0 `oracle_attestation`", "Version 0 `enum_event_descriptor`")
 * with the fundamental types of Messaging.md. Each message travels as one standalone TLV record
 * (bigsize type ‖ bigsize length ‖ value), the form oracles serve and rust-dlc / node-dlc parse:
 *
 *   oracle_announcement (55332): signature[64] ‖ x_point oracle_public_key[32] ‖ oracle_event TLV
 *   oracle_event        (55330): u16 nb_nonces ‖ nb_nonces × x_point ‖ u32 event_maturity_epoch ‖
 *                                event_descriptor TLV ‖ string event_id
 *   enum_event_descriptor (55302): u16 num_outcomes ‖ num_outcomes × string
 *   oracle_attestation  (55400): string event_id ‖ x_point oracle_public_key ‖ u16 nb_signatures ‖
 *                                nb_signatures × signature ‖ nb_signatures × string outcome
 *
 * The attestation's outcomes carry no count of their own in the spec text (Oracle.md and
 * Messaging.md "the oracle_attestation type"); rust-dlc and the oracles built on it (kormir, ddk)
 * write a `u16` count before them. We encode the spec form and decode both: with exactly one
 * signature the two are unambiguous, because the spec form's first outcome byte is a non-zero
 * length while the rust-dlc form starts with the count's high byte 0x00.
 *
 * Only enum events are supported (one nonce, one signature); a digit-decomposition event
 * (55306) is refused as malformed with a message saying so.
 */

export const ORACLE_ANNOUNCEMENT_TYPE = 55332
export const ORACLE_EVENT_TYPE = 55330
export const ENUM_EVENT_DESCRIPTOR_TYPE = 55302
export const ORACLE_ATTESTATION_TYPE = 55400
const DIGIT_DECOMPOSITION_EVENT_DESCRIPTOR_TYPE = 55306

/** Most outcomes an enum event may list (each outcome costs CETs and pre-signatures). */
export const MAX_OUTCOMES = 32
/** Longest outcome string, in UTF-8 bytes. */
export const MAX_OUTCOME_BYTES = 64
/** Longest event id, in UTF-8 bytes. */
export const MAX_EVENT_ID_BYTES = 256

const SIGNATURE_BYTES = 64
const X_ONLY_BYTES = 32

export interface OracleEvent {
  /** 32-byte x-only R; an enum event has exactly 1. */
  readonly nonces: readonly Uint8Array[]
  /** event_maturity_epoch: u32 unix seconds. */
  readonly maturity: number
  /** enum_event_descriptor outcomes. Decoded as listed; `verifyOracleAnnouncement` requires 2..MAX_OUTCOMES, distinct, non-empty. */
  readonly outcomes: readonly string[]
  readonly eventId: string
}

export interface OracleAnnouncement {
  /** BIP-340 signature over the tagged hash of the oracle_event TLV. */
  readonly signature: Uint8Array
  readonly oraclePublicKey: Uint8Array
  readonly event: OracleEvent
}

export interface OracleAttestation {
  readonly eventId: string
  readonly oraclePublicKey: Uint8Array
  /** 64 bytes each (R_x ‖ s); enum: exactly 1. */
  readonly signatures: readonly Uint8Array[]
  /** enum: exactly 1. */
  readonly outcomes: readonly string[]
}

export type OracleMessage =
  | { readonly kind: 'announcement'; readonly announcement: OracleAnnouncement }
  | { readonly kind: 'attestation'; readonly attestation: OracleAttestation }

// ---- encoding ----

function expectBytes(value: unknown, length: number, field: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) throw malformed(`${field} must be ${length} bytes`)
  return value
}

function expectArray(value: unknown, field: string): readonly unknown[] {
  if (!Array.isArray(value)) throw malformed(`${field} must be an array`)
  return value
}

function expectString(value: unknown, field: string, maxBytes: number): Uint8Array {
  if (typeof value !== 'string') throw malformed(`${field} must be a string`)
  return wireStringBytes(value, field, maxBytes)
}

/** The oracle_event TLV record: the bytes the announcement signature covers. */
export function encodeOracleEvent(event: OracleEvent): Uint8Array {
  const nonces = expectArray(event.nonces, 'oracle_event nonces')
  if (nonces.length !== 1) throw malformed(`oracle_event: an enum event commits to exactly 1 nonce, found ${nonces.length}`)
  const nonce = expectBytes(nonces[0], X_ONLY_BYTES, 'oracle_event nonce')
  if (!Number.isInteger(event.maturity) || event.maturity < 0 || event.maturity > 0xffff_ffff) {
    throw malformed('oracle_event maturity must be a u32')
  }
  const outcomes = expectArray(event.outcomes, 'enum_event_descriptor outcomes')
  if (outcomes.length > MAX_OUTCOMES) throw malformed(`enum_event_descriptor: ${outcomes.length} outcomes, more than ${MAX_OUTCOMES}`)
  const descriptor = new WireWriter().u16(outcomes.length)
  outcomes.forEach((outcome, i) => descriptor.string(expectString(outcome, `outcome ${i}`, MAX_OUTCOME_BYTES)))
  const body = new WireWriter()
    .u16(1)
    .bytes(nonce)
    .u32(event.maturity)
    .tlv(ENUM_EVENT_DESCRIPTOR_TYPE, descriptor.finish())
    .string(expectString(event.eventId, 'event_id', MAX_EVENT_ID_BYTES))
    .finish()
  return new WireWriter().tlv(ORACLE_EVENT_TYPE, body).finish()
}

export function encodeOracleAnnouncement(announcement: OracleAnnouncement): Uint8Array {
  const body = new WireWriter()
    .bytes(expectBytes(announcement.signature, SIGNATURE_BYTES, 'announcement signature'))
    .bytes(expectBytes(announcement.oraclePublicKey, X_ONLY_BYTES, 'oracle public key'))
    .bytes(encodeOracleEvent(announcement.event))
    .finish()
  return new WireWriter().tlv(ORACLE_ANNOUNCEMENT_TYPE, body).finish()
}

/** The spec form (outcomes without their own count); see the module comment. */
export function encodeOracleAttestation(attestation: OracleAttestation): Uint8Array {
  const signatures = expectArray(attestation.signatures, 'attestation signatures')
  const outcomes = expectArray(attestation.outcomes, 'attestation outcomes')
  if (signatures.length !== 1 || outcomes.length !== 1) {
    throw malformed(`oracle_attestation: an enum attestation carries exactly 1 signature and 1 outcome, found ${signatures.length} and ${outcomes.length}`)
  }
  const body = new WireWriter()
    .string(expectString(attestation.eventId, 'event_id', MAX_EVENT_ID_BYTES))
    .bytes(expectBytes(attestation.oraclePublicKey, X_ONLY_BYTES, 'oracle public key'))
    .u16(1)
    .bytes(expectBytes(signatures[0], SIGNATURE_BYTES, 'attestation signature'))
    .string(expectString(outcomes[0], 'outcome', MAX_OUTCOME_BYTES))
    .finish()
  return new WireWriter().tlv(ORACLE_ATTESTATION_TYPE, body).finish()
}

export function encodeOracleMessage(message: OracleMessage): Uint8Array {
  switch (message.kind) {
    case 'announcement':
      return encodeOracleAnnouncement(message.announcement)
    case 'attestation':
      return encodeOracleAttestation(message.attestation)
    default:
      throw malformed('unknown oracle message kind')
  }
}

// ---- decoding ----

/** The value of the single top-level record of `type`, with nothing after it. */
function checkInput(bytes: Uint8Array, name: string): void {
  if (!(bytes instanceof Uint8Array)) throw malformed(`${name}: expected bytes`)
  if (bytes.length > MAX_ORACLE_MESSAGE_BYTES) throw malformed(`${name}: ${bytes.length} bytes, more than ${MAX_ORACLE_MESSAGE_BYTES}`)
}

function topLevelRecord(bytes: Uint8Array, type: number, name: string): WireReader {
  checkInput(bytes, name)
  const outer = new WireReader(bytes, name)
  const value = outer.tlv(type, name)
  outer.end()
  return value
}

function readOracleEvent(reader: WireReader): OracleEvent {
  const r = reader.tlv(ORACLE_EVENT_TYPE, 'oracle_event')
  const nbNonces = r.u16('nb_nonces')
  const nonces: Uint8Array[] = []
  for (let i = 0; i < nbNonces; i++) nonces.push(r.bytes(X_ONLY_BYTES, `nonce ${i}`))
  const maturity = r.u32('event_maturity_epoch')
  if (r.peekBigSize('event_descriptor type') === DIGIT_DECOMPOSITION_EVENT_DESCRIPTOR_TYPE) {
    throw r.fail('digit_decomposition_event_descriptor (55306) is not supported: enum events only')
  }
  const d = r.tlv(ENUM_EVENT_DESCRIPTOR_TYPE, 'enum_event_descriptor')
  const numOutcomes = d.u16('num_outcomes')
  if (numOutcomes > MAX_OUTCOMES) throw d.fail(`${numOutcomes} outcomes, more than ${MAX_OUTCOMES}`)
  const outcomes: string[] = []
  for (let i = 0; i < numOutcomes; i++) outcomes.push(d.string(`outcome ${i}`, MAX_OUTCOME_BYTES))
  d.end()
  const eventId = r.string('event_id', MAX_EVENT_ID_BYTES)
  r.end()
  // Checked after the descriptor so that a numeric event gets the clearer message above.
  if (nonces.length !== 1) throw r.fail(`an enum event commits to exactly 1 nonce, found ${nonces.length}`)
  return { nonces, maturity, outcomes, eventId }
}

export function decodeOracleAnnouncement(bytes: Uint8Array): OracleAnnouncement {
  const r = topLevelRecord(bytes, ORACLE_ANNOUNCEMENT_TYPE, 'oracle_announcement')
  return readAnnouncementValue(r)
}

function readAnnouncementValue(r: WireReader): OracleAnnouncement {
  const signature = r.bytes(SIGNATURE_BYTES, 'announcement_signature')
  const oraclePublicKey = r.bytes(X_ONLY_BYTES, 'oracle_public_key')
  const event = readOracleEvent(r)
  r.end()
  return { signature, oraclePublicKey, event }
}

export function decodeOracleAttestation(bytes: Uint8Array): OracleAttestation {
  const r = topLevelRecord(bytes, ORACLE_ATTESTATION_TYPE, 'oracle_attestation')
  return readAttestationValue(r)
}

function readAttestationValue(r: WireReader): OracleAttestation {
  const eventId = r.string('event_id', MAX_EVENT_ID_BYTES)
  const oraclePublicKey = r.bytes(X_ONLY_BYTES, 'oracle_public_key')
  const nbSignatures = r.u16('nb_signatures')
  if (nbSignatures !== 1) throw r.fail(`an enum attestation carries exactly 1 signature, found ${nbSignatures}`)
  const signature = r.bytes(SIGNATURE_BYTES, 'signature')
  // rust-dlc form: a u16 outcome count first (its high byte is 0x00; a spec-form outcome length never is, outcomes being non-empty).
  if (r.peekByte('outcome') === 0x00) {
    const nbOutcomes = r.u16('nb_outcomes')
    if (nbOutcomes !== nbSignatures) throw r.fail(`${nbOutcomes} outcomes for ${nbSignatures} signature`)
  }
  const outcome = r.string('outcome', MAX_OUTCOME_BYTES)
  r.end()
  return { eventId, oraclePublicKey, signatures: [signature], outcomes: [outcome] }
}

export function decodeOracleMessage(bytes: Uint8Array): OracleMessage {
  checkInput(bytes, 'oracle message')
  const type = new WireReader(bytes, 'oracle message').bigsize('type')
  if (type === ORACLE_ANNOUNCEMENT_TYPE) return { kind: 'announcement', announcement: decodeOracleAnnouncement(bytes) }
  if (type === ORACLE_ATTESTATION_TYPE) return { kind: 'attestation', attestation: decodeOracleAttestation(bytes) }
  throw malformed(`oracle message: unknown TLV type ${type} (expected ${ORACLE_ANNOUNCEMENT_TYPE} or ${ORACLE_ATTESTATION_TYPE})`)
}

// ---- identifiers ----

/** Dedup key of an announcement: hex of a tagged keccak256 of its wire bytes. */
export function announcementId(announcement: OracleAnnouncement): string {
  return bytesToHex(taggedKeccak256('UBTC/dlc/oracle-announcement/v1', encodeOracleAnnouncement(announcement)))
}

/**
 * Dedup key of an attestation: hex of a tagged keccak256 of its canonical (spec-form) wire bytes,
 * so the same attestation received in either outcome-list form has one id.
 */
export function attestationId(attestation: OracleAttestation): string {
  return bytesToHex(taggedKeccak256('UBTC/dlc/oracle-attestation/v1', encodeOracleAttestation(attestation)))
}
