import { createServer, type Server } from 'node:http'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OracleAnnouncementView, OracleAttestationView } from '../../api/index.js'
import { decodeOracleMessage, verifyOracleAnnouncement, verifyOracleAttestation } from '../../dlc/index.js'
import { genesisToJson, type Genesis } from '../../protocol/index.js'
import {
  generateOracleKeys,
  KeystoreError,
  oracleJournalPath,
  OracleJournalError,
  readOracleJournal,
  readOracleKeystore,
  TESTNET_KDF,
  writeOracleKeystore,
} from '../keystore/index.js'
import { addressOf, guardianHost, oracleTestnet, type GuardianHost } from '../oracle/test-helpers/guardian-hosts.js'
import { ORACLE_HELP, oracleCommand, OracleCommandError } from './oracle.js'
import { UsageError } from './usage-error.js'

const PASS = 'oracle cli passphrase'
const ENV = { UBTC_PASSPHRASE: PASS }

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ubtc-oracle-cli-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function run(args: readonly string[], env: NodeJS.ProcessEnv = ENV): Promise<string[]> {
  const lines: string[] = []
  await oracleCommand(args, env, (line) => lines.push(line))
  return lines
}

async function failure(args: readonly string[], env: NodeJS.ProcessEnv = ENV): Promise<Error> {
  return run(args, env).then(
    () => {
      throw new Error(`expected ubtc oracle ${args.join(' ')} to fail`)
    },
    (err: unknown) => err as Error,
  )
}

describe('ubtc oracle keygen', () => {
  it('writes a 0600 oracle keystore and prints its genesis.oracles entry', async () => {
    const out = join(dir, 'k1', 'oracle.json')
    const lines = await run(['keygen', '--out', out, '--name', 'oracle-x'])
    expect(lines).toHaveLength(1)
    const entry = JSON.parse(lines[0]!) as Record<string, string>
    expect(Object.keys(entry)).toEqual(['name', 'peerId', 'publicKey'])
    const { public: pub } = await readOracleKeystore(out, PASS)
    expect(entry).toEqual({ name: 'oracle-x', peerId: pub.peerId, publicKey: pub.publicKey })
    expect((await stat(out)).mode & 0o777).toBe(0o600)
    expect(lines[0]).not.toContain(PASS)
  })

  it('reads the passphrase file, refuses to replace a keystore without --force, and never orphans a journal', async () => {
    const out = join(dir, 'k2', 'oracle.json')
    const passFile = join(dir, 'k2-pass')
    await writeFile(passFile, 'from the passphrase file\n')
    const first = JSON.parse((await run(['keygen', '--out', out, '--passphrase-file', passFile], {}))[0]!) as { publicKey: string; name: string }
    expect(first.name).toBe('oracle')
    expect((await readOracleKeystore(out, 'from the passphrase file')).public.publicKey).toBe(first.publicKey)
    const exists = await failure(['keygen', '--out', out])
    expect(exists).toBeInstanceOf(KeystoreError)
    expect((exists as KeystoreError).code).toBe('exists')

    const second = JSON.parse((await run(['keygen', '--out', out, '--force']))[0]!) as { publicKey: string }
    expect(second.publicKey).not.toBe(first.publicKey)
    await writeFile(oracleJournalPath(out), '{}')
    const orphan = await failure(['keygen', '--out', out, '--force'])
    expect(orphan).toBeInstanceOf(OracleCommandError)
    expect(orphan.message).toContain('event journal')
    expect((await readOracleKeystore(out, PASS)).public.publicKey).toBe(second.publicKey)
  })

  it('needs --out, a valid --name and a passphrase', async () => {
    expect(await failure(['keygen'])).toBeInstanceOf(UsageError)
    expect((await failure(['keygen', '--out', join(dir, 'k3.json'), '--name', 'has space'])).message).toContain('--name')
    const noPass = await failure(['keygen', '--out', join(dir, 'k3.json')], {})
    expect((noPass as KeystoreError).code).toBe('no_passphrase')
  })
})

