import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { verifySchnorr } from 'tiny-secp256k1'
import { applyReserveSignatures, bip322TaprootSighash, encodeSimpleSignature, p2trAddress, p2trScript, parseReservePsbt, reserveInputSighashes, taprootOutputKey } from '../../chains/index.js'
import {
  guardianIdentifier,
  outputKeyXOnly,
  reserveKeyDigest,
  verifyDigest,
  type PsbtProposalTx,
  type ReserveKey,
  type ReserveKeyTx,
  type SigningJobRef,
  type ThresholdSignatureTx,
} from '../../protocol/index.js'
import type { BlockContext, ExecutionParams } from './execute.js'
import type { PsbtRecord, ReserveRecord } from './records.js'
import type { AppState } from './state.js'

/**
 * Execution of the custody transactions: the reserve key (DKG result), threshold signatures of
 * signing jobs, and PSBT proposals. Deterministic like the rest of the state machine.
 *
 * - ReserveKey: valid once, while the state has no reserve key. The key must be for this guardian
 *   set (one verifying share per guardian, threshold = genesis.reserveThreshold), carry every
 *   guardian's signature over reserveKeyDigest(network, key), and be internally consistent:
 *   valid points, x(groupKey) = BIP-341 output key of x(internalKey) with an empty script tree,
 *   and each verifying share = Σ commitments[j]·id^j (the VSS relation of the FROST DKG).
 * - ThresholdSignature: valid for a job the state says awaits a signature (an approved
 *   validation; an approved, unsigned PSBT); one BIP-340 signature by x(groupKey) per message of
 *   the job ({@link jobMessages}), at least `threshold` signers. The validation becomes signed
 *   with its BIP-322 proof; the PSBT gets its key-path signatures.
 * - PsbtProposal: valid once per PSBT id, with a reserve key; the PSBT must spend at least one
 *   reserve output by key path (chains/bitcoin parseReservePsbt). Guardians then vote on
 *   reserve_spend with that id; its approval queues the PSBT for signing.
 */

/** The messages a job signs, from the state alone; undefined when the job does not await a signature. */
export async function jobMessages(state: AppState, job: SigningJobRef): Promise<Uint8Array[] | undefined> {
  const reserve = await state.getReserve()
  if (reserve === undefined) return undefined
  if (job.kind === 'validation') {
    const record = await state.getValidation(job.id)
    if (record === undefined || record.status !== 'approved') return undefined
    return [bip322TaprootSighash(p2trScript(outputKeyXOnly(reserve.key)), hexToBytes(record.message))]
  }
  const psbt = await state.getPsbt(job.id)
  if (psbt === undefined || psbt.approvedAtMs === null || psbt.signedPsbt !== null) return undefined
  return reserveInputSighashes(parseReservePsbt(hexToBytes(psbt.psbt), outputKeyXOnly(reserve.key)))
}

/** When a job became signable: its approval, or the reserve key's commit if that came later. */
export function signableAt(reserve: ReserveRecord, approvedAtMs: number): number {
  return Math.max(reserve.committedAtMs, approvedAtMs)
}

export async function checkReserveKey(state: AppState, params: ExecutionParams, tx: ReserveKeyTx): Promise<string | null> {
  if ((await state.getReserve()) !== undefined) return 'the reserve key is already set'
  const { key } = tx
  const n = params.guardians.size
  if (key.verifyingShares.length !== n) return `reserve key: expected ${n} verifying shares, got ${key.verifyingShares.length}`
  if (key.threshold !== params.genesis.reserveThreshold) return `reserve key: threshold ${key.threshold} differs from genesis reserveThreshold ${params.genesis.reserveThreshold}`
  const digest = reserveKeyDigest(params.genesis.hash, key)
  for (const { guardian, signature } of tx.signatures) {
    const entry = await state.getGuardian(guardian)
    if (entry === undefined) return `reserve key: signer ${guardian} is not a guardian`
    if (!verifyDigest(digest, signature, entry.votePublicKey)) return `reserve key: bad signature of guardian ${guardian}`
  }
  return keyConsistency(key)
}

/** Why `key` is not a consistent FROST taproot key, or null. */
function keyConsistency(key: ReserveKey): string | null {
  let points
  try {
    points = { internal: secp256k1.Point.fromBytes(key.internalKey), commitments: key.commitments.map((c) => secp256k1.Point.fromBytes(c)), shares: key.verifyingShares.map((v) => secp256k1.Point.fromBytes(v)) }
  } catch (err) {
    return `reserve key: invalid point (${(err as Error).message})`
  }
  const tweaked = taprootOutputKey(key.internalKey.subarray(1))
  if (bytesToHex(tweaked.outputKey) !== bytesToHex(outputKeyXOnly(key))) return 'reserve key: groupKey is not the BIP-341 output key of internalKey'
  const order = secp256k1.Point.Fn
  for (let i = 0; i < points.shares.length; i++) {
    const id = BigInt('0x' + guardianIdentifier(i))
    let expected = points.commitments[0]!
    let power = 1n
    for (let j = 1; j < points.commitments.length; j++) {
      power = order.mul(power, id)
      expected = expected.add(points.commitments[j]!.multiply(power))
    }
    if (!expected.equals(points.shares[i]!)) return `reserve key: verifying share of guardian ${i} does not match the commitments`
  }
  return null
}

