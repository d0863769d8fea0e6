import { CodedError } from '../../protocol/index.js'

/**
 * Why a keystore could not be read or written. Codes are stable: the CLI maps them to exit
 * messages. Messages name the file but never contain a passphrase or key material.
 */
export type KeystoreErrorCode =
  | 'not_found'
  | 'exists'
  | 'corrupt'
  | 'wrong_passphrase'
  | 'no_passphrase'
  | 'weak_passphrase'
  | 'io'

export class KeystoreError extends CodedError<KeystoreErrorCode> {
  readonly path?: string

  constructor(code: KeystoreErrorCode, message: string, opts: { path?: string; cause?: unknown } = {}) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause })
    if (opts.path !== undefined) this.path = opts.path
  }
}

/** The errno code of a node fs error, if any. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}

/** Wraps an unexpected fs failure; the errno text carries the path but no secrets. */
export function ioError(action: string, path: string, err: unknown): KeystoreError {
  const detail = err instanceof Error ? err.message : String(err)
  return new KeystoreError('io', `cannot ${action} ${path}: ${detail}`, { path, cause: err })
}
