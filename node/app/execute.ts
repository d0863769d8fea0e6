import { bytesToHex } from '@noble/hashes/utils.js'
import {
  decodeEnvelope,
  decodeTx,
  MAX_TX_BYTES,
  MessageKind,
  ProtocolError,
  txHash,
  TxType,
  verifyEnvelope,
  type Genesis,
  type GuardianSet,
  type GuardianVoteTx,
  type Transaction,
} from '../../protocol/index.js'
import type { OperationRecord } from './records.js'
import type { AppState } from './state.js'
import { applyPsbtProposal, applyReserveKey, applyThresholdSignature, approvePsbt, checkPsbtProposal, checkReserveKey, checkThresholdSignature } from './custody.js'
import { applyObservation, beginValidationBlock, checkObservation } from './validation.js'
import { applyOracleMessage, checkOracleMessage } from './oracle.js'

/**
 * Execution of guardian_consensus transactions against an {@link AppState}. Deterministic: the
 * only inputs are the state, the block's height and time, the genesis and the transactions
 * in block order — no clock, no randomness, no I/O outside the state.
 *
 * Rules of a GuardianVote (signed by guardian `signer`, on (operation, operationId)):
 * - the signer must be a guardian of the state's guardian set;
 * - one vote per guardian per operation: a second vote by the same guardian (either decision,
 *   in the same block or later) is invalid;
 * - votes on a decided or expired operation are invalid;
 * - the first vote creates the record: pending, threshold = genesis.thresholds[operation],
 *   expiresAtMs = block time + genesis.operationTtlMs;
 * - approvals ≥ threshold → approved; rejections > n − threshold (the threshold can no longer
 *   be reached) → rejected. Genesis thresholds are majorities, so both cannot hold at once;
 * - each decision appends an audit entry.
 * At the start of every block, before its transactions, pending operations with
 * expiresAtMs ≤ block time become expired (with an audit entry each).
 *
 * An invalid transaction leaves the state untouched: a vote is checked completely before any
 * write, so proposers can skip it and go on with the next candidate.
 */

export interface BlockContext {
  readonly height: number
  readonly timeMs: number
}

export interface ExecutionParams {
  readonly genesis: Genesis
  readonly guardians: GuardianSet
}

/** A transaction whose envelope, signature and payload check out. */
export interface VerifiedTx {
  readonly hash: string
  readonly signer: number
  /** The envelope signature (r ‖ s ‖ v). */
  readonly signature: Uint8Array
  readonly tx: Transaction
}

export type TxRejectionCode = 'malformed' | 'bad_signature' | 'unknown_signer' | 'invalid'

export type VerifyResult = { readonly ok: true; readonly verified: VerifiedTx } | { readonly ok: false; readonly code: TxRejectionCode; readonly reason: string }

/**
 * Decodes an encoded envelope of kind Tx, checks that its signer is a guardian of `guardians`
 * and that the signature is theirs over `networkId`, and decodes the transaction it carries.
 * Does not look at the state.
 */
export function verifyTx(bytes: Uint8Array, networkId: Uint8Array, guardians: GuardianSet): VerifyResult {
  if (bytes.length > MAX_TX_BYTES) return { ok: false, code: 'malformed', reason: `transaction of ${bytes.length} bytes exceeds ${MAX_TX_BYTES}` }
  const hash = bytesToHex(txHash(bytes))
  try {
    const envelope = decodeEnvelope(bytes)
    if (envelope.kind !== MessageKind.Tx) return { ok: false, code: 'malformed', reason: `expected an envelope of kind Tx, got kind ${envelope.kind}` }
    verifyEnvelope(networkId, guardians, envelope)
    const tx = decodeTx(envelope.payload)
    return { ok: true, verified: { hash, signer: envelope.signer, signature: envelope.signature, tx } }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err
    const code = err.code === 'unknown_signer' || err.code === 'bad_signature' ? err.code : 'malformed'
    return { ok: false, code, reason: err.message }
  }
}

/** Why `verified` cannot be executed on `state` now, or null if it can. Reads only. */
export async function checkTx(state: AppState, params: ExecutionParams, verified: VerifiedTx): Promise<string | null> {
  const { tx, signer } = verified
  if ((await state.getGuardian(signer)) === undefined) return `signer ${signer} is not a guardian`
  switch (tx.type) {
    case TxType.Observation:
      return checkObservation(state, signer, tx)
    case TxType.ReserveKey:
      return checkReserveKey(state, params, tx)
    case TxType.ThresholdSignature:
      return checkThresholdSignature(state, params, tx)
    case TxType.PsbtProposal: {
      const checked = await checkPsbtProposal(state, tx)
      return typeof checked === 'string' ? checked : null
    }
    case TxType.GuardianVote:
      return checkVote(state, signer, tx)
    case TxType.OracleMessage: {
      const checked = await checkOracleMessage(state, params, tx)
      return typeof checked === 'string' ? checked : null
    }
    default:
      return `unknown transaction type ${String((tx as { type: unknown }).type)}`
  }
}