export async function applyReserveKey(state: AppState, params: ExecutionParams, ctx: BlockContext, tx: ReserveKeyTx): Promise<void> {
  state.putReserve({
    key: tx.key,
    signatures: tx.signatures,
    address: p2trAddress(outputKeyXOnly(tx.key), params.genesis.bitcoinNetwork),
    committedHeight: ctx.height,
    committedAtMs: ctx.timeMs,
  })
}

export async function checkThresholdSignature(state: AppState, params: ExecutionParams, tx: ThresholdSignatureTx): Promise<string | null> {
  const reserve = await state.getReserve()
  if (reserve === undefined) return 'no reserve key yet'
  const messages = await jobMessages(state, tx.job)
  if (messages === undefined) return `${tx.job.kind} ${tx.job.id} does not await a signature`
  if (tx.signers.length < reserve.key.threshold) return `${tx.signers.length} signers, the reserve needs ${reserve.key.threshold}`
  if (tx.signers.some((s) => s >= params.guardians.size)) return 'a signer is not a guardian'
  if (tx.signatures.length !== messages.length) return `${tx.job.kind} ${tx.job.id} signs ${messages.length} messages, got ${tx.signatures.length} signatures`
  const key = outputKeyXOnly(reserve.key)
  for (let i = 0; i < messages.length; i++) {
    if (!verifySchnorr(messages[i]!, key, tx.signatures[i]!)) return `signature ${i} is not a BIP-340 signature by the reserve key`
  }
  return null
}

export async function applyThresholdSignature(state: AppState, ctx: BlockContext, tx: ThresholdSignatureTx): Promise<void> {
  const reserve = (await state.getReserve())!
  if (tx.job.kind === 'validation') {
    const before = (await state.getValidation(tx.job.id))!
    state.putValidation(before, {
      ...before,
      status: 'signed',
      signature: { bitcoinSignature: encodeSimpleSignature([tx.signatures[0]!]), bitcoinAddress: reserve.address, signers: [...tx.signers], signedAtMs: ctx.timeMs, signedHeight: ctx.height },
    })
  } else {
    const before = (await state.getPsbt(tx.job.id))!
    const parsed = parseReservePsbt(hexToBytes(before.psbt), outputKeyXOnly(reserve.key))
    const signed = applyReserveSignatures(parsed, outputKeyXOnly(reserve.key), tx.signatures)
    state.putPsbt({ ...before, signedPsbt: bytesToHex(signed), signers: [...tx.signers], signedAtMs: ctx.timeMs, signedHeight: ctx.height })
    state.putPsbtsAwaiting((await state.getPsbtsAwaiting()).filter((id) => id !== tx.job.id))
  }
  await state.appendAudit({ height: ctx.height, timeMs: ctx.timeMs, operation: tx.job.kind === 'validation' ? 'validation' : 'reserve_spend', operationId: tx.job.id, status: 'signed' })
}

/** The PSBT record a proposal would create, or the reason it is invalid. */
export async function checkPsbtProposal(state: AppState, tx: PsbtProposalTx): Promise<{ id: string; inputs: number[] } | string> {
  const reserve = await state.getReserve()
  if (reserve === undefined) return 'no reserve key yet'
  let parsed
  try {
    parsed = parseReservePsbt(tx.psbt, outputKeyXOnly(reserve.key))
  } catch (err) {
    return `psbt: ${(err as Error).message}`
  }
  if ((await state.getPsbt(parsed.id)) !== undefined) return `psbt ${parsed.id} was already proposed`
  return { id: parsed.id, inputs: parsed.inputs }
}

export async function applyPsbtProposal(state: AppState, ctx: BlockContext, signer: number, tx: PsbtProposalTx, checked: { id: string; inputs: number[] }): Promise<void> {
  const record: PsbtRecord = {
    id: checked.id,
    psbt: bytesToHex(tx.psbt),
    inputs: checked.inputs,
    proposer: signer,
    createdHeight: ctx.height,
    createdAtMs: ctx.timeMs,
    approvedAtMs: null,
    signedPsbt: null,
    signers: [],
    signedAtMs: null,
    signedHeight: null,
  }
  state.putPsbt(record)
}

/** reserve_spend `id` reached its threshold: the PSBT awaits its signatures. */
export async function approvePsbt(state: AppState, ctx: BlockContext, id: string): Promise<void> {
  const record = (await state.getPsbt(id))!
  state.putPsbt({ ...record, approvedAtMs: ctx.timeMs })
  state.putPsbtsAwaiting([...(await state.getPsbtsAwaiting()), id])
}
