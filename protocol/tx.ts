import { decodeCanonical, encodeCanonical, readString, readTuple, readUint } from './codec.js'
import { MAX_PAYLOAD_BYTES, MessageKind } from './envelope.js'
import { ProtocolError } from './errors.js'
import { OPERATIONS, type Operation } from './genesis.js'

/** Transactions of the consensus log. Each travels as the payload of a signed envelope of kind Tx. */
export enum TxType {
  GuardianVote = 1,
}

export type Decision = 'approve' | 'reject'

/** A guardian's vote on an operation that needs guardian approval. */
export interface GuardianVoteTx {
  readonly type: TxType.GuardianVote
  readonly operation: Operation
  /** Caller-chosen id of the operation, unique within its operation type. */
  readonly operationId: string
  readonly decision: Decision
}

export type Transaction = GuardianVoteTx

export const MAX_OPERATION_ID_BYTES = 128
const OPERATION_ID = /^[A-Za-z0-9:._-]+$/
const TX_VERSION = 1
const DECISIONS: readonly Decision[] = ['approve', 'reject']

export function encodeTx(tx: Transaction): Uint8Array {
  return encodeCanonical([TX_VERSION, tx.type, OPERATIONS.indexOf(tx.operation), tx.operationId, DECISIONS.indexOf(tx.decision)])
}

export function decodeTx(bytes: Uint8Array): Transaction {
  const [type, operation, operationId, decision] = readTuple(decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.Tx], 'tx'), TX_VERSION, 4, 'tx')
  if (type !== TxType.GuardianVote) throw new ProtocolError('malformed', `tx.type: unknown ${String(type)}`)
  const id = readString(operationId, 'tx.operationId', MAX_OPERATION_ID_BYTES)
  if (!OPERATION_ID.test(id)) throw new ProtocolError('malformed', 'tx.operationId: expected characters A-Z a-z 0-9 : . _ -')
  return {
    type: TxType.GuardianVote,
    operation: OPERATIONS[readUint(operation, OPERATIONS.length - 1, 'tx.operation')]!,
    operationId: id,
    decision: DECISIONS[readUint(decision, DECISIONS.length - 1, 'tx.decision')]!,
  }
}
