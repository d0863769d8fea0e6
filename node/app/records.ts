import { bytesToHex } from '@noble/hashes/utils.js'
import { CHAIN_NAMES, decodeCanonical, encodeCanonical, keccak256, OPERATIONS, type ChainName, type Operation } from '../../protocol/index.js'
import { readString, readTuple, readUint, type CborValue } from '../../protocol/codec.js'
import { AppError } from './errors.js'

/**
 * The records of guardian_consensus: one per (operation, operationId), created by the first
 * guardian vote on it and decided by the votes that follow or by expiry.
 *
 *   pending ──(approvals ≥ threshold)──────────────────────▶ approved
 *      │    ──(rejections > n − threshold: unreachable)────▶ rejected
 *      └────(block time ≥ expiresAtMs, still pending)──────▶ expired
 *
 * Decided records are final: later votes on them are invalid transactions.
 */
export type OperationStatus = 'pending' | 'approved' | 'rejected' | 'expired'
export const OPERATION_STATUSES: readonly OperationStatus[] = ['pending', 'approved', 'rejected', 'expired']

export interface OperationRecord {
  readonly operation: Operation
  readonly operationId: string
  readonly status: OperationStatus
  /** Approvals needed, from genesis.thresholds when the record was created. */
  readonly threshold: number
  /** Guardian indexes, in vote (block) order. */
  readonly approvals: readonly number[]
  readonly rejections: readonly number[]
  /** Block time of the block with the first vote. */
  readonly createdAtMs: number
  readonly expiresAtMs: number
  readonly decidedAtMs: number | null
  readonly decidedHeight: number | null
  readonly createdHeight: number
}

/**
 * One decision in the audit log. The log is a hash chain: `hash` = keccak256 of the canonical
 * CBOR encoding (protocol encodeCanonical, i.e. deterministic CBOR with sorted map keys) of the
 * map {seq, height, timeMs, operation, operationId, status, prevHash} — the entry without
 * `hash` — and `prevHash` is the previous entry's hash (64 zeros for seq 0). Hashes are lower
 * case hex without 0x. The head of the chain is in the state trie, so a block certificate
 * proves the whole log.
 */
export interface AuditEntry {
  /** 0, 1, 2… in decision order. */
  readonly seq: number
  readonly height: number
  /** Block time of the decision. */
  readonly timeMs: number
  readonly operation: Operation
  readonly operationId: string
  /** The decision: approved, rejected or expired; for validations also delayed (then approved later). */
  readonly status: AuditStatus
  readonly prevHash: string
  readonly hash: string
}

export type AuditStatus = 'approved' | 'rejected' | 'expired' | 'delayed'
const AUDIT_STATUSES: readonly AuditStatus[] = ['approved', 'rejected', 'expired', 'delayed']

export const AUDIT_GENESIS_HASH = '0'.repeat(64)

export function auditHash(entry: Omit<AuditEntry, 'hash'>): string {
  return bytesToHex(
    keccak256(
      encodeCanonical({
        seq: entry.seq,
        height: entry.height,
        timeMs: entry.timeMs,
        operation: entry.operation,
        operationId: entry.operationId,
        status: entry.status,
        prevHash: entry.prevHash,
      }),
    ),
  )
}

const MAX_TIME = Number.MAX_SAFE_INTEGER
const MAX_RECORD_BYTES = 64 * 1024
const RECORD_VERSION = 1
const AUDIT_VERSION = 1

function fail(what: string, err?: unknown): never {
  throw new AppError('corrupt_state', `state: ${what} does not decode${err instanceof Error ? ` (${err.message})` : ''}`, err === undefined ? undefined : { cause: err })
}

/** Decodes with protocol readers, reporting any failure as corrupt state. */
function decodeStored<T>(bytes: Uint8Array, what: string, read: (value: unknown) => T): T {
  try {
    return read(decodeCanonical(bytes, MAX_RECORD_BYTES, what))
  } catch (err) {
    fail(what, err)
  }
}

function readOperation(value: unknown, field: string): Operation {
  if (typeof value !== 'string' || !(OPERATIONS as readonly string[]).includes(value)) throw new Error(`${field}: unknown operation`)
  return value as Operation
}

function readStatus(value: unknown, field: string): OperationStatus {
  if (typeof value !== 'string' || !(OPERATION_STATUSES as readonly string[]).includes(value)) throw new Error(`${field}: unknown status`)
  return value as OperationStatus
}

function readIndexes(value: unknown, field: string): number[] {
  if (!Array.isArray(value)) throw new Error(`${field}: expected an array`)
  return value.map((v, i) => readUint(v, 255, `${field}[${i}]`))
}

