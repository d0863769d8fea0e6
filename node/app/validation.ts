import { bytesToHex } from '@noble/hashes/utils.js'
import { observationHash, validationId, type ChainName, type ObservationTx } from '../../protocol/index.js'
import type { BlockContext, ExecutionParams } from './execute.js'
import type { ValidationObservation, ValidationReason, ValidationRecord } from './records.js'
import type { AppState, Sender } from './state.js'

/**
 * Execution of Observation transactions: payment validations agreed by guardians.
 *
 * - An observation by guardian g of (chain, txHash) goes to the validation
 *   validationId(chain, txHash); a guardian observes a payment once (a second observation, of any
 *   content, is an invalid transaction).
 * - Observations are counted per observationHash (the content). The leading content — the most
 *   observed, the earlier leader keeping ties — fills the record's fields and its `observations`;
 *   the others are kept in `conflicting`, as evidence, and are never counted for the leader.
 * - When the leading content reaches genesis.thresholds.validation, the validation is decided with
 *   that content: rejected (unknown_chain, wrong_recipient, below_minimum, empty_message,
 *   invalid_utf8, message_too_long, checked in that order), else approved unless the sender
 *   (chain, fromAddress — lower case on EVM chains) already has genesis.validationRateLimitPerHour
 *   approvals in the rolling hour before the block time or earlier delayed validations: then
 *   delayed (reason rate_limited) and queued per sender.
 * - At every block start: pending validations whose expiresAtMs (creation block time +
 *   genesis.operationTtlMs) has come become expired; then, per sender in the order they were
 *   first delayed, delayed validations become approved, oldest first, while the sender's window
 *   has room.
 * - Observations of decided validations are still recorded (no status change).
 * Each decision (approved, rejected, delayed, expired) appends an audit entry (operation 'validation',
 * operationId = the validation id).
 */

export const MAX_VALIDATION_MESSAGE_BYTES = 512

export function isEvmChain(chain: ChainName): boolean {
  return chain !== 'solana'
}

/** The rate-limit key of a sender: EVM addresses are case-insensitive. */
export function senderOf(chain: ChainName, from: string): Sender {
  return { chain, from: isEvmChain(chain) ? from.toLowerCase() : from }
}

function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return null
  }
}

function contentOf(tx: ObservationTx): Pick<ValidationRecord, 'txHash' | 'fromAddress' | 'toAddress' | 'amount' | 'message' | 'messageText' | 'blockHeight' | 'blockHash'> {
  return {
    txHash: tx.txHash,
    fromAddress: tx.from,
    toAddress: tx.to,
    amount: tx.amount.toString(),
    message: bytesToHex(tx.message),
    messageText: utf8OrNull(tx.message),
    blockHeight: tx.blockHeight,
    blockHash: tx.blockHash,
  }
}

/** Why guardian `signer` cannot observe `tx` now, or null. Reads only. */
export async function checkObservation(state: AppState, signer: number, tx: ObservationTx): Promise<string | null> {
  const record = await state.getValidation(validationId(tx.chain, tx.txHash))
  if (record !== undefined && [...record.observations, ...record.conflicting].some((o) => o.guardian === signer)) {
    return `guardian ${signer} already observed ${tx.chain} ${tx.txHash}`
  }
  return null
}

/** Applies a checked observation (see checkObservation). */
export async function applyObservation(state: AppState, params: ExecutionParams, ctx: BlockContext, signer: number, signature: Uint8Array, tx: ObservationTx): Promise<void> {
  const id = validationId(tx.chain, tx.txHash)
  const hash = observationHash(tx)
  const obs: ValidationObservation = { guardian: signer, observationHash: hash, signature: bytesToHex(signature) }
  const before = await state.getValidation(id)
  let record: ValidationRecord
  if (before === undefined) {
    record = {
      id,
      chain: tx.chain,
      ...contentOf(tx),
      status: 'pending',
      reason: null,
      observations: [obs],
      conflicting: [],
      createdAtMs: ctx.timeMs,
      expiresAtMs: ctx.timeMs + params.genesis.operationTtlMs,
      processedAtMs: null,
      createdHeight: ctx.height,
      processedHeight: null,
      signature: null,
    }
    await state.pushValidationExpiry(record.expiresAtMs, id)
  } else if (before.observations[0]?.observationHash === hash) {
    record = { ...before, observations: [...before.observations, obs] }
  } else {
    const conflicting = [...before.conflicting, obs]
    const same = conflicting.filter((o) => o.observationHash === hash)
    if (before.status === 'pending' && same.length > before.observations.length) {
      // This content now leads: the record takes its fields, the former leader becomes evidence.
      record = { ...before, ...contentOf(tx), observations: same, conflicting: [...before.observations, ...conflicting.filter((o) => o.observationHash !== hash)] }
    } else {
      record = { ...before, conflicting }
    }
  }
  if (record.status === 'pending' && record.observations.length >= params.genesis.thresholds.validation) {
    record = await decide(state, params, ctx, record)
  }
  state.putValidation(before, record)
}

