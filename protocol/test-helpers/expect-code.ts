import { expect } from 'vitest'
import { DkgBlame } from '../dkg.js'
import { ProtocolError, type CodedError, type ProtocolErrorCode } from '../errors.js'

/** A class of coded errors: ProtocolError, DlcError, DkgBlame… */
type CodedErrorClass<E extends CodedError<string>> = abstract new (...args: never[]) => E

/** Runs `fn`, expects it to throw a `type`, and returns the error for the test to assert its code and message. */
export function errorOf<E extends CodedError<string>>(fn: () => unknown, type: CodedErrorClass<E>): E {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(type)
    return err as E
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`)
}

/** Runs `fn`, expects a coded error of class `type` (default ProtocolError), and returns its code for the test to assert. */
export function codeOf(fn: () => unknown): ProtocolErrorCode
export function codeOf<Code extends string>(fn: () => unknown, type: CodedErrorClass<CodedError<Code>>): Code
export function codeOf(fn: () => unknown, type: CodedErrorClass<CodedError<string>> = ProtocolError): string {
  return errorOf(fn, type).code
}

/** Runs `fn`, expects the DkgBlame that names a faulty DKG participant, and returns it. */
export function blameOf(fn: () => unknown): DkgBlame {
  return errorOf(fn, DkgBlame)
}
