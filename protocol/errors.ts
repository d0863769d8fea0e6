/**
 * Base of every typed error in the project: a stable machine-readable `code` (metrics, logs
 * and callers branch on it) and an operator-facing message.
 */
export class CodedError<Code extends string> extends Error {
  readonly code: Code

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** Why a message, envelope or genesis was refused. */
export type ProtocolErrorCode =
  | 'malformed'
  | 'oversize'
  | 'non_canonical'
  | 'unsupported_version'
  | 'wrong_kind'
  | 'unknown_signer'
  | 'bad_signature'
  | 'invalid_genesis'
  | 'bad_certificate'

export class ProtocolError extends CodedError<ProtocolErrorCode> {}