function rejection(params: ExecutionParams, r: ValidationRecord): ValidationReason | null {
  const chain = params.genesis.chains[r.chain]
  if (chain === undefined) return 'unknown_chain'
  const recipientOk = chain.kind === 'evm' ? r.toAddress.toLowerCase() === chain.paymentAddress.toLowerCase() : r.toAddress === chain.paymentAddress
  if (!recipientOk) return 'wrong_recipient'
  const min = chain.kind === 'evm' ? chain.minPaymentWei : chain.minPaymentLamports
  if (BigInt(r.amount) < BigInt(min)) return 'below_minimum'
  if (r.message.length === 0) return 'empty_message'
  if (r.messageText === null) return 'invalid_utf8'
  if (r.message.length / 2 > MAX_VALIDATION_MESSAGE_BYTES) return 'message_too_long'
  return null
}

function inWindow(times: readonly number[], nowMs: number, windowMs: number): number[] {
  return times.filter((t) => t > nowMs - windowMs)
}

async function decide(state: AppState, params: ExecutionParams, ctx: BlockContext, r: ValidationRecord): Promise<ValidationRecord> {
  const processed = { processedAtMs: ctx.timeMs, processedHeight: ctx.height }
  const reason = rejection(params, r)
  if (reason !== null) {
    await audit(state, ctx, r.id, 'rejected')
    return { ...r, ...processed, status: 'rejected', reason }
  }
  const sender = senderOf(r.chain, r.fromAddress)
  const queued = await state.getDelayed(sender)
  const window = inWindow(await state.getRateWindow(sender), ctx.timeMs, params.genesis.validationRateWindowMs)
  if (queued.length === 0 && window.length < params.genesis.validationRateLimitPerHour) {
    state.putRateWindow(sender, [...window, ctx.timeMs])
    await audit(state, ctx, r.id, 'approved')
    return { ...r, ...processed, status: 'approved', reason: null }
  }
  if (queued.length === 0) state.putDelayedSenders([...(await state.getDelayedSenders()), sender])
  state.putDelayed(sender, [...queued, r.id])
  await audit(state, ctx, r.id, 'delayed')
  return { ...r, ...processed, status: 'delayed', reason: 'rate_limited' }
}

function audit(state: AppState, ctx: BlockContext, id: string, status: 'approved' | 'rejected' | 'delayed' | 'expired'): Promise<unknown> {
  return state.appendAudit({ height: ctx.height, timeMs: ctx.timeMs, operation: 'validation', operationId: id, status })
}

/** Block start: expires pending validations, then approves delayed ones whose sender has room. */
export async function beginValidationBlock(state: AppState, params: ExecutionParams, ctx: BlockContext): Promise<void> {
  for (;;) {
    const entry = await state.peekValidationExpiry()
    if (entry === undefined) break
    if (entry !== null && entry.expiresAtMs > ctx.timeMs) break
    await state.popValidationExpiry()
    if (entry === null) continue
    const record = await state.getValidation(entry.id)
    // Decided validations leave their queue entry behind; it is dropped here.
    if (record === undefined || record.status !== 'pending' || record.expiresAtMs > ctx.timeMs) continue
    state.putValidation(record, { ...record, status: 'expired', processedAtMs: ctx.timeMs, processedHeight: ctx.height })
    await audit(state, ctx, record.id, 'expired')
  }

  const senders = await state.getDelayedSenders()
  if (senders.length === 0) return
  const remaining: Sender[] = []
  for (const sender of senders) {
    const queued = await state.getDelayed(sender)
    const window = inWindow(await state.getRateWindow(sender), ctx.timeMs, params.genesis.validationRateWindowMs)
    let approved = 0
    while (approved < queued.length && window.length < params.genesis.validationRateLimitPerHour) {
      const id = queued[approved]!
      approved++
      const record = await state.getValidation(id)
      if (record === undefined || record.status !== 'delayed') continue
      window.push(ctx.timeMs)
      state.putValidation(record, { ...record, status: 'approved', reason: null, processedAtMs: ctx.timeMs, processedHeight: ctx.height })
      await audit(state, ctx, id, 'approved')
    }
    if (approved === 0) {
      remaining.push(sender)
      continue
    }
    state.putRateWindow(sender, window)
    state.putDelayed(sender, queued.slice(approved))
    if (approved < queued.length) remaining.push(sender)
  }
  if (remaining.length !== senders.length) state.putDelayedSenders(remaining)
}