describe('ubtc oracle announce | attest', () => {
  let genesis: Genesis
  let genesisFile: string
  let keystore: string
  let strangerKeystore: string
  let guardian0: GuardianHost
  let peer: string
  let api: Server
  let apiUrl: string
  /** What the fake guardian received, as the API would serve it once committed. */
  const announcements: OracleAnnouncementView[] = []
  const attestations: OracleAttestationView[] = []
  const received: Uint8Array[] = []

  beforeAll(async () => {
    const net = await oracleTestnet('ubtc-oracle-cli-test', 2)
    genesis = net.genesis
    keystore = join(dir, 'oracle-0', 'keystore.json')
    await writeOracleKeystore(keystore, net.oracle, PASS, { kdf: TESTNET_KDF })
    strangerKeystore = join(dir, 'stranger', 'keystore.json')
    await writeOracleKeystore(strangerKeystore, await generateOracleKeys(), PASS, { kdf: TESTNET_KDF })
    genesisFile = join(dir, 'genesis.json')
    await writeFile(genesisFile, JSON.stringify(genesisToJson(genesis)))

    // guardian-0: subscribed to the oracle topic, it "commits" what arrives at height 10, 11, …
    guardian0 = await guardianHost(net.guardians[0]!.p2pPrivateKey)
    const topic = net.topic
    guardian0.services.pubsub.subscribe(topic)
    guardian0.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic !== topic) return
      const data = evt.detail.data
      received.push(data)
      const message = decodeOracleMessage(data)
      const height = 10 + received.length
      if (message.kind === 'announcement') {
        const a = message.announcement
        announcements.push({ oracle: 'oracle-0', publicKey: bytesToHex(a.oraclePublicKey), nonce: bytesToHex(a.event.nonces[0]!), announcement: bytesToHex(data), height, timeMs: Date.now() })
      } else {
        const a = message.attestation
        attestations.push({ oracle: 'oracle-0', outcome: a.outcomes[0]!, signature: bytesToHex(a.signatures[0]!), attestation: bytesToHex(data), height, timeMs: Date.now() })
      }
    })
    peer = addressOf(guardian0)

    api = createServer((req, res) => {
      const prefix = '/v1/oracle/events/'
      const eventId = req.url?.startsWith(prefix) === true ? decodeURIComponent(req.url.slice(prefix.length)) : undefined
      if (eventId === undefined || announcements.length === 0) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found', message: 'no such event' }))
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ eventId, announcements, attestations }))
    })
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve))
    apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`
  })

  afterAll(async () => {
    await guardian0?.stop()
    await new Promise((resolve) => api?.close(resolve))
  })

  const base = (): string[] => ['--keystore', keystore, '--genesis', genesisFile, '--peer', peer]
  const EVENT_ID = 'btc/usd 2030 ≥ 100k'

  it('announces, publishes to the guardian and waits until the API shows the announcement', async () => {
    const lines = await run(['announce', ...base(), '--event-id', EVENT_ID, '--outcomes', 'yes,no', '--maturity', '2030-01-01T00:00:00Z', '--api', apiUrl, '--wait', '--timeout-s', '20'])
    expect(lines).toHaveLength(1)
    const out = JSON.parse(lines[0]!) as Record<string, unknown>
    expect(out).toMatchObject({ eventId: EVENT_ID, oracle: 'oracle-0', outcomes: ['yes', 'no'], maturity: 1_893_456_000, republished: false, recipients: 1, guardians: ['guardian-0'], height: 11 })
    expect(received).toHaveLength(1)
    expect(out.announcement).toBe(bytesToHex(received[0]!))
    const message = decodeOracleMessage(received[0]!)
    if (message.kind !== 'announcement') throw new Error('expected an announcement')
    verifyOracleAnnouncement(message.announcement)
    expect(out.publicKey).toBe(bytesToHex(genesis.oracles[0]!.publicKey))
    expect((await readOracleJournal(oracleJournalPath(keystore)))[0]).toMatchObject({ eventId: EVENT_ID, nonceHeld: true })
    // The journal takes the keystore's scrypt parameters (here the cheap testnet ones).
    const journal = JSON.parse(await readFile(oracleJournalPath(keystore), 'utf8')) as { crypto: { kdfparams: { n: number } } }
    expect(journal.crypto.kdfparams.n).toBe(TESTNET_KDF.n)
  })

  it('attests, then re-publishes the same attestation, and refuses another outcome', async () => {
    const first = JSON.parse((await run(['attest', ...base(), '--event-id', EVENT_ID, '--outcome', 'yes', '--api', apiUrl, '--wait']))[0]!) as Record<string, unknown>
    expect(first).toMatchObject({ eventId: EVENT_ID, oracle: 'oracle-0', outcome: 'yes', republished: false, recipients: 1, height: 12 })
    const message = decodeOracleMessage(received[1]!)
    const announced = decodeOracleMessage(received[0]!)
    if (message.kind !== 'attestation' || announced.kind !== 'announcement') throw new Error('expected an attestation after the announcement')
    verifyOracleAttestation(message.attestation, announced.announcement)
    expect((await readOracleJournal(oracleJournalPath(keystore)))[0]).toMatchObject({ nonceHeld: false })

    const again = JSON.parse((await run(['attest', ...base(), '--event-id', EVENT_ID, '--outcome', 'yes']))[0]!) as Record<string, unknown>
    expect(again).toMatchObject({ republished: true, attestation: first.attestation, id: first.id })
    expect(again.height).toBeUndefined()

    const refused = await failure(['attest', ...base(), '--event-id', EVENT_ID, '--outcome', 'no'])
    expect(refused).toBeInstanceOf(OracleJournalError)
    expect(refused.message).toMatch(/already attested with outcome "yes"/)
  })

  it('refuses a keystore whose key is not in genesis.oracles, saying what to add', async () => {
    const err = await failure(['announce', '--keystore', strangerKeystore, '--genesis', genesisFile, '--peer', peer, '--event-id', 'e', '--outcomes', 'a,b', '--maturity', '2000000000'])
    expect(err).toBeInstanceOf(OracleCommandError)
    expect((err as OracleCommandError).code).toBe('not_in_genesis')
    expect(err.message).toMatch(/is not in genesis\.oracles of ubtc-oracle-cli-test/)
    expect(err.message).toContain('"publicKey":"')
  })

  it('refuses a --peer that is not a genesis guardian as a usage error, before touching the journal', async () => {
    const before = await readOracleJournal(oracleJournalPath(keystore))
    const notGuardian = `/ip4/127.0.0.1/tcp/1/p2p/${genesis.oracles[0]!.peerId}`
    const err = await failure(['announce', '--keystore', keystore, '--genesis', genesisFile, '--peer', notGuardian, '--event-id', 'fresh', '--outcomes', 'a,b', '--maturity', '2000000000'])
    expect(err).toBeInstanceOf(UsageError)
    expect(err.message).toContain('is not a guardian')
    expect(await readOracleJournal(oracleJournalPath(keystore))).toEqual(before)
  })

  describe('usage errors', () => {
    const announce = (extra: readonly string[]): string[] => ['announce', '--keystore', 'k.json', '--genesis', 'g.json', '--peer', '/ip4/127.0.0.1/tcp/1', '--event-id', 'e', ...extra]
    const cases: Array<[string, readonly string[], RegExp]> = [
      ['no subcommand', [], /subcommand is required/],
      ['an unknown subcommand', ['publish'], /unknown subcommand "publish"/],
      ['an unknown flag', ['announce', '--event', 'x'], /Unknown option '--event'/],
      ['no --keystore', ['attest', '--genesis', 'g', '--peer', 'p', '--event-id', 'e', '--outcome', 'a'], /--keystore FILE is required/],
      ['no --peer', ['attest', '--keystore', 'k', '--genesis', 'g', '--event-id', 'e', '--outcome', 'a'], /--peer MULTIADDR is required/],
      ['no --event-id', ['attest', '--keystore', 'k', '--genesis', 'g', '--peer', 'p', '--outcome', 'a'], /--event-id ID is required/],
      ['no --outcome', ['attest', '--keystore', 'k', '--genesis', 'g', '--peer', 'p', '--event-id', 'e'], /--outcome O is required/],
      ['one outcome', announce(['--outcomes', 'only', '--maturity', '1']), /at least two non-empty outcomes/],
      ['an empty outcome', announce(['--outcomes', 'a,,b', '--maturity', '1']), /at least two non-empty outcomes/],
      ['a repeated outcome', announce(['--outcomes', 'a,b,a', '--maturity', '1']), /lists an outcome twice/],
      ['no --maturity', announce(['--outcomes', 'a,b']), /--maturity UNIX\|ISO is required/],
      ['a bad maturity', announce(['--outcomes', 'a,b', '--maturity', 'next tuesday']), /--maturity must be unix seconds/],
      ['a maturity beyond u32', announce(['--outcomes', 'a,b', '--maturity', '4294967296']), /--maturity must be unix seconds/],
      ['--wait without --api', announce(['--outcomes', 'a,b', '--maturity', '1', '--wait']), /--wait needs --api/],
      ['--api without --wait', announce(['--outcomes', 'a,b', '--maturity', '1', '--api', 'http://x']), /--api is only used with --wait/],
      ['a bad --api', announce(['--outcomes', 'a,b', '--maturity', '1', '--api', 'nope', '--wait']), /--api: not a URL/],
      ['a bad --timeout-s', announce(['--outcomes', 'a,b', '--maturity', '1', '--timeout-s', '0']), /--timeout-s must be an integer/],
    ]
    for (const [what, args, message] of cases) {
      it(`exits 2 on ${what}`, async () => {
        const err = await failure(args)
        expect(err).toBeInstanceOf(UsageError)
        expect(err.message).toMatch(message)
      })
    }

    it('the help names the three subcommands and their flags', () => {
      for (const text of ['ubtc oracle keygen --out FILE', 'ubtc oracle announce', 'ubtc oracle attest', '--outcomes A,B', '--maturity UNIX|ISO', '--api URL --wait', 'UBTC_PASSPHRASE']) {
        expect(ORACLE_HELP).toContain(text)
      }
    })
  })
})