function readNullableUint(value: unknown, field: string): number | null {
  return value === null ? null : readUint(value, MAX_TIME, field)
}

export function encodeOperationRecord(r: OperationRecord): Uint8Array {
  return encodeCanonical([
    RECORD_VERSION,
    r.operation,
    r.operationId,
    r.status,
    r.threshold,
    [...r.approvals],
    [...r.rejections],
    r.createdAtMs,
    r.expiresAtMs,
    r.decidedAtMs,
    r.decidedHeight,
    r.createdHeight,
  ])
}

export function decodeOperationRecord(bytes: Uint8Array): OperationRecord {
  return decodeStored(bytes, 'operation record', (value) => {
    const [operation, operationId, status, threshold, approvals, rejections, createdAtMs, expiresAtMs, decidedAtMs, decidedHeight, createdHeight] = readTuple(
      value,
      RECORD_VERSION,
      11,
      'record',
    )
    return {
      operation: readOperation(operation, 'record.operation'),
      operationId: readString(operationId, 'record.operationId', 1024),
      status: readStatus(status, 'record.status'),
      threshold: readUint(threshold, 255, 'record.threshold'),
      approvals: readIndexes(approvals, 'record.approvals'),
      rejections: readIndexes(rejections, 'record.rejections'),
      createdAtMs: readUint(createdAtMs, MAX_TIME, 'record.createdAtMs'),
      expiresAtMs: readUint(expiresAtMs, MAX_TIME, 'record.expiresAtMs'),
      decidedAtMs: readNullableUint(decidedAtMs, 'record.decidedAtMs'),
      decidedHeight: readNullableUint(decidedHeight, 'record.decidedHeight'),
      createdHeight: readUint(createdHeight, MAX_TIME, 'record.createdHeight'),
    }
  })
}

export function encodeAuditEntry(e: AuditEntry): Uint8Array {
  return encodeCanonical([AUDIT_VERSION, e.seq, e.height, e.timeMs, e.operation, e.operationId, e.status, e.prevHash, e.hash])
}

export function decodeAuditEntry(bytes: Uint8Array): AuditEntry {
  return decodeStored(bytes, 'audit entry', (value) => {
    const [seq, height, timeMs, operation, operationId, status, prevHash, hash] = readTuple(value, AUDIT_VERSION, 8, 'audit')
    const decoded = {
      seq: readUint(seq, MAX_TIME, 'audit.seq'),
      height: readUint(height, MAX_TIME, 'audit.height'),
      timeMs: readUint(timeMs, MAX_TIME, 'audit.timeMs'),
      operation: readOperation(operation, 'audit.operation'),
      operationId: readString(operationId, 'audit.operationId', 1024),
      status: status as AuditStatus,
      prevHash: readString(prevHash, 'audit.prevHash', 64),
      hash: readString(hash, 'audit.hash', 64),
    }
    if (!AUDIT_STATUSES.includes(decoded.status)) throw new Error('audit.status: not a decision')
    return decoded
  })
}

/** A copy that callers may keep: records are shared with caches otherwise. */
export function copyRecord(r: OperationRecord): OperationRecord {
  return { ...r, approvals: [...r.approvals], rejections: [...r.rejections] }
}

// ─── payment validations ─────────────────────────────────────────────────────

/**
 * The validation of one source-chain payment (chain, txHash), created by the first guardian
 * observation of it:
 *
 *   pending ──(one content observed by thresholds.validation guardians)──▶ approved | rejected | delayed
 *   delayed ──(block start, the sender's rolling-hour window has room)───▶ approved
 *   pending ──(block time ≥ expiresAtMs)─────────────────────────────────▶ expired
 *
 * The content fields (txHash … blockHash) are those of the leading content: the observation hash
 * with the most observations (the earlier leader keeps ties). `observations` are the guardians
 * that observed the leading content, `conflicting` those that observed another (evidence, never
 * counted for the leader). Observations arriving after the decision are still recorded.
 */
export type ValidationStatus = 'pending' | 'approved' | 'rejected' | 'delayed' | 'expired'
export const VALIDATION_STATUSES: readonly ValidationStatus[] = ['pending', 'approved', 'rejected', 'delayed', 'expired']
export type ValidationReason = 'wrong_recipient' | 'below_minimum' | 'empty_message' | 'invalid_utf8' | 'message_too_long' | 'unknown_chain' | 'rate_limited'
export const VALIDATION_REASONS: readonly ValidationReason[] = ['wrong_recipient', 'below_minimum', 'empty_message', 'invalid_utf8', 'message_too_long', 'unknown_chain', 'rate_limited']

