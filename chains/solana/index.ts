export { SolanaAdapter, type SolanaAdapterOptions } from './solana-adapter.js'
