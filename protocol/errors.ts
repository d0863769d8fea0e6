/** Why a message, envelope or genesis was refused. Codes are stable: metrics and logs use them. */
export type ProtocolErrorCode =
  | 'malformed'
  | 'oversize'
  | 'non_canonical'
  | 'unsupported_version'
  | 'wrong_kind'
  | 'unknown_signer'
  | 'bad_signature'
  | 'invalid_genesis'

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode

  constructor(code: ProtocolErrorCode, message: string) {
    super(message)
    this.name = 'ProtocolError'
    this.code = code
  }
}
