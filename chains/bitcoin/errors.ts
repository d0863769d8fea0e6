import { CodedError } from '../../protocol/index.js'

export type BitcoinErrorCode = 'bad_address' | 'wrong_network' | 'bad_signature_encoding' | 'bad_psbt' | 'unsupported'

/**
 * A Bitcoin address, key, signature encoding or PSBT was refused. The message says why in words an
 * operator or API client can act on; `code` is what callers branch on.
 */
export class BitcoinError extends CodedError<BitcoinErrorCode> {}
