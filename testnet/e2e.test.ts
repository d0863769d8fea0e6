import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { bytesToHex } from '@noble/hashes/utils.js'
import { encodeEnvelope, encodeHeartbeat, encodeTx, MessageKind, signEnvelope, TxType, type Decision } from '../protocol/index.js'
import type { StatusView } from '../api/index.js'
import { loadGenesis } from '../node/guardian/index.js'
import { readKeystore } from '../node/keystore/index.js'
import { topicFor } from '../node/network/index.js'
import { findFreeBasePort, LocalTestnet, UBTC_BIN } from './index.js'
import { barePeer, metric } from './test-helpers/peers.js'
import { until } from './test-helpers/until.js'

const run = promisify(execFile)

/** A guardian's signed vote transaction, made with its keystore from the testnet folder. */
async function guardianVoteTx(dir: string, index: number, operationId: string, decision: Decision): Promise<string> {
  const name = `guardian-${index}`
  const passphrase = (await readFile(join(dir, name, 'passphrase'), 'utf8')).trim()
  const { keys } = await readKeystore(join(dir, name, 'keystore.json'), passphrase)
  const genesis = await loadGenesis(join(dir, 'genesis.json'))
  const payload = encodeTx({ type: TxType.GuardianVote, operation: 'validation', operationId, decision })
  return bytesToHex(encodeEnvelope(signEnvelope(genesis.hash, MessageKind.Tx, 0, index, payload, keys.votePrivateKey)))
}

