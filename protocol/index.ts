export { CodedError, ProtocolError, type ProtocolErrorCode } from './errors.js'
export { decodeCanonical, encodeCanonical, type CborValue } from './codec.js'
export { keccak256, taggedKeccak256 } from './hash.js'
export { commitQuorum, honestWitness, maxFaulty } from './quorum.js'
export {
  generateVotePrivateKey,
  isVotePrivateKey,
  isVotePublicKey,
  signDigest,
  verifyDigest,
  voteAddress,
  votePublicKey,
  VOTE_PUBLIC_KEY_BYTES,
  VOTE_SIGNATURE_BYTES,
} from './vote-key.js'
export {
  BITCOIN_NETWORKS,
  CHAIN_NAMES,
  DEFAULT_OPERATION_TTL_MS,
  GuardianSet,
  MAX_GUARDIANS,
  OPERATIONS,
  genesisToJson,
  parseGenesis,
  type BitcoinNetwork,
  type ChainConfig,
  type ChainName,
  type EvmChainConfig,
  type Genesis,
  type GuardianInfo,
  type Operation,
  type OracleInfo,
  type SolanaChainConfig,
} from './genesis.js'
export {
  MAX_ENVELOPE_BYTES,
  MAX_PAYLOAD_BYTES,
  MessageKind,
  decodeEnvelope,
  encodeEnvelope,
  envelopeDigest,
  signEnvelope,
  verifyEnvelope,
  type SignedEnvelope,
} from './envelope.js'
export { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from './heartbeat.js'
export {
  HASH_BYTES,
  MAX_BLOCK_TXS,
  MAX_HEIGHT,
  MAX_ROUND,
  MAX_TX_BYTES,
  VoteType,
  ZERO_HASH,
  blockHash,
  certificateHash,
  decodeBlock,
  decodeCertificate,
  decodeProposal,
  decodeVote,
  encodeBlock,
  encodeCertificate,
  encodeHeader,
  encodeProposal,
  encodeVote,
  hashHex,
  txHash,
  txRoot,
  type Block,
  type BlockHeader,
  type Certificate,
  type CommitSignature,
  type Proposal,
  type Vote,
} from './consensus-messages.js'
export { medianTime, precommitDigest, verifyCertificate, verifyCommittedBlock } from './certificate.js'
export { MAX_OPERATION_ID_BYTES, TxType, decodeTx, encodeTx, type Decision, type GuardianVoteTx, type Transaction } from './tx.js'
export { MAX_REBROADCAST_ENVELOPES, decodeRebroadcast, encodeRebroadcast, type Rebroadcast } from './rebroadcast.js'
export {
  MAX_SYNC_BLOCKS,
  MAX_SYNC_RESPONSE_BYTES,
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncRequest,
  encodeSyncResponse,
  type SyncRequest,
  type SyncResponse,
  type SyncedBlock,
} from './sync.js'
