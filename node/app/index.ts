export { GuardianApplication, MAX_BLOCK_TX_BYTES, type BlockValidation, type GuardianApplicationOptions, type TxCheck } from './application.js'
export { AppError, type AppErrorCode } from './errors.js'
export {
  AUDIT_GENESIS_HASH,
  auditHash,
  OPERATION_STATUSES,
  VALIDATION_REASONS,
  VALIDATION_STATUSES,
  type AuditEntry,
  type AuditStatus,
  type OperationRecord,
  type OperationStatus,
  type PsbtRecord,
  type ReserveRecord,
  type ReserveSignature,
  type ValidationObservation,
  type ValidationReason,
  type ValidationRecord,
  type ValidationStatus,
} from './records.js'
export { TrieDb, type AppDb } from './trie-db.js'
