#!/usr/bin/env node
import '../protocol/polyfill.js'
import {
  DKG_HELP,
  dkgCommand,
  DLC_HELP,
  dlcCommand,
  INIT_HELP,
  initCommand,
  KEYGEN_HELP,
  keygenCommand,
  NODE_HELP,
  nodeCommand,
  ORACLE_HELP,
  oracleCommand,
  STATUS_HELP,
  statusCommand,
  UsageError,
  VERIFY_HELP,
  VERIFY_MESSAGE_HELP,
  verifyCommand,
  verifyMessageCommand,
} from '../node/cli/index.js'
import { NODE_VERSION } from '../node/version.js'
import { CodedError } from '../protocol/index.js'
import { TESTNET_HELP, testnetCommand } from '../testnet/index.js'

const HELP = `ubtc ${NODE_VERSION} — Universal Bitcoin guardian node

Commands:
  ubtc keygen --out FILE       generate an encrypted guardian keystore
  ubtc init [--dir D]          write a local testnet (genesis, keys, configs)
  ubtc node --config FILE      run a guardian node
  ubtc status --api URL        show a node's view of the guardian network
  ubtc verify --api URL --genesis FILE
                               verify a block and its certificate from any node
  ubtc dkg --api URL --token T start the distributed key generation of the reserve key
  ubtc verify-message --address A --message M --signature S
                               verify a BIP-322 signature (proof of reserves) offline
  ubtc dlc compile --terms FILE
                               check DLC terms and compile them to a taproot output
  ubtc dlc example-terms       print valid example DLC terms for the local network
  ubtc oracle keygen|announce|attest
                               run a DLC oracle: keystore, announce an event, attest its outcome
  ubtc testnet [--check]       start a local network of guardian processes

'ubtc COMMAND --help' describes each command.`

const COMMANDS: Record<string, { help: string; run: (argv: string[]) => Promise<number | void> }> = {
  keygen: { help: KEYGEN_HELP, run: (argv) => keygenCommand(argv, process.env, print) },
  init: { help: INIT_HELP, run: (argv) => initCommand(argv, print) },
  node: { help: NODE_HELP, run: (argv) => nodeCommand(argv, process.env) },
  status: { help: STATUS_HELP, run: (argv) => statusCommand(argv, print) },
  verify: { help: VERIFY_HELP, run: (argv) => verifyCommand(argv, print) },
  dkg: { help: DKG_HELP, run: (argv) => dkgCommand(argv, process.env, print) },
  'verify-message': { help: VERIFY_MESSAGE_HELP, run: (argv) => verifyMessageCommand(argv, print) },
  oracle: { help: ORACLE_HELP, run: (argv) => oracleCommand(argv, process.env, print) },
  dlc: { help: DLC_HELP, run: (argv) => dlcCommand(argv, print, (line) => process.stderr.write(`${line}\n`)) },
  testnet: { help: TESTNET_HELP, run: (argv) => testnetCommand(argv, print) },
}

function print(line: string): void {
  process.stdout.write(`${line}\n`)
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    print(HELP)
    return name === undefined ? 2 : 0
  }
  if (name === '--version') {
    print(NODE_VERSION)
    return 0
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    process.stderr.write(`ubtc: unknown command "${name}"\n\n${HELP}\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    print(command.help)
    return 0
  }
  try {
    return (await command.run(rest)) ?? 0
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`ubtc ${name}: ${err.message}\n\n${command.help}\n`)
      return 2
    }
    // Typed errors carry an operator-facing message; anything else is a bug worth its stack.
    const message = err instanceof CodedError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)
    process.stderr.write(`ubtc ${name}: ${message}\n`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
