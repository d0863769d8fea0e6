import { expect } from 'vitest'
import { DlcError, type DlcErrorCode } from '../../errors.js'

/** Runs `fn`, expects a DlcError, and returns it for the test to assert its code and message. */
export function dlcErrorOf(fn: () => unknown): DlcError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(DlcError)
    return err as DlcError
  }
  throw new Error('expected a DlcError, nothing was thrown')
}

/** The code of the DlcError `fn` throws. */
export function dlcCodeOf(fn: () => unknown): DlcErrorCode {
  return dlcErrorOf(fn).code
}