async function checkVote(state: AppState, signer: number, tx: GuardianVoteTx): Promise<string | null> {
  const record = await state.getOperation(tx.operation, tx.operationId)
  if (record === undefined) {
    if (tx.operation === 'reserve_spend' && (await state.getPsbt(tx.operationId)) === undefined) return `no proposed PSBT ${tx.operationId} to vote on`
    return null
  }
  if (record.approvals.includes(signer) || record.rejections.includes(signer)) {
    return `guardian ${signer} already voted on ${tx.operation} ${tx.operationId}`
  }
  if (record.status !== 'pending') return `${tx.operation} ${tx.operationId} is already ${record.status}`
  return null
}

/**
 * Block start, before any transaction: expires the pending operations whose time has come, then
 * the pending validations, and approves delayed validations whose sender has room (validation.ts).
 */
export async function beginBlock(state: AppState, params: ExecutionParams, ctx: BlockContext): Promise<void> {
  await expireOperations(state, ctx)
  await beginValidationBlock(state, params, ctx)
}

async function expireOperations(state: AppState, ctx: BlockContext): Promise<void> {
  for (;;) {
    const { head, tail } = await state.getPendingBounds()
    if (head === tail) return
    const entry = await state.getPendingEntry(head)
    if (entry !== undefined && entry.expiresAtMs > ctx.timeMs) return
    await state.popPending()
    if (entry === undefined) continue
    const record = await state.getOperation(entry.operation, entry.operationId)
    // Decided records leave their queue entry behind; they are dropped here.
    if (record === undefined || record.status !== 'pending' || record.expiresAtMs > ctx.timeMs) continue
    const expired: OperationRecord = { ...record, status: 'expired', decidedAtMs: ctx.timeMs, decidedHeight: ctx.height }
    state.putOperation(record, expired)
    await state.appendAudit({ height: ctx.height, timeMs: ctx.timeMs, operation: record.operation, operationId: record.operationId, status: 'expired' })
  }
}

/** What `check` finds when `signer` is a guardian of the state; why not otherwise. */
async function fromGuardian<T>(state: AppState, signer: number, check: () => Promise<string | T>): Promise<string | T> {
  return (await state.getGuardian(signer)) === undefined ? `signer ${signer} is not a guardian` : check()
}

/**
 * Executes one verified transaction. Returns null if it was applied, or the reason it is
 * invalid (then the state is unchanged).
 */
export async function applyTx(state: AppState, params: ExecutionParams, ctx: BlockContext, verified: VerifiedTx): Promise<string | null> {
  const { tx, signer } = verified
  if (tx.type === TxType.PsbtProposal) {
    // Parsed once: the check's result is what the record stores.
    const checked = await fromGuardian(state, signer, () => checkPsbtProposal(state, tx))
    if (typeof checked === 'string') return checked
    await applyPsbtProposal(state, ctx, signer, tx, checked)
    return null
  }
  if (tx.type === TxType.OracleMessage) {
    const checked = await fromGuardian(state, signer, () => checkOracleMessage(state, params, tx))
    if (typeof checked === 'string') return checked
    applyOracleMessage(state, params, ctx, tx, checked)
    return null
  }
  const reason = await checkTx(state, params, verified)
  if (reason !== null) return reason
  switch (tx.type) {
    case TxType.Observation:
      await applyObservation(state, params, ctx, signer, verified.signature, tx)
      break
    case TxType.ReserveKey:
      await applyReserveKey(state, params, ctx, tx)
      break
    case TxType.ThresholdSignature:
      await applyThresholdSignature(state, ctx, tx)
      break
    case TxType.GuardianVote:
      await applyVote(state, params, ctx, signer, tx)
      break
  }
  return null
}

async function applyVote(state: AppState, params: ExecutionParams, ctx: BlockContext, signer: number, tx: GuardianVoteTx): Promise<void> {
  const before = await state.getOperation(tx.operation, tx.operationId)
  const base: OperationRecord = before ?? {
    operation: tx.operation,
    operationId: tx.operationId,
    status: 'pending',
    threshold: params.genesis.thresholds[tx.operation],
    approvals: [],
    rejections: [],
    createdAtMs: ctx.timeMs,
    expiresAtMs: ctx.timeMs + params.genesis.operationTtlMs,
    decidedAtMs: null,
    decidedHeight: null,
    createdHeight: ctx.height,
  }
  const approvals = tx.decision === 'approve' ? [...base.approvals, signer] : [...base.approvals]
  const rejections = tx.decision === 'reject' ? [...base.rejections, signer] : [...base.rejections]
  const n = params.guardians.size
  const status = approvals.length >= base.threshold ? 'approved' : rejections.length > n - base.threshold ? 'rejected' : 'pending'
  const after: OperationRecord =
    status === 'pending'
      ? { ...base, approvals, rejections }
      : { ...base, approvals, rejections, status, decidedAtMs: ctx.timeMs, decidedHeight: ctx.height }
  state.putOperation(before, after)
  if (before === undefined && status === 'pending') {
    await state.pushPending({ expiresAtMs: after.expiresAtMs, operation: after.operation, operationId: after.operationId })
  }
  if (status !== 'pending') {
    await state.appendAudit({ height: ctx.height, timeMs: ctx.timeMs, operation: after.operation, operationId: after.operationId, status })
  }
  if (status === 'approved' && after.operation === 'reserve_spend') await approvePsbt(state, ctx, after.operationId)
}
