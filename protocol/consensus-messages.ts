import { bytesToHex } from '@noble/hashes/utils.js'
import { decodeCanonical, encodeCanonical, readBytes, readTuple, readUint, type CborValue } from './codec.js'
import { MAX_PAYLOAD_BYTES, MessageKind } from './envelope.js'
import { ProtocolError } from './errors.js'
import { keccak256, taggedKeccak256 } from './hash.js'
import { VOTE_SIGNATURE_BYTES } from './vote-key.js'

/**
 * The consensus log's messages: block headers, blocks, proposals, votes and commit
 * certificates. A block header carries the application state root *after* its own
 * transactions (validators execute a proposal before prevoting for it), so the certificate of
 * height h — 2f+1 precommits over the header hash — proves the state at h by itself.
 */

export const HASH_BYTES = 32
export const ZERO_HASH: Uint8Array = new Uint8Array(HASH_BYTES)
export const MAX_HEIGHT = Number.MAX_SAFE_INTEGER
export const MAX_ROUND = 1_000_000
export const MAX_BLOCK_TXS = 2_000
export const MAX_TX_BYTES = MAX_PAYLOAD_BYTES[MessageKind.Tx] + 256
const MAX_TIME_MS = Number.MAX_SAFE_INTEGER

export interface BlockHeader {
  readonly height: number
  /** BFT time: the median of the previous block's precommit timestamps (genesis time at height 1). */
  readonly timeMs: number
  /** Guardian index of the proposer. */
  readonly proposer: number
  readonly guardianSetIndex: number
  /** Hash of the header at height − 1 (zero at height 1). */
  readonly parentHash: Uint8Array
  /** Hash of the certificate that committed height − 1 (zero at height 1). */
  readonly lastCommitHash: Uint8Array
  readonly txRoot: Uint8Array
  /** Application state root after this block's transactions. */
  readonly stateRoot: Uint8Array
}

export interface Block {
  readonly header: BlockHeader
  /** Each transaction is an encoded signed envelope of kind Tx. */
  readonly txs: readonly Uint8Array[]
  /** The certificate of height − 1, which fixes this header's time (null at height 1). */
  readonly lastCommit: Certificate | null
}

export enum VoteType {
  Prevote = 1,
  Precommit = 2,
}

/** A vote as signed (the signer is the envelope's). `blockHash` null is a vote for nil. */
export interface Vote {
  readonly type: VoteType
  readonly height: number
  readonly round: number
  readonly blockHash: Uint8Array | null
  /** Signer's clock, for BFT time; precommits only (0 in prevotes). */
  readonly timestampMs: number
}

export interface Proposal {
  readonly height: number
  readonly round: number
  /** Round in which 2f+1 prevoted this block before (proof-of-lock round), or −1. */
  readonly polRound: number
  readonly block: Block
}

export interface CommitSignature {
  readonly signer: number
  readonly timestampMs: number
  readonly signature: Uint8Array
}

/** 2f+1 precommits for one block: what makes a block final. */
export interface Certificate {
  readonly height: number
  readonly round: number
  readonly blockHash: Uint8Array
  /** Sorted by signer index, one per signer. */
  readonly signatures: readonly CommitSignature[]
}

const HEADER_VERSION = 1
const BLOCK_VERSION = 1
const VOTE_VERSION = 1
const PROPOSAL_VERSION = 1
const CERT_VERSION = 1

function headerTuple(h: BlockHeader): CborValue {
  return [HEADER_VERSION, h.height, h.timeMs, h.proposer, h.guardianSetIndex, h.parentHash, h.lastCommitHash, h.txRoot, h.stateRoot]
}

function readHeader(value: unknown): BlockHeader {
  const [height, timeMs, proposer, setIndex, parentHash, lastCommitHash, txRoot, stateRoot] = readTuple(value, HEADER_VERSION, 8, 'header')
  return {
    height: readUint(height, MAX_HEIGHT, 'header.height'),
    timeMs: readUint(timeMs, MAX_TIME_MS, 'header.timeMs'),
    proposer: readUint(proposer, 255, 'header.proposer'),
    guardianSetIndex: readUint(setIndex, 2 ** 32 - 1, 'header.guardianSetIndex'),
    parentHash: readBytes(parentHash, 'header.parentHash', { exact: HASH_BYTES }),
    lastCommitHash: readBytes(lastCommitHash, 'header.lastCommitHash', { exact: HASH_BYTES }),
    txRoot: readBytes(txRoot, 'header.txRoot', { exact: HASH_BYTES }),
    stateRoot: readBytes(stateRoot, 'header.stateRoot', { exact: HASH_BYTES }),
  }
}

export function encodeHeader(header: BlockHeader): Uint8Array {
  return encodeCanonical(headerTuple(header))
}

/** The block id every vote and certificate refers to. */
export function blockHash(header: BlockHeader): Uint8Array {
  return taggedKeccak256('UBTC/header/v1', encodeHeader(header))
}

export function txHash(tx: Uint8Array): Uint8Array {
  return keccak256(tx)
}

