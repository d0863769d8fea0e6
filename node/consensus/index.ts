export { ConsensusMetrics } from './metrics.js'
export { Mempool } from './mempool.js'
export { ConsensusPersistence, type SignedRecord } from './persistence.js'
export { ConsensusService, type CommitEvent, type CommitListener, type ConsensusServiceOptions, type ConsensusStatus, type SubmitResult } from './service.js'
