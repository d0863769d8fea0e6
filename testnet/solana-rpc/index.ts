export { SolanaDevChain, startSolanaDevRpc, type SolanaDevRpc, type SolanaDevRpcOptions } from './dev-rpc.js'
