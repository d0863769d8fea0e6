export type StartupErrorCode = 'invalid_genesis' | 'not_a_guardian' | 'key_mismatch'

/** A reason the node refuses to start, reported to the operator as-is. */
export class StartupError extends Error {
  readonly code: StartupErrorCode

  constructor(code: StartupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StartupError'
    this.code = code
  }
}
