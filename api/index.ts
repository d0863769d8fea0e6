// Public surface of the guardian node's HTTP API.
export { createApiServer } from './server.js'
export { ApiError, type ApiErrorCode } from './errors.js'
export { blockView, certificateView } from './routes/blocks.js'
export { operationItem, parseOperationKey, type OperationItem } from './routes/operations.js'
export type {
  ApiServer,
  ApiServerOptions,
  BlockView,
  CertificateView,
  CommittedBlock,
  ErrorBody,
  NodeApiSource,
  NodeStatusSource,
  OperationsPage,
  OperationsQuery,
  OperationView,
  OperationViewStatus,
  PeerStatusView,
  Readiness,
  StatusView,
  SubmitTxResult,
} from './types.js'
