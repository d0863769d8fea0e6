import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { decodeCanonical, encodeCanonical, readBytes, readString, readUint, readUint64, uint64 } from './codec.js'
import { MAX_PAYLOAD_BYTES, MessageKind } from './envelope.js'
import { ProtocolError } from './errors.js'
import {
  JOB_ID,
  readReserveKey,
  reserveKeyValue,
  SCHNORR_SIGNATURE_BYTES,
  SIGNING_JOB_KINDS,
  type DkgSignature,
  type ReserveKey,
  type SigningJobRef,
} from './custody.js'
import { CHAIN_NAMES, MAX_GUARDIANS, OPERATIONS, type ChainName, type Operation } from './genesis.js'
import { keccak256 } from './hash.js'
import { VOTE_SIGNATURE_BYTES } from './vote-key.js'

/** Transactions of the consensus log. Each travels as the payload of a signed envelope of kind Tx. */
export enum TxType {
  GuardianVote = 1,
  /** A guardian's observation of a payment on a source chain (the envelope signer observed it). */
  Observation = 2,
  /** The result of a DKG, vouched for by every participant: the reserve key. */
  ReserveKey = 3,
  /** The BIP-340 signatures a FROST signing session produced for a signing job. */
  ThresholdSignature = 4,
  /** A PSBT spending reserve outputs, proposed for guardian approval (operation reserve_spend). */
  PsbtProposal = 5,
  /** An oracle's signed dlcspecs announcement or attestation, relayed into the log by a guardian. */
  OracleMessage = 6,
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

/**
 * The reserve key of the network, with the signature of every guardian over
 * reserveKeyDigest(genesis hash, key). Valid once: the first one committed is the key.
 */
export interface ReserveKeyTx {
  readonly type: TxType.ReserveKey
  readonly key: ReserveKey
  /** One per guardian, in guardian-index order. */
  readonly signatures: readonly DkgSignature[]
}

/**
 * The signatures of a signing job, one per message the committed state says the job signs
 * (a validation: one BIP-322 sighash; a PSBT: one per reserve input, in input order).
 */
export interface ThresholdSignatureTx {
  readonly type: TxType.ThresholdSignature
  readonly job: SigningJobRef
  /** BIP-340 signatures (64 bytes) by the reserve output key. */
  readonly signatures: readonly Uint8Array[]
  /** Guardian indexes whose shares make the signatures (ascending). */
  readonly signers: readonly number[]
}

/** A PSBT (BIP-174 bytes) that spends reserve outputs; its id is hex sha256 of its unsigned transaction. */
export interface PsbtProposalTx {
  readonly type: TxType.PsbtProposal
  readonly psbt: Uint8Array
}

/**
 * An oracle's message as it arrived on the oracle topic: the dlcspecs wire bytes of an
 * oracle_announcement or oracle_attestation, signed by the oracle itself (BIP-340). The guardian
 * signing the envelope only relays it; the state machine checks the oracle's signature.
 */
export interface OracleMessageTx {
  readonly type: TxType.OracleMessage
  readonly message: Uint8Array
}

export type Transaction = GuardianVoteTx | ObservationTx | ReserveKeyTx | ThresholdSignatureTx | PsbtProposalTx | OracleMessageTx

export const MAX_OPERATION_ID_BYTES = 128
/** Longest chain-native string (tx hash, address, block hash) of an observation. */
export const MAX_CHAIN_STRING_BYTES = 128
/** Longest raw message of an observation. */
export const MAX_OBSERVATION_MESSAGE_BYTES = 1024
export const MAX_AMOUNT = (1n << 64n) - 1n
/** Most messages one signing job signs (inputs of a PSBT). */
export const MAX_JOB_SIGNATURES = 64
export const MAX_PSBT_BYTES = 12 * 1024
/** Longest oracle message: an enum announcement with many outcomes stays well below. */
export const MAX_ORACLE_MESSAGE_BYTES = 8 * 1024
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
  if (tx.type === TxType.ReserveKey) {
    return encodeCanonical([TX_VERSION, tx.type, reserveKeyValue(tx.key), tx.signatures.map((s) => [s.guardian, s.signature])])
  }
  if (tx.type === TxType.ThresholdSignature) {
    return encodeCanonical([TX_VERSION, tx.type, SIGNING_JOB_KINDS.indexOf(tx.job.kind), tx.job.id, [...tx.signatures], [...tx.signers]])
  }
  if (tx.type === TxType.PsbtProposal) return encodeCanonical([TX_VERSION, tx.type, tx.psbt])
  if (tx.type === TxType.OracleMessage) return encodeCanonical([TX_VERSION, tx.type, tx.message])
  return encodeCanonical([TX_VERSION, tx.type, OPERATIONS.indexOf(tx.operation), tx.operationId, DECISIONS.indexOf(tx.decision)])
}

