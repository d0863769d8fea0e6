export { StoreError, type StoreErrorCode } from './errors.js'
export { LevelNodeStore } from './level-store.js'
export type { ChainCursorRecord, HeartbeatRecord, NodeStore, PeerRecord } from './types.js'
