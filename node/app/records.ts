import { bytesToHex } from '@noble/hashes/utils.js'
import {
  CHAIN_NAMES,
  decodeCanonical,
  encodeCanonical,
  keccak256,
  MAX_PSBT_BYTES,
  OPERATIONS,
  readReserveKey,
  reserveKeyValue,
  type ChainName,
  type DkgSignature,
  type Operation,
  type ReserveKey,
} from '../../protocol/index.js'
import { readBytes, readString, readTuple, readUint, type CborValue } from '../../protocol/codec.js'
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
  /** The decision: approved, rejected or expired; for validations also delayed (then approved later); signed when the reserve signed it. */
  readonly status: AuditStatus
  readonly prevHash: string
  readonly hash: string
}

export type AuditStatus = 'approved' | 'rejected' | 'expired' | 'delayed' | 'signed'
const AUDIT_STATUSES: readonly AuditStatus[] = ['approved', 'rejected', 'expired', 'delayed', 'signed']

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

export const MAX_TIME = Number.MAX_SAFE_INTEGER
const MAX_RECORD_BYTES = 64 * 1024
export const RECORD_VERSION = 1
const AUDIT_VERSION = 1

function fail(what: string, err?: unknown): never {
  throw new AppError('corrupt_state', `state: ${what} does not decode${err instanceof Error ? ` (${err.message})` : ''}`, err === undefined ? undefined : { cause: err })
}

/** Decodes with protocol readers, reporting any failure as corrupt state. */
export function decodeStored<T>(bytes: Uint8Array, what: string, read: (value: unknown) => T): T {
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

export function readNullableUint(value: unknown, field: string): number | null {
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
 *   approved ──(a ThresholdSignature transaction with the reserve's BIP-322 proof)──▶ signed
 *
 * The content fields (txHash … blockHash) are those of the leading content: the observation hash
 * with the most observations (the earlier leader keeps ties). `observations` are the guardians
 * that observed the leading content, `conflicting` those that observed another (evidence, never
 * counted for the leader). Observations arriving after the decision are still recorded.
 */
export type ValidationStatus = 'pending' | 'approved' | 'rejected' | 'delayed' | 'expired' | 'signed'
export const VALIDATION_STATUSES: readonly ValidationStatus[] = ['pending', 'approved', 'rejected', 'delayed', 'expired', 'signed']
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
  /** The reserve's proof, once signed. */
  readonly signature: ReserveSignature | null
}

/** A BIP-322 simple signature of the validation's message by the reserve address. */
export interface ReserveSignature {
  /** base64 BIP-322 simple signature (the to_sign witness). */
  readonly bitcoinSignature: string
  readonly bitcoinAddress: string
  /** Guardians whose FROST shares made it. */
  readonly signers: readonly number[]
  readonly signedAtMs: number
  readonly signedHeight: number
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
    r.signature === null ? null : [r.signature.bitcoinSignature, r.signature.bitcoinAddress, [...r.signature.signers], r.signature.signedAtMs, r.signature.signedHeight],
  ])
}

function readReserveSignature(value: unknown, field: string): ReserveSignature | null {
  if (value === null) return null
  if (!Array.isArray(value) || value.length !== 5) throw new Error(`${field}: expected [signature, address, signers, signedAtMs, signedHeight]`)
  return {
    bitcoinSignature: readString(value[0], `${field}.bitcoinSignature`, 512),
    bitcoinAddress: readString(value[1], `${field}.bitcoinAddress`, 128),
    signers: readIndexes(value[2], `${field}.signers`),
    signedAtMs: readUint(value[3], MAX_TIME, `${field}.signedAtMs`),
    signedHeight: readUint(value[4], MAX_TIME, `${field}.signedHeight`),
  }
}

export function decodeValidationRecord(bytes: Uint8Array): ValidationRecord {
  return decodeStored(bytes, 'validation record', (value) => {
    const t = readTuple(value, RECORD_VERSION, 20, 'validation')
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
      signature: readReserveSignature(t[19], 'validation.signature'),
    }
  })
}

/** A copy that callers may keep. */
export function copyValidation(r: ValidationRecord): ValidationRecord {
  return {
    ...r,
    observations: r.observations.map((o) => ({ ...o })),
    conflicting: r.conflicting.map((o) => ({ ...o })),
    signature: r.signature === null ? null : { ...r.signature, signers: [...r.signature.signers] },
  }
}

