// Public surface of the guardian node's HTTP API.
export { createApiServer } from './server.js'
export { ApiError, type ApiErrorCode } from './errors.js'
export { blockView, certificateView } from './routes/blocks.js'
export { operationItem, parseOperationKey, type OperationItem } from './routes/operations.js'
export { validationItem, type ValidationItem } from './routes/validations.js'
export type {
  AdminSource,
  ApiServer,
  ApiServerOptions,
  BlockView,
  CertificateView,
  CommittedBlock,
  DkgStatusView,
  ErrorBody,
  NodeApiSource,
  NodeStatusSource,
  OperationsPage,
  OperationsQuery,
  OperationView,
  OperationViewStatus,
  OracleAnnouncementView,
  OracleAttestationView,
  OracleEventsPage,
  OracleEventView,
  PeerStatusView,
  PsbtView,
  Readiness,
  ReserveView,
  StatusView,
  SubmitTxResult,
  ValidationObservationView,
  ValidationsPage,
  ValidationsQuery,
  ValidationView,
  ValidationViewStatus,
} from './types.js'
