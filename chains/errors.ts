import { CodedError } from '../protocol/index.js'

export type ChainErrorCode = 'rpc_unavailable' | 'rpc_bad_response' | 'misconfigured'

/** A chain RPC failed or answered nonsense; the watcher retries with backoff, other chains go on. */
export class ChainError extends CodedError<ChainErrorCode> {}
