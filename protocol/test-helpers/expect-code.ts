import { expect } from 'vitest'
import { DkgBlame } from '../dkg.js'
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

/** Runs `fn`, expects the DkgBlame that names a faulty DKG participant, and returns it. */
export function blameOf(fn: () => unknown): DkgBlame {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(DkgBlame)
    return err as DkgBlame
  }
  throw new Error('expected a DkgBlame')
}