// ─── reserve custody ─────────────────────────────────────────────────────────

/** The reserve key, set once by the first valid ReserveKey transaction. */
export interface ReserveRecord {
  readonly key: ReserveKey
  /** Every guardian's signature over reserveKeyDigest: the DKG certificate. */
  readonly signatures: readonly DkgSignature[]
  /** The key-path-only P2TR address of the output key, in the genesis Bitcoin network. */
  readonly address: string
  readonly committedHeight: number
  readonly committedAtMs: number
}

export function encodeReserveRecord(r: ReserveRecord): Uint8Array {
  return encodeCanonical([RECORD_VERSION, reserveKeyValue(r.key), r.signatures.map((s) => [s.guardian, s.signature]), r.address, r.committedHeight, r.committedAtMs])
}

export function decodeReserveRecord(bytes: Uint8Array): ReserveRecord {
  return decodeStored(bytes, 'reserve record', (value) => {
    const [key, signatures, address, committedHeight, committedAtMs] = readTuple(value, RECORD_VERSION, 5, 'reserve')
    if (!Array.isArray(signatures)) throw new Error('reserve.signatures: expected an array')
    return {
      key: readReserveKey(key, 'reserve.key'),
      signatures: signatures.map((s, i) => {
        if (!Array.isArray(s) || s.length !== 2) throw new Error(`reserve.signatures[${i}]: expected [guardian, signature]`)
        return { guardian: readUint(s[0], 255, `reserve.signatures[${i}].guardian`), signature: readBytes(s[1], `reserve.signatures[${i}].signature`, { exact: 65 }) }
      }),
      address: readString(address, 'reserve.address', 128),
      committedHeight: readUint(committedHeight, MAX_TIME, 'reserve.committedHeight'),
      committedAtMs: readUint(committedAtMs, MAX_TIME, 'reserve.committedAtMs'),
    }
  })
}

/**
 * A PSBT spending reserve outputs. Proposed by a guardian (PsbtProposal), approved by guardian
 * votes on operation reserve_spend with operationId = the PSBT id, then signed by a FROST
 * session (key path, SIGHASH_DEFAULT) on every reserve input.
 */
export interface PsbtRecord {
  /** Hex sha256 of the unsigned transaction (chains/bitcoin parseReservePsbt). */
  readonly id: string
  /** The proposed PSBT, hex. */
  readonly psbt: string
  /** Indexes of the inputs the reserve signs. */
  readonly inputs: readonly number[]
  readonly proposer: number
  readonly createdHeight: number
  readonly createdAtMs: number
  /** Block time of the approval (reserve_spend reached its threshold), or null. */
  readonly approvedAtMs: number | null
  /** The PSBT with the reserve's key-path signatures, hex, once signed. */
  readonly signedPsbt: string | null
  readonly signers: readonly number[]
  readonly signedAtMs: number | null
  readonly signedHeight: number | null
}

export function encodePsbtRecord(r: PsbtRecord): Uint8Array {
  return encodeCanonical([RECORD_VERSION, r.id, r.psbt, [...r.inputs], r.proposer, r.createdHeight, r.createdAtMs, r.approvedAtMs, r.signedPsbt, [...r.signers], r.signedAtMs, r.signedHeight])
}

export function decodePsbtRecord(bytes: Uint8Array): PsbtRecord {
  return decodeStored(bytes, 'psbt record', (value) => {
    const t = readTuple(value, RECORD_VERSION, 11, 'psbt')
    return {
      id: readString(t[0], 'psbt.id', 64),
      psbt: readString(t[1], 'psbt.psbt', 2 * MAX_PSBT_BYTES),
      inputs: readIndexes(t[2], 'psbt.inputs'),
      proposer: readUint(t[3], 255, 'psbt.proposer'),
      createdHeight: readUint(t[4], MAX_TIME, 'psbt.createdHeight'),
      createdAtMs: readUint(t[5], MAX_TIME, 'psbt.createdAtMs'),
      approvedAtMs: readNullableUint(t[6], 'psbt.approvedAtMs'),
      signedPsbt: t[7] === null ? null : readString(t[7], 'psbt.signedPsbt', 4 * MAX_PSBT_BYTES),
      signers: readIndexes(t[8], 'psbt.signers'),
      signedAtMs: readNullableUint(t[9], 'psbt.signedAtMs'),
      signedHeight: readNullableUint(t[10], 'psbt.signedHeight'),
    }
  })
}
