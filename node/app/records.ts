import { bytesToHex } from '@noble/hashes/utils.js'
import { decodeCanonical, encodeCanonical, keccak256, OPERATIONS, type Operation } from '../../protocol/index.js'
import { readString, readTuple, readUint } from '../../protocol/codec.js'
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
  /** The decision: approved, rejected or expired. */
  readonly status: Exclude<OperationStatus, 'pending'>
  readonly prevHash: string
  readonly hash: string
}

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
      status: readStatus(status, 'audit.status'),
      prevHash: readString(prevHash, 'audit.prevHash', 64),
      hash: readString(hash, 'audit.hash', 64),
    }
    if (decoded.status === 'pending') throw new Error('audit.status: pending is not a decision')
    return { ...decoded, status: decoded.status }
  })
}

/** A copy that callers may keep: records are shared with caches otherwise. */
export function copyRecord(r: OperationRecord): OperationRecord {
  return { ...r, approvals: [...r.approvals], rejections: [...r.rejections] }
}
