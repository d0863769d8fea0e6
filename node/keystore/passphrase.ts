import { readFile } from 'node:fs/promises'
import { errnoCode, ioError, KeystoreError } from './errors.js'

/** The environment variable consulted when no passphrase file is given. */
export const PASSPHRASE_ENV = 'UBTC_PASSPHRASE'

/**
 * The keystore passphrase, from `file` if given (it wins over the environment, so an
 * explicit flag is never silently overridden), else from `UBTC_PASSPHRASE`.
 *
 * Exactly one trailing "\n" or "\r\n" is stripped from the file: editors and `echo` add
 * one, but any other whitespace is part of the passphrase. No interactive prompt: guardians
 * run unattended.
 */
export async function readPassphrase(source: { file?: string; env: NodeJS.ProcessEnv }): Promise<string> {
  if (source.file !== undefined) {
    const file = source.file
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new KeystoreError('not_found', `passphrase file ${file} does not exist`, { path: file })
      }
      throw ioError('read passphrase file', file, err)
    }
    if (text.endsWith('\r\n')) text = text.slice(0, -2)
    else if (text.endsWith('\n')) text = text.slice(0, -1)
    if (text.length === 0) {
      throw new KeystoreError('no_passphrase', `passphrase file ${file} is empty`, { path: file })
    }
    return text
  }
  const fromEnv = source.env[PASSPHRASE_ENV]
  if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv
  throw new KeystoreError(
    'no_passphrase',
    `no keystore passphrase: use --passphrase-file <file> or set ${PASSPHRASE_ENV}`,
  )
}
