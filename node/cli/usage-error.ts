import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CodedError } from '../../protocol/index.js'

/**
 * A command that could not do its job for a reason outside the program (unreachable node, HTTP
 * error, a block that does not verify).
 */
export class CommandError extends CodedError<'unreachable' | 'http_error' | 'not_verified'> {}

/** A wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

type Options = NonNullable<ParseArgsConfig['options']>

/** parseArgs in strict mode, with its errors turned into UsageErrors. */
export function parseFlags<O extends Options>(argv: readonly string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

export function positiveInteger(value: string | undefined, flag: string, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new UsageError(`--${flag} must be an integer 1-${max}, got "${value}"`)
  return Number(value)
}
