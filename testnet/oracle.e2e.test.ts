import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OracleEventView } from '../api/index.js'
import { attestationPoint, attestationSecret, decodeOracleAttestation, encodeOracleAttestation } from '../dlc/index.js'
import { loadGenesis } from '../node/guardian/index.js'
import { readOracleKeystore } from '../node/keystore/index.js'
import { oracleTopic } from '../node/network/index.js'
import type { Genesis } from '../protocol/index.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { findFreeBasePort, LocalTestnet, UBTC_BIN } from './index.js'
import { barePeer, metric } from './test-helpers/peers.js'
import { until } from './test-helpers/until.js'

const run = promisify(execFile)

/**
 * Oracles on a real 5-guardian testnet: three oracle processes announce an event and attest
 * its outcome through `ubtc oracle`, over libp2p on the oracle topic; every guardian commits
 * the messages and decides the outcome at the second matching attestation. A forged
 * attestation is refused at the gossip check and never reaches the state.
 */

const EVENT_ID = 'btc-usd-above-100k-2026-12-01'

describe('oracles publishing to a 5-guardian testnet', () => {
  let dir: string
  let testnet: LocalTestnet
  let genesis: Genesis
  let peers: string[]
  const logs: string[] = []

  /** Runs `ubtc oracle <command>` as oracle `index` and returns its JSON line. */
  async function oracle(index: number, command: 'announce' | 'attest', flags: readonly string[]): Promise<Record<string, unknown>> {
    const home = join(dir, `oracle-${index}`)
    const args = [UBTC_BIN, 'oracle', command, '--keystore', join(home, 'keystore.json'), '--passphrase-file', join(home, 'passphrase'), '--genesis', join(dir, 'genesis.json')]
    for (const peer of peers) args.push('--peer', peer)
    const { stdout } = await run(process.execPath, [...args, '--api', testnet.guardian(index).apiUrl, '--wait', ...flags], { timeout: 60_000 })
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>
  }

  async function eventOn(index: number): Promise<OracleEventView | undefined> {
    const response = await fetch(`${testnet.guardian(index).apiUrl}/v1/oracle/events/${encodeURIComponent(EVENT_ID)}`)
    return response.ok ? ((await response.json()) as OracleEventView) : undefined
  }

  /** Waits until every guardian serves the event and `predicate` holds on each view; returns the views. */
  async function everyNode(what: string, predicate: (event: OracleEventView) => boolean): Promise<OracleEventView[]> {
    return until(what, async () => {
      const views = await Promise.all(testnet.guardians.map((g) => eventOn(g.index)))
      return views.every((v) => v !== undefined && predicate(v)) ? (views as OracleEventView[]) : undefined
    }, 60_000)
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-oracle-'))
    testnet = await LocalTestnet.create({ dir, guardians: 5, basePort: await findFreeBasePort(5), onLog: (g, line) => logs.push(`${g} ${line}`) })
    genesis = await loadGenesis(join(dir, 'genesis.json'))
    peers = testnet.guardians.map((g) => `/ip4/127.0.0.1/tcp/${g.p2pPort}/p2p/${g.peerId}`)
    testnet.startAll()
    await testnet.waitAllConnected(90_000)
  })

  afterAll(async () => {
    await testnet?.stopAll('SIGKILL')
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('genesis lists the three testnet oracles with their keys', () => {
    expect(genesis.oracles.map((o) => o.name)).toEqual(['oracle-0', 'oracle-1', 'oracle-2'])
    expect(genesis.oracles.every((o) => o.publicKey.length === 32)).toBe(true)
  })

  it('three oracles announce the event through ubtc oracle; every node commits the three announcements', async () => {
    const maturity = String(Math.floor(Date.now() / 1000) + 3600)
    for (const i of [0, 1, 2]) {
      const out = await oracle(i, 'announce', ['--event-id', EVENT_ID, '--outcomes', 'above,below', '--maturity', maturity])
      expect(out).toMatchObject({ eventId: EVENT_ID, oracle: `oracle-${i}` })
    }
    const views = await everyNode('three announcements on every node', (e) => e.announcements.length === 3)
    for (const view of views) {
      expect(view).toMatchObject({ eventId: EVENT_ID, outcomes: ['above', 'below'], maturity: Number(maturity), attestations: [], consensusReached: false, outcome: null })
      expect(view.announcements.map((a) => a.publicKey).sort()).toEqual(genesis.oracles.map((o) => bytesToHex(o.publicKey)).sort())
    }
    expect(new Set(views.map((v) => JSON.stringify(v))).size).toBe(1)
  })

  it('contract terms on the committed announcements compile against the network genesis', async () => {
    const genesisFile = join(dir, 'genesis.json')
    const termsFile = join(dir, 'terms.json')
    const example = await run(process.execPath, [UBTC_BIN, 'dlc', 'example-terms', '--genesis', genesisFile, '--api', testnet.guardian(1).apiUrl, '--event-id', EVENT_ID])
    await writeFile(termsFile, example.stdout)
    const compiled = await run(process.execPath, [UBTC_BIN, 'dlc', 'compile', '--terms', termsFile, '--genesis', genesisFile, '--json'])
    const contract = JSON.parse(compiled.stdout) as { ok: boolean; address: string; analysis: { ok: boolean } }
    expect(contract).toMatchObject({ ok: true, analysis: { ok: true } })
    expect(contract.address).toMatch(/^bcrt1p/)
  })

  it('after one attestation no node has consensus; a forged attestation is refused and counted', async () => {
    await oracle(0, 'attest', ['--event-id', EVENT_ID, '--outcome', 'above'])
    let views = await everyNode('the first attestation on every node', (e) => e.attestations.length === 1)
    for (const view of views) expect(view).toMatchObject({ consensusReached: false, outcome: null, attestations: [{ oracle: 'oracle-0', outcome: 'above' }] })

    // oracle-1's transport key (admitted by the gater) sending oracle-0's attestation with a changed outcome.
    const home = join(dir, 'oracle-1')
    const { keys } = await readOracleKeystore(join(home, 'keystore.json'), (await readFile(join(home, 'passphrase'), 'utf8')).trim())
    const genuine = decodeOracleAttestation(hexToBytes(views[0]!.attestations[0]!.attestation))
    const forged = encodeOracleAttestation({ ...genuine, outcomes: ['below'] })
    const target = testnet.guardian(2)
    const before = await metric(target.apiUrl, 'ubtc_oracle_messages_total', 'result="bad_signature"')
    const impostor = await barePeer(keys.p2pPrivateKey)
    try {
      const topic = oracleTopic(genesis.hash)
      impostor.services.pubsub.subscribe(topic)
      await impostor.dial(multiaddr(peers[2]!))
      await until('the guardian to subscribe the impostor to the oracle topic', async () => (impostor.services.pubsub.getSubscribers(topic).length > 0 ? true : undefined))
      await impostor.services.pubsub.publish(topic, forged)
      await until('the forged attestation to be counted', async () => ((await metric(target.apiUrl, 'ubtc_oracle_messages_total', 'result="bad_signature"')) > before ? true : undefined), 20_000)
    } finally {
      await impostor.stop()
    }
    views = await everyNode('the state unchanged', (e) => e.attestations.length === 1)
    for (const view of views) expect(view.consensusReached).toBe(false)
    expect(logs.some((line) => line.includes('oracle message rejected'))).toBe(true)
  })

  it('the second matching attestation gives every node consensus on the outcome, and its secret opens the attestation point', async () => {
    await oracle(2, 'attest', ['--event-id', EVENT_ID, '--outcome', 'above'])
    const views = await everyNode('consensus on every node', (e) => e.consensusReached)
    for (const view of views) {
      expect(view).toMatchObject({ outcome: 'above', consensusReached: true })
      expect(view.attestations.map((a) => [a.oracle, a.outcome])).toEqual([['oracle-0', 'above'], ['oracle-2', 'above']])
    }
    expect(new Set(views.map((v) => JSON.stringify(v))).size).toBe(1)

    // What a DLC relies on: each committed attestation's s is the discrete log of S = R + H(R‖P‖m)·P.
    for (const a of views[0]!.attestations) {
      const announcement = views[0]!.announcements.find((x) => x.oracle === a.oracle)!
      const point = attestationPoint(hexToBytes(announcement.publicKey), hexToBytes(announcement.nonce), a.outcome)
      const secret = attestationSecret(decodeOracleAttestation(hexToBytes(a.attestation)))
      expect(bytesToHex(secp256k1.Point.BASE.multiply(secp256k1.Point.Fn.fromBytes(secret)).toBytes(true))).toBe(bytesToHex(point))
    }
  })

  it('an oracle cannot attest a second outcome: its own journal refuses before anything is published', async () => {
    const failure = await oracle(0, 'attest', ['--event-id', EVENT_ID, '--outcome', 'below']).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    )
    expect(failure?.code).toBe(1)
    expect(failure?.stderr).toMatch(/already attested/)
    const view = await eventOn(0)
    expect(view?.equivocations).toEqual([])
  })
})
