export { StartupError, type StartupErrorCode } from './errors.js'
export { GuardianNode, type GuardianNodeDeps } from './guardian-node.js'
export { loadGenesis } from './load-genesis.js'
