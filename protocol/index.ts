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
