export { ChainError, type ChainErrorCode } from './errors.js'
export type { ChainAdapter, ChainCursor, ChainHealth, ConfirmedPayment, PollResult } from './types.js'
