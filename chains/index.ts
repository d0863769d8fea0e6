export { ChainError, type ChainErrorCode } from './errors.js'
export type { ChainAdapter, ChainCursor, ChainHealth, ConfirmedPayment, PollResult } from './types.js'
export { EvmAdapter, REORG_WINDOW, type EvmAdapterOptions } from './evm/evm-adapter.js'
export { SolanaAdapter, type SolanaAdapterOptions } from './solana/index.js'