async function postTx(apiUrl: string, tx: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${apiUrl}/v1/tx`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tx }) })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

async function blockAt(apiUrl: string, height: number): Promise<{ hash: string; header: { stateRoot: string } } | undefined> {
  const response = await fetch(`${apiUrl}/v1/blocks/${height}`)
  return response.ok ? ((await response.json()) as { hash: string; header: { stateRoot: string } }) : undefined
}

/** Every listed node has the same block (hash and state root) at `height`. */
async function sameBlockEverywhere(testnet: LocalTestnet, indexes: readonly number[], height: number): Promise<string> {
  const blocks = await Promise.all(indexes.map((i) => blockAt(testnet.guardian(i).apiUrl, height)))
  expect(blocks.every((b) => b !== undefined)).toBe(true)
  expect(new Set(blocks.map((b) => `${b!.hash}/${b!.header.stateRoot}`)).size).toBe(1)
  return blocks[0]!.header.stateRoot
}

describe('5-guardian testnet of real node processes', () => {
  let dir: string
  let testnet: LocalTestnet
  const logs: string[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-e2e-'))
    testnet = await LocalTestnet.create({ dir, guardians: 5, basePort: await findFreeBasePort(5), onLog: (g, line) => logs.push(`${g} ${line}`) })
    testnet.startAll()
    await testnet.waitAllConnected(90_000)
  })

  afterAll(async () => {
    await testnet?.stopAll('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('every node sees the 4 others connected, with heartbeats, and is ready', async () => {
    for (const g of testnet.guardians) {
      const status = (await testnet.status(g.index))!
      expect(status.guardian).toBe(g.name)
      expect(status.peerId).toBe(g.peerId)
      expect(status.guardianSetIndex).toBe(0)
      expect(status.peers.map((p) => p.guardian).sort()).toEqual(testnet.guardians.filter((o) => o !== g).map((o) => o.name).sort())
      expect(status.peers.every((p) => p.connected && p.lastHeartbeatMs !== null)).toBe(true)
      const ready = await fetch(`${g.apiUrl}/readyz`)
      expect(ready.status).toBe(200)
    }
  })

  it('a non-genesis peer cannot connect nor publish', async () => {
    const outsider = await barePeer(await generateKeyPair('Ed25519'))
    try {
      const target = testnet.guardian(0)
      const before = await metric(target.apiUrl, 'ubtc_p2p_connections_denied_total', 'direction="inbound"')
      // The dial may fail outright or resolve just before the guardian's gater closes it: either
      // way the outsider is left with no open connection.
      await outsider.dial(multiaddr(`/ip4/127.0.0.1/tcp/${target.p2pPort}/p2p/${target.peerId}`)).catch(() => undefined)
      await until('the outsider to hold no connection', async () => (outsider.getConnections().length === 0 ? true : undefined))
      const topic = topicFor((await loadGenesis(join(dir, 'genesis.json'))).hash, MessageKind.Heartbeat)
      outsider.services.pubsub.subscribe(topic)
      const published = await outsider.services.pubsub.publish(topic, new Uint8Array([1, 2, 3]))
      expect(published.recipients).toHaveLength(0)
      expect(await metric(target.apiUrl, 'ubtc_p2p_connections_denied_total', 'direction="inbound"')).toBeGreaterThan(before)
      const status = (await testnet.status(0))!
      expect(status.peers.some((p) => p.peerId === outsider.peerId.toString())).toBe(false)
    } finally {
      await outsider.stop()
    }
  })

  it('a stopped guardian is marked disconnected; an impostor with its key sending a bad signature is rejected by every node; it rejoins on restart', async () => {
    const victim = testnet.guardian(4)
    const others = testnet.guardians.filter((g) => g.index !== victim.index)
    await testnet.stop(victim.index, 'SIGKILL')
    await testnet.waitFor((s) => s.peers.find((p) => p.guardian === victim.name)?.connected === false, `${victim.name} marked disconnected`, 30_000, others.map((g) => g.index))

    // While guardian-4 is down, its libp2p key gets through the gater, but not a forged signature.
    const keystore = join(dir, victim.name, 'keystore.json')
    const passphrase = (await readFile(join(dir, victim.name, 'passphrase'), 'utf8')).trim()
    const { keys } = await readKeystore(keystore, passphrase)
    const genesis = await loadGenesis(join(dir, 'genesis.json'))
    const topic = topicFor(genesis.hash, MessageKind.Heartbeat)
    const impostor = await barePeer(keys.p2pPrivateKey)
    try {
      impostor.services.pubsub.subscribe(topic)
      for (const g of others) await impostor.dial(multiaddr(`/ip4/127.0.0.1/tcp/${g.p2pPort}/p2p/${g.peerId}`))
      const payload = encodeHeartbeat({ name: victim.name, version: 'x', height: 0n, peerCount: 0, timestampMs: Date.now(), peerId: victim.peerId })
      const envelope = signEnvelope(genesis.hash, MessageKind.Heartbeat, 0, victim.index, payload, keys.votePrivateKey)
      const forged = { ...envelope, signature: Uint8Array.from(envelope.signature, (b, i) => (i === 10 ? b ^ 0xff : b)) }
      await until('the impostor to see all 4 guardians subscribed', async () => (impostor.services.pubsub.getSubscribers(topic).length === others.length ? true : undefined))
      const result = await impostor.services.pubsub.publish(topic, encodeEnvelope(forged))
      expect(result.recipients).toHaveLength(others.length)
      for (const g of others) {
        await until(`${g.name} to count the bad signature`, async () => ((await metric(g.apiUrl, 'ubtc_gossip_messages_rejected_total', 'reason="bad_signature"')) >= 1 ? true : undefined))
      }
    } finally {
      await impostor.stop()
    }

    testnet.start(victim.index)
    await testnet.waitAllConnected(60_000)
    const rejoined = (await testnet.status(victim.index))!
    expect(rejoined.peers.every((p) => p.connected)).toBe(true)
  })

  it('commits heights with equal blocks and state roots on every node', async () => {
    const all = testnet.guardians.map((g) => g.index)
    const statuses = await testnet.waitFor((st) => st.height >= 3, 'height 3 everywhere', 60_000)
    const common = Math.min(...statuses.map((st) => st.height))
    for (let h = 1; h <= common; h++) await sameBlockEverywhere(testnet, all, h)
  })

  it('approves a guardian vote submitted through POST /v1/tx on every node once 3 of 5 voted', async () => {
    const operationId = `e2e-${Date.now()}`
    for (const [i, via] of [[0, 0], [1, 2], [2, 4]] as const) {
      const posted = await postTx(testnet.guardian(via).apiUrl, await guardianVoteTx(dir, i, operationId, 'approve'))
      expect(posted.status).toBe(202)
    }
    const bad = await postTx(testnet.guardian(1).apiUrl, 'zz')
    expect(bad.status).toBe(400)
    const genuine = await guardianVoteTx(dir, 3, operationId, 'approve')
    // Flip one byte inside the signature's s (the last 65 bytes are r ‖ s ‖ v).
    const at = genuine.length - 20
    const forged = `${genuine.slice(0, at)}${(parseInt(genuine.slice(at, at + 2), 16) ^ 0xff).toString(16).padStart(2, '0')}${genuine.slice(at + 2)}`
    expect((await postTx(testnet.guardian(1).apiUrl, forged)).status).toBe(400)
    for (const g of testnet.guardians) {
      const record = await until(`${g.name} to approve ${operationId}`, async () => {
        const response = await fetch(`${g.apiUrl}/v1/consensus/operations/validation:${operationId}`)
        if (!response.ok) return undefined
        const body = (await response.json()) as { status: string; approvals: number[] }
        return body.status === 'approved' ? body : undefined
      })
      expect(record.approvals.slice().sort()).toEqual([0, 1, 2])
    }
  })

  it('keeps committing with one node killed -9; the node restarts, syncs and has the same state root', async () => {
    const victim = testnet.guardian(2)
    const others = testnet.guardians.filter((g) => g !== victim).map((g) => g.index)
    await testnet.stop(victim.index, 'SIGKILL')
    const before = Math.max(...(await Promise.all(others.map((i) => testnet.status(i)))).map((st) => st!.height))
    await testnet.waitFor((st) => st.height >= before + 3, 'progress without the killed node', 60_000, others)
    testnet.start(victim.index)
    const [leader] = await testnet.waitFor((st) => st.height >= before + 3, 'any node', 10_000, [others[0]!])
    await testnet.waitFor((st: StatusView) => st.height >= leader!.height && !st.syncing, `${victim.name} to catch up`, 60_000, [victim.index])
    await sameBlockEverywhere(testnet, testnet.guardians.map((g) => g.index), leader!.height)
  })

  it('nodes shut down cleanly on SIGTERM', async () => {
    for (const g of testnet.guardians) expect(await testnet.stop(g.index, 'SIGTERM')).toBe(0)
    expect(logs.some((l) => l.includes('guardian node stopped'))).toBe(true)
  })
})

describe('7-guardian testnet (f = 2)', () => {
  let dir: string
  let testnet: LocalTestnet

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-e2e7-'))
    testnet = await LocalTestnet.create({ dir, guardians: 7, basePort: await findFreeBasePort(7) })
    testnet.startAll()
    await testnet.waitAllConnected(90_000)
  })

  afterAll(async () => {
    await testnet?.stopAll('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps committing with two nodes killed -9, and both rejoin with the same state root', async () => {
    await testnet.waitFor((st) => st.height >= 2, 'height 2 everywhere', 60_000)
    const victims = [1, 5]
    const others = testnet.guardians.map((g) => g.index).filter((i) => !victims.includes(i))
    for (const v of victims) await testnet.stop(v, 'SIGKILL')
    const before = Math.max(...(await Promise.all(others.map((i) => testnet.status(i)))).map((st) => st!.height))
    await testnet.waitFor((st) => st.height >= before + 3, 'progress with 5 of 7', 60_000, others)
    for (const v of victims) testnet.start(v)
    const [leader] = await testnet.waitFor((st) => st.height >= before + 3, 'a live node', 10_000, [others[0]!])
    await testnet.waitFor((st) => st.height >= leader!.height && !st.syncing, 'the restarted nodes to catch up', 60_000, victims)
    await sameBlockEverywhere(testnet, testnet.guardians.map((g) => g.index), leader!.height)
  })
})

describe('npm run testnet -- --check', () => {
  it('starts 5 guardians, verifies them, prints one JSON line and exits 0', async () => {
    const basePort = await findFreeBasePort(5)
    const { stdout } = await run(process.execPath, [UBTC_BIN, 'testnet', '--check', '--base-port', String(basePort)], { timeout: 120_000 })
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { guardians: number; connected: boolean; ready: boolean; reserveAddress: string; nodes: Array<{ peersConnected: number }> }
    expect(summary).toMatchObject({ guardians: 5, connected: true, ready: true, reserveAddress: expect.stringMatching(/^bcrt1p[02-9ac-hj-np-z]{58}$/) })
    expect(summary.nodes.map((n) => n.peersConnected)).toEqual([4, 4, 4, 4, 4])
  })
})
