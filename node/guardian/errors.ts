import { CodedError } from '../../protocol/index.js'

export type StartupErrorCode = 'invalid_genesis' | 'not_a_guardian' | 'key_mismatch'

/** A reason the node refuses to start, reported to the operator as-is. */
export class StartupError extends CodedError<StartupErrorCode> {}
