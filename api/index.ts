// Public surface of the guardian node's HTTP API.
export { createApiServer } from './server.js'
export { ApiError, type ApiErrorCode } from './errors.js'
export type {
  ApiServer,
  ApiServerOptions,
  ErrorBody,
  NodeStatusSource,
  PeerStatusView,
  Readiness,
  StatusView,
} from './types.js'
