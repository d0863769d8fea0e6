import { resolve } from 'node:path'
import { initTestnet, TESTNET_MAX_GUARDIANS } from '../setup/index.js'
import { parseFlags, positiveInteger } from './usage-error.js'

export const INIT_HELP = `ubtc init [--dir DIR] [--guardians N] [--base-port P] [--network NAME] [--force]

Writes a local testnet into DIR (default ./.testnet): genesis.json and, per guardian, a
folder with an encrypted keystore, its passphrase file and config.json. Guardian i serves
its API on P+i and libp2p on P+100+i (default P = 8500, N = 5).`

export async function initCommand(argv: readonly string[], out: (line: string) => void): Promise<void> {
  const flags = parseFlags(argv, {
    dir: { type: 'string' },
    guardians: { type: 'string' },
    'base-port': { type: 'string' },
    network: { type: 'string' },
    force: { type: 'boolean' },
  })
  const layout = await initTestnet({
    dir: resolve(flags.dir ?? '.testnet'),
    guardians: positiveInteger(flags.guardians, 'guardians', 5, TESTNET_MAX_GUARDIANS),
    basePort: positiveInteger(flags['base-port'], 'base-port', 8500, 65_535),
    ...(flags.network === undefined ? {} : { network: flags.network }),
    force: flags.force === true,
  })
  out(`genesis  ${layout.genesisFile}`)
  for (const g of layout.guardians) out(`${g.name.padEnd(12)} ${g.configFile}  api :${g.apiPort}  p2p :${g.p2pPort}  ${g.peerId}`)
}