export interface ValidationObservation {
  readonly guardian: number
  /** Hex keccak256 of the encoded observation (protocol observationHash). */
  readonly observationHash: string
  /** Hex of the guardian's envelope signature over the observation transaction. */
  readonly signature: string
}

export interface ValidationRecord {
  /** protocol validationId(chain, txHash). */
  readonly id: string
  readonly chain: ChainName
  readonly txHash: string
  readonly fromAddress: string
  readonly toAddress: string
  /** Decimal, in the chain's base unit. */
  readonly amount: string
  /** Raw message, lower-case hex. */
  readonly message: string
  /** The message as UTF-8 text; null when it is not valid UTF-8. */
  readonly messageText: string | null
  readonly blockHeight: number
  readonly blockHash: string
  readonly status: ValidationStatus
  readonly reason: ValidationReason | null
  readonly observations: readonly ValidationObservation[]
  readonly conflicting: readonly ValidationObservation[]
  readonly createdAtMs: number
  readonly expiresAtMs: number
  readonly processedAtMs: number | null
  readonly createdHeight: number
  readonly processedHeight: number | null
}

function oneOf<T extends string>(value: unknown, options: readonly T[], field: string): T {
  if (typeof value !== 'string' || !options.includes(value as T)) throw new Error(`${field}: unknown value`)
  return value as T
}

function encodeObservations(list: readonly ValidationObservation[]): CborValue[] {
  return list.map((o) => [o.guardian, o.observationHash, o.signature])
}

function readObservations(value: unknown, field: string): ValidationObservation[] {
  if (!Array.isArray(value)) throw new Error(`${field}: expected an array`)
  return value.map((v, i) => {
    if (!Array.isArray(v) || v.length !== 3) throw new Error(`${field}[${i}]: expected [guardian, hash, signature]`)
    return { guardian: readUint(v[0], 255, `${field}[${i}].guardian`), observationHash: readString(v[1], `${field}[${i}].hash`, 64), signature: readString(v[2], `${field}[${i}].signature`, 256) }
  })
}

export function encodeValidationRecord(r: ValidationRecord): Uint8Array {
  return encodeCanonical([
    RECORD_VERSION,
    r.id,
    r.chain,
    r.txHash,
    r.fromAddress,
    r.toAddress,
    r.amount,
    r.message,
    r.messageText,
    r.blockHeight,
    r.blockHash,
    r.status,
    r.reason,
    encodeObservations(r.observations),
    encodeObservations(r.conflicting),
    r.createdAtMs,
    r.expiresAtMs,
    r.processedAtMs,
    r.createdHeight,
    r.processedHeight,
  ])
}

export function decodeValidationRecord(bytes: Uint8Array): ValidationRecord {
  return decodeStored(bytes, 'validation record', (value) => {
    const t = readTuple(value, RECORD_VERSION, 19, 'validation')
    return {
      id: readString(t[0], 'validation.id', 64),
      chain: oneOf(t[1], CHAIN_NAMES, 'validation.chain'),
      txHash: readString(t[2], 'validation.txHash', 128),
      fromAddress: readString(t[3], 'validation.fromAddress', 128),
      toAddress: readString(t[4], 'validation.toAddress', 128),
      amount: readString(t[5], 'validation.amount', 32),
      message: readString(t[6], 'validation.message', 2048),
      messageText: t[7] === null ? null : readString(t[7], 'validation.messageText', 1024),
      blockHeight: readUint(t[8], MAX_TIME, 'validation.blockHeight'),
      blockHash: readString(t[9], 'validation.blockHash', 128),
      status: oneOf(t[10], VALIDATION_STATUSES, 'validation.status'),
      reason: t[11] === null ? null : oneOf(t[11], VALIDATION_REASONS, 'validation.reason'),
      observations: readObservations(t[12], 'validation.observations'),
      conflicting: readObservations(t[13], 'validation.conflicting'),
      createdAtMs: readUint(t[14], MAX_TIME, 'validation.createdAtMs'),
      expiresAtMs: readUint(t[15], MAX_TIME, 'validation.expiresAtMs'),
      processedAtMs: readNullableUint(t[16], 'validation.processedAtMs'),
      createdHeight: readUint(t[17], MAX_TIME, 'validation.createdHeight'),
      processedHeight: readNullableUint(t[18], 'validation.processedHeight'),
    }
  })
}

/** A copy that callers may keep. */
export function copyValidation(r: ValidationRecord): ValidationRecord {
  return { ...r, observations: r.observations.map((o) => ({ ...o })), conflicting: r.conflicting.map((o) => ({ ...o })) }
}
