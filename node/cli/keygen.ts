import { resolve } from 'node:path'
import { DEFAULT_KDF, generateGuardianKeys, readPassphrase, writeKeystore } from '../keystore/index.js'
import { parseFlags, UsageError } from './usage-error.js'

export const KEYGEN_HELP = `ubtc keygen --out FILE [--passphrase-file FILE] [--force] [--json]

Generates a guardian's vote key (secp256k1) and libp2p key (ed25519) and writes them to an
encrypted keystore (scrypt + AES-256-GCM, mode 0600). The passphrase comes from
--passphrase-file or the UBTC_PASSPHRASE environment variable. Prints the public part
(peer id, vote public key, address) for the genesis file. Refuses to replace an existing
keystore unless --force.`

export async function keygenCommand(argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<void> {
  const flags = parseFlags(argv, {
    out: { type: 'string' },
    'passphrase-file': { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  })
  if (flags.out === undefined) throw new UsageError('--out FILE is required')
  const file = resolve(flags.out)
  const passphraseFile = flags['passphrase-file']
  const passphrase = await readPassphrase(passphraseFile === undefined ? { env } : { file: resolve(passphraseFile), env })
  const pub = await writeKeystore(file, await generateGuardianKeys(), passphrase, { kdf: DEFAULT_KDF, overwrite: flags.force === true })
  if (flags.json === true) {
    out(JSON.stringify({ keystore: file, ...pub }))
    return
  }
  out(`keystore       ${file}`)
  out(`peerId         ${pub.peerId}`)
  out(`votePublicKey  ${pub.votePublicKey}`)
  out(`address        ${pub.address}`)
}
