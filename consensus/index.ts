export * from './types.js'
export { ConsensusEngine, MAX_PROPOSALS_PER_ROUND, MAX_ROUNDS_AHEAD } from './engine.js'
export { proposerFor } from './proposer.js'
export { thresholds, type Thresholds } from './quorum.js'
export { DEFAULT_TIMEOUTS, timeoutFor } from './timeouts.js'
export { MAX_VALUES_PER_SIGNER, VoteKeeper, type AddVoteOutcome, type PrecommitQuorum } from './vote-keeper.js'
export {
  SIGN_STEP_PRECOMMIT,
  SIGN_STEP_PREVOTE,
  SIGN_STEP_PROPOSAL,
  SigningGuard,
  lastSignedOf,
  type LastSigned,
  type SignDecision,
  type SignStep,
} from './signing-guard.js'
