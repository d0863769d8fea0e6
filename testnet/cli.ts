import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseFlags, positiveInteger, table } from '../node/cli/index.js'
import { loadGenesis } from '../node/guardian/index.js'
import { TESTNET_MAX_GUARDIANS, testnetOracles } from '../node/setup/index.js'
import { formatLogLine } from './log-format.js'
import { DEV_EVM_PAYMENT_ADDRESS, DEV_SOLANA_PAYMENT_ADDRESS, startDevChains } from './dev-chains.js'
import { LocalTestnet } from './local-testnet.js'

export const TESTNET_HELP = `ubtc testnet [--guardians N] [--dir DIR] [--base-port P] [--fresh] [--check] [--timeout-s S] [--no-chains]

Starts a local network: writes a testnet into DIR (default ./.testnet; reused if present,
--fresh replaces it), starts each guardian as its own process on 127.0.0.1, waits until
every guardian sees all others, prints a table of names, API URLs and peer ids, then
streams their logs until Ctrl-C. Guardian i serves its API on P+i and libp2p on P+100+i
(defaults: N = 5, P = 8500).

Local chains start with it: two anvil EVM chains (ethereum, polygon) and a Solana dev RPC
on litesvm, whose URLs are printed; --no-chains leaves them out.

--check   start, verify (all connected, ready, one reserve address from the DKG), print one
          JSON line and exit 0 or 1; uses a fresh temporary folder unless --dir is given.`

export async function testnetCommand(argv: readonly string[], out: (line: string) => void): Promise<number> {
  const flags = parseFlags(argv, {
    guardians: { type: 'string' },
    dir: { type: 'string' },
    'base-port': { type: 'string' },
    fresh: { type: 'boolean' },
    check: { type: 'boolean' },
    'timeout-s': { type: 'string' },
    'no-chains': { type: 'boolean' },
  })
  const n = positiveInteger(flags.guardians, 'guardians', 5, TESTNET_MAX_GUARDIANS)
  const basePort = positiveInteger(flags['base-port'], 'base-port', 8500, 65_535)
  const timeoutMs = positiveInteger(flags['timeout-s'], 'timeout-s', 60, 3600) * 1000
  const check = flags.check === true
  const tempDir = check && flags.dir === undefined ? await mkdtemp(join(tmpdir(), 'ubtc-testnet-')) : undefined
  const dir = tempDir ?? resolve(flags.dir ?? '.testnet')
  const logs: string[] = []
  const started = Date.now()

  const chains = flags['no-chains'] === true ? undefined : await startDevChains()
  const testnet = await LocalTestnet.create({
    ...(chains !== undefined ? { chains } : {}),
    dir,
    guardians: n,
    basePort,
    fresh: flags.fresh === true,
    onLog: (guardian, line) => (check ? logs.push(formatLogLine(guardian, line)) : out(formatLogLine(guardian.padEnd(11), line))),
  }).catch(async (err: unknown) => {
    await chains?.stop()
    throw err
  })
  let stopping = false
  const shutdown = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    await testnet.stopAll()
    await chains?.stop()
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true })
  }
  const onSignal = (): void => void shutdown().then(() => process.exit(0))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  testnet.startAll()
  try {
    const statuses = await testnet.waitAllConnected(timeoutMs)
    if (check) {
      const ready = await Promise.all(testnet.guardians.map((g) => fetch(`${g.apiUrl}/readyz`).then((r) => r.ok, () => false)))
      const reserveAddress = await testnet.waitReserveAddress(timeoutMs)
      const summary = {
        guardians: n,
        connected: true,
        ready: ready.every(Boolean),
        reserveAddress,
        elapsedMs: Date.now() - started,
        nodes: statuses.map((s, i) => ({ name: s.guardian, api: testnet.guardian(i).apiUrl, peerId: s.peerId, peersConnected: s.peers.filter((p) => p.connected).length })),
      }
      await shutdown()
      out(JSON.stringify(summary))
      return summary.ready ? 0 : 1
    }
    out('')
    out(table([['GUARDIAN', 'API', 'P2P', 'PEER ID'], ...testnet.guardians.map((g) => [g.name, g.apiUrl, `/ip4/127.0.0.1/tcp/${g.p2pPort}`, g.peerId])]))
    const oracles = testnetOracles(dir, await loadGenesis(join(dir, 'genesis.json')))
    if (oracles.length > 0) {
      out('')
      out(table([['ORACLE', 'KEYSTORE', 'PASSPHRASE FILE', 'PEER ID'], ...oracles.map((o) => [o.name, o.keystoreFile, o.passphraseFile, o.peerId])]))
      const first = testnet.guardian(0)
      out(`oracles publish with: ubtc oracle announce|attest --keystore KEYSTORE --passphrase-file PASSPHRASE_FILE --genesis ${join(dir, 'genesis.json')} --peer /ip4/127.0.0.1/tcp/${first.p2pPort}/p2p/${first.peerId} …`)
    }
    if (chains !== undefined) {
      out('')
      out(table([['CHAIN', 'RPC', 'PAYMENT ADDRESS'], ['ethereum', chains.ethereum.url, DEV_EVM_PAYMENT_ADDRESS], ['polygon', chains.polygon.url, DEV_EVM_PAYMENT_ADDRESS], ['solana', chains.solana.url, DEV_SOLANA_PAYMENT_ADDRESS]]))
    }
    out(`\nall ${n} guardians connected; testnet folder ${dir}; Ctrl-C stops the network\n`)
    testnet.waitReserveAddress(timeoutMs).then(
      (address) => out(`\nreserve address ${address} (3-of-${n} FROST key of the guardians; GET /v1/reserves/address)\n`),
      (err: unknown) => out(`\n${(err as Error).message}\n`),
    )
    await new Promise<never>(() => {})
    return 0
  } catch (err) {
    await shutdown()
    if (check) {
      for (const line of logs.slice(-40)) process.stderr.write(`${line}\n`)
      out(JSON.stringify({ guardians: n, connected: false, error: (err as Error).message, elapsedMs: Date.now() - started }))
      return 1
    }
    throw err
  }
}
