import { readFile } from 'node:fs/promises'
import { parseGenesis, ProtocolError, type Genesis } from '../../protocol/index.js'
import { StartupError } from './errors.js'

export async function loadGenesis(file: string): Promise<Genesis> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new StartupError('invalid_genesis', `genesis: cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new StartupError('invalid_genesis', `genesis: ${file} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  try {
    return parseGenesis(json)
  } catch (err) {
    if (err instanceof ProtocolError) throw new StartupError('invalid_genesis', `${err.message} (in ${file})`, { cause: err })
    throw err
  }
}