/** Commits to the ordered transaction list (a hash over the transaction hashes). */
export function txRoot(txs: readonly Uint8Array[]): Uint8Array {
  return taggedKeccak256('UBTC/txs/v1', ...txs.map(txHash))
}

function certTuple(c: Certificate): CborValue {
  return [CERT_VERSION, c.height, c.round, c.blockHash, c.signatures.map((s) => [s.signer, s.timestampMs, s.signature])]
}

function readCertificate(value: unknown, what = 'certificate'): Certificate {
  const [height, round, hash, sigs] = readTuple(value, CERT_VERSION, 4, what)
  if (!Array.isArray(sigs) || sigs.length === 0 || sigs.length > 256) throw new ProtocolError('malformed', `${what}.signatures: expected 1-256 entries`)
  return {
    height: readUint(height, MAX_HEIGHT, `${what}.height`),
    round: readUint(round, MAX_ROUND, `${what}.round`),
    blockHash: readBytes(hash, `${what}.blockHash`, { exact: HASH_BYTES }),
    signatures: sigs.map((entry: unknown, i) => {
      if (!Array.isArray(entry) || entry.length !== 3) throw new ProtocolError('malformed', `${what}.signatures[${i}]: expected [signer, timestampMs, signature]`)
      return {
        signer: readUint(entry[0], 255, `${what}.signatures[${i}].signer`),
        timestampMs: readUint(entry[1], MAX_TIME_MS, `${what}.signatures[${i}].timestampMs`),
        signature: readBytes(entry[2], `${what}.signatures[${i}].signature`, { exact: VOTE_SIGNATURE_BYTES }),
      }
    }),
  }
}

export function encodeCertificate(cert: Certificate): Uint8Array {
  return encodeCanonical(certTuple(cert))
}

export function decodeCertificate(bytes: Uint8Array): Certificate {
  return readCertificate(decodeCanonical(bytes, 64 * 1024, 'certificate'))
}

export function certificateHash(cert: Certificate): Uint8Array {
  return taggedKeccak256('UBTC/certificate/v1', encodeCertificate(cert))
}

function blockTuple(b: Block): CborValue {
  return [BLOCK_VERSION, headerTuple(b.header), [...b.txs], b.lastCommit === null ? null : certTuple(b.lastCommit)]
}

function readBlock(value: unknown): Block {
  const [header, txs, lastCommit] = readTuple(value, BLOCK_VERSION, 3, 'block')
  if (!Array.isArray(txs) || txs.length > MAX_BLOCK_TXS) throw new ProtocolError('malformed', `block.txs: expected at most ${MAX_BLOCK_TXS} transactions`)
  return {
    header: readHeader(header),
    txs: txs.map((tx: unknown, i) => readBytes(tx, `block.txs[${i}]`, { max: MAX_TX_BYTES })),
    lastCommit: lastCommit === null ? null : readCertificate(lastCommit, 'block.lastCommit'),
  }
}

export function encodeBlock(block: Block): Uint8Array {
  return encodeCanonical(blockTuple(block))
}

export function decodeBlock(bytes: Uint8Array): Block {
  return readBlock(decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.Proposal], 'block'))
}

export function encodeVote(vote: Vote): Uint8Array {
  return encodeCanonical([VOTE_VERSION, vote.type, vote.height, vote.round, vote.blockHash, vote.timestampMs])
}

export function decodeVote(bytes: Uint8Array): Vote {
  const [type, height, round, hash, timestampMs] = readTuple(decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.Vote], 'vote'), VOTE_VERSION, 5, 'vote')
  if (type !== VoteType.Prevote && type !== VoteType.Precommit) throw new ProtocolError('malformed', `vote.type: unknown ${String(type)}`)
  return {
    type,
    height: readUint(height, MAX_HEIGHT, 'vote.height'),
    round: readUint(round, MAX_ROUND, 'vote.round'),
    blockHash: hash === null ? null : readBytes(hash, 'vote.blockHash', { exact: HASH_BYTES }),
    timestampMs: readUint(timestampMs, MAX_TIME_MS, 'vote.timestampMs'),
  }
}

export function encodeProposal(p: Proposal): Uint8Array {
  return encodeCanonical([PROPOSAL_VERSION, p.height, p.round, p.polRound, blockTuple(p.block)])
}

export function decodeProposal(bytes: Uint8Array): Proposal {
  const [height, round, polRound, block] = readTuple(decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.Proposal], 'proposal'), PROPOSAL_VERSION, 4, 'proposal')
  const r = readUint(round, MAX_ROUND, 'proposal.round')
  if (polRound !== -1 && (typeof polRound !== 'number' || !Number.isSafeInteger(polRound) || polRound < 0 || polRound >= r)) {
    throw new ProtocolError('malformed', 'proposal.polRound: expected -1 or a round below the proposal round')
  }
  const decoded = { height: readUint(height, MAX_HEIGHT, 'proposal.height'), round: r, polRound, block: readBlock(block) }
  if (decoded.block.header.height !== decoded.height) throw new ProtocolError('malformed', 'proposal: block height differs from proposal height')
  return decoded
}

export function hashHex(hash: Uint8Array | null): string {
  return hash === null ? 'nil' : bytesToHex(hash)
}
