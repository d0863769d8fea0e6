export { ConsensusMetrics } from './metrics.js'
export { Mempool } from './mempool.js'
export { ConsensusPersistence, type SignedRecord } from './persistence.js'
export { ConsensusService, type ConsensusServiceOptions, type ConsensusStatus } from './service.js'
