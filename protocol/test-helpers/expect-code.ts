import { expect } from 'vitest'
import { ProtocolError, type ProtocolErrorCode } from '../errors.js'

/** Runs `fn`, expects a ProtocolError, and returns its code for the test to assert. */
export function codeOf(fn: () => unknown): ProtocolErrorCode {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError)
    return (err as ProtocolError).code
  }
  throw new Error('expected a ProtocolError, nothing was thrown')
}
