export {
  OraclePublishError,
  parseGuardianPeers,
  publishOracleMessage,
  type GuardianPeer,
  type OraclePublishErrorCode,
  type PublishOracleMessageOptions,
  type PublishOracleMessageResult,
} from './publisher.js'