export function decodeTx(bytes: Uint8Array): Transaction {
  const value = decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.Tx], 'tx')
  if (!Array.isArray(value)) throw new ProtocolError('malformed', 'tx: expected an array')
  if (value[0] !== TX_VERSION) throw new ProtocolError('unsupported_version', `tx: unsupported version ${String(value[0])}`)
  const type = value[1]
  if (type === TxType.GuardianVote) return decodeVote(value)
  if (type === TxType.Observation) return decodeObservation(value)
  if (type === TxType.ReserveKey) return decodeReserveKey(value)
  if (type === TxType.ThresholdSignature) return decodeThresholdSignature(value)
  if (type === TxType.PsbtProposal) {
    const [psbt] = arity(value, 1)
    return { type: TxType.PsbtProposal, psbt: readBytes(psbt, 'tx.psbt', { max: MAX_PSBT_BYTES }) }
  }
  if (type === TxType.OracleMessage) {
    const [message] = arity(value, 1)
    const bytes = readBytes(message, 'tx.message', { max: MAX_ORACLE_MESSAGE_BYTES })
    if (bytes.length === 0) throw new ProtocolError('malformed', 'tx.message: expected an oracle message')
    return { type: TxType.OracleMessage, message: bytes }
  }
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

function decodeReserveKey(value: unknown[]): ReserveKeyTx {
  const [key, signatures] = arity(value, 2)
  const reserveKey = readReserveKey(key, 'tx.key')
  if (!Array.isArray(signatures) || signatures.length !== reserveKey.verifyingShares.length) {
    throw new ProtocolError('malformed', `tx.signatures: expected one signature per guardian (${reserveKey.verifyingShares.length})`)
  }
  return {
    type: TxType.ReserveKey,
    key: reserveKey,
    signatures: signatures.map((entry, i) => {
      if (!Array.isArray(entry) || entry.length !== 2) throw new ProtocolError('malformed', `tx.signatures[${i}]: expected [guardian, signature]`)
      const guardian = readUint(entry[0], MAX_GUARDIANS - 1, `tx.signatures[${i}].guardian`)
      if (guardian !== i) throw new ProtocolError('malformed', `tx.signatures[${i}]: expected guardian ${i} (guardian-index order)`)
      return { guardian, signature: readBytes(entry[1], `tx.signatures[${i}].signature`, { exact: VOTE_SIGNATURE_BYTES }) }
    }),
  }
}

function decodeThresholdSignature(value: unknown[]): ThresholdSignatureTx {
  const [kind, id, signatures, signers] = arity(value, 4)
  const jobId = readString(id, 'tx.job.id', 64)
  if (!JOB_ID.test(jobId)) throw new ProtocolError('malformed', 'tx.job.id: expected 64 lower-case hex characters')
  if (!Array.isArray(signatures) || signatures.length < 1 || signatures.length > MAX_JOB_SIGNATURES) {
    throw new ProtocolError('malformed', `tx.signatures: expected 1..${MAX_JOB_SIGNATURES} signatures`)
  }
  if (!Array.isArray(signers) || signers.length < 1 || signers.length > MAX_GUARDIANS) throw new ProtocolError('malformed', `tx.signers: expected 1..${MAX_GUARDIANS} guardians`)
  const indexes = signers.map((s, i) => readUint(s, MAX_GUARDIANS - 1, `tx.signers[${i}]`))
  if (indexes.some((s, i) => i > 0 && s <= indexes[i - 1]!)) throw new ProtocolError('malformed', 'tx.signers: expected ascending distinct guardian indexes')
  return {
    type: TxType.ThresholdSignature,
    job: { kind: SIGNING_JOB_KINDS[readUint(kind, SIGNING_JOB_KINDS.length - 1, 'tx.job.kind')]!, id: jobId },
    signatures: signatures.map((s, i) => readBytes(s, `tx.signatures[${i}]`, { exact: SCHNORR_SIGNATURE_BYTES })),
    signers: indexes,
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
