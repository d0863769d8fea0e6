import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { decodeCanonical, encodeCanonical, readBytes, readString, readUint, readUint64, uint64 } from './codec.js'
import { MAX_PAYLOAD_BYTES, MessageKind } from './envelope.js'
import { ProtocolError } from './errors.js'
import { CHAIN_NAMES, OPERATIONS, type ChainName, type Operation } from './genesis.js'
import { keccak256 } from './hash.js'

/** Transactions of the consensus log. Each travels as the payload of a signed envelope of kind Tx. */
export enum TxType {
  GuardianVote = 1,
  /** A guardian's observation of a payment on a source chain (the envelope signer observed it). */
  Observation = 2,
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

/**
 * A payment seen on a source chain. Strings are chain-native text (hex with 0x, base58…):
 * 1..128 ASCII letters and digits. On EVM chains txHash must be the canonical lower-case
 * 0x-prefixed 32-byte hex, so that every guardian computes the same {@link validationId}.
 * `amount` is in the chain's base unit (wei, lamports), at most 2^64 − 1 (encoded as a CBOR
 * unsigned integer, a bignum never needed); `message` is the raw memo/calldata bytes (≤ 1024).
 */
export interface ObservationTx {
  readonly type: TxType.Observation
  readonly chain: ChainName
  readonly txHash: string
  readonly from: string
  readonly to: string
  readonly amount: bigint
  readonly message: Uint8Array
  readonly blockHeight: number
  readonly blockHash: string
}

export type Transaction = GuardianVoteTx | ObservationTx

export const MAX_OPERATION_ID_BYTES = 128
/** Longest chain-native string (tx hash, address, block hash) of an observation. */
export const MAX_CHAIN_STRING_BYTES = 128
/** Longest raw message of an observation. */
export const MAX_OBSERVATION_MESSAGE_BYTES = 1024
export const MAX_AMOUNT = (1n << 64n) - 1n
const OPERATION_ID = /^[A-Za-z0-9:._-]+$/
const CHAIN_STRING = /^[A-Za-z0-9]+$/
const EVM_TX_HASH = /^0x[0-9a-f]{64}$/
const TX_VERSION = 1
const DECISIONS: readonly Decision[] = ['approve', 'reject']

export function encodeTx(tx: Transaction): Uint8Array {
  if (tx.type === TxType.Observation) {
    if (tx.amount < 0n || tx.amount > MAX_AMOUNT) throw new ProtocolError('malformed', 'tx.amount: expected an unsigned 64-bit integer')
    return encodeCanonical([
      TX_VERSION,
      tx.type,
      CHAIN_NAMES.indexOf(tx.chain),
      tx.txHash,
      tx.from,
      tx.to,
      uint64(tx.amount),
      tx.message,
      tx.blockHeight,
      tx.blockHash,
    ])
  }
  return encodeCanonical([TX_VERSION, tx.type, OPERATIONS.indexOf(tx.operation), tx.operationId, DECISIONS.indexOf(tx.decision)])
}

export function decodeTx(bytes: Uint8Array): Transaction {
  const value = decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.Tx], 'tx')
  if (!Array.isArray(value)) throw new ProtocolError('malformed', 'tx: expected an array')
  if (value[0] !== TX_VERSION) throw new ProtocolError('unsupported_version', `tx: unsupported version ${String(value[0])}`)
  const type = value[1]
  if (type === TxType.GuardianVote) return decodeVote(value)
  if (type === TxType.Observation) return decodeObservation(value)
  throw new ProtocolError('malformed', `tx.type: unknown ${String(type)}`)
}

function arity(value: unknown[], fields: number): unknown[] {
  // fields after [version, type]
  if (value.length !== fields + 2) throw new ProtocolError('malformed', `tx: expected ${fields + 1} fields, got ${value.length - 1}`)
  return value.slice(2)
}

function decodeVote(value: unknown[]): GuardianVoteTx {
  const [operation, operationId, decision] = arity(value, 3)
  const id = readString(operationId, 'tx.operationId', MAX_OPERATION_ID_BYTES)
  if (!OPERATION_ID.test(id)) throw new ProtocolError('malformed', 'tx.operationId: expected characters A-Z a-z 0-9 : . _ -')
  return {
    type: TxType.GuardianVote,
    operation: OPERATIONS[readUint(operation, OPERATIONS.length - 1, 'tx.operation')]!,
    operationId: id,
    decision: DECISIONS[readUint(decision, DECISIONS.length - 1, 'tx.decision')]!,
  }
}

function chainString(value: unknown, field: string): string {
  const s = readString(value, field, MAX_CHAIN_STRING_BYTES)
  if (!CHAIN_STRING.test(s)) throw new ProtocolError('malformed', `${field}: expected 1-${MAX_CHAIN_STRING_BYTES} characters A-Z a-z 0-9`)
  return s
}

function decodeObservation(value: unknown[]): ObservationTx {
  const [chain, txHash, from, to, amount, message, blockHeight, blockHash] = arity(value, 8)
  const chainName = CHAIN_NAMES[readUint(chain, CHAIN_NAMES.length - 1, 'tx.chain')]!
  const hash = chainString(txHash, 'tx.txHash')
  if (chainName !== 'solana' && !EVM_TX_HASH.test(hash)) throw new ProtocolError('malformed', 'tx.txHash: expected lower-case 0x-prefixed 32-byte hex on an EVM chain')
  return {
    type: TxType.Observation,
    chain: chainName,
    txHash: hash,
    from: chainString(from, 'tx.from'),
    to: chainString(to, 'tx.to'),
    amount: readUint64(amount, 'tx.amount'),
    message: readBytes(message, 'tx.message', { max: MAX_OBSERVATION_MESSAGE_BYTES }),
    blockHeight: readUint(blockHeight, Number.MAX_SAFE_INTEGER, 'tx.blockHeight'),
    blockHash: chainString(blockHash, 'tx.blockHash'),
  }
}

/** The id of the validation of a source-chain transaction: hex keccak256(utf8(`${chain}:${txHash}`)). */
export function validationId(chain: ChainName, txHash: string): string {
  return bytesToHex(keccak256(utf8ToBytes(`${chain}:${txHash}`)))
}

/** Hex keccak256 of the canonical encoding of an observation: its content, without the signer. */
export function observationHash(tx: ObservationTx): string {
  return bytesToHex(keccak256(encodeTx(tx)))
}
