export { GuardianApplication, MAX_BLOCK_TX_BYTES, type BlockValidation, type GuardianApplicationOptions, type TxCheck } from './application.js'
export { AppError, type AppErrorCode } from './errors.js'
export { AUDIT_GENESIS_HASH, auditHash, OPERATION_STATUSES, type AuditEntry, type OperationRecord, type OperationStatus } from './records.js'
export { TrieDb, type AppDb } from './trie-db.js'
