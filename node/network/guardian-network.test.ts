import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { encodeEnvelope, encodeHeartbeat, MessageKind, signEnvelope, type Heartbeat } from '../../protocol/index.js'
import { InProcessNetwork, type InProcessGuardian } from '../../testnet/index.js'
import { topicFor, type AcceptedMessage } from './index.js'

/** Polls `condition` every 25 ms until it holds; fails with `what` after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Sum of a metric's samples whose labels include `labels`. */
async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`no metric ${name}`)
  const { values } = await metric.get()
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0)
}

function guardian(net: InProcessNetwork, index: number): InProcessGuardian {
  const g = net.guardians.get(index)
  if (g === undefined) throw new Error(`guardian ${index} is not running`)
  return g
}

type Bare = Libp2p<{ pubsub: GossipSub }>

/** A plain libp2p host with the guardians' stack and no gater of its own. */
function bareNode(privateKey: PrivateKey): Promise<Bare> {
  return createLibp2p({
    privateKey,
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({ globalSignaturePolicy: 'StrictNoSign', emitSelf: false, allowPublishToZeroTopicPeers: true }),
    },
  })
}

const bareNodes: Bare[] = []
afterEach(async () => {
  for (const node of bareNodes.splice(0)) await node.stop()
})

describe('GuardianNetwork: three guardians', () => {
  let net: InProcessNetwork

  beforeAll(async () => {
    net = await InProcessNetwork.create({ guardians: 3, heartbeatIntervalMs: 300 })
  })
  afterAll(async () => {
    await net?.close()
  })

  it('connects and every guardian receives the others’ signed heartbeats', async () => {
    const seen = new Map<number, Set<string>>()
    const unsubscribe = [0, 1, 2].map((i) => {
      seen.set(i, new Set())
      return guardian(net, i).network.onMessage((m: AcceptedMessage) => {
        if (m.message.kind !== MessageKind.Heartbeat) throw new Error(`unexpected message kind ${m.message.kind}`)
        expect(m.message.heartbeat.name).toBe(m.signer.name)
        seen.get(i)!.add(m.signer.name)
      })
    })
    try {
      await net.waitConnected(15_000)
      await waitFor('each guardian hears both others', () =>
        [0, 1, 2].every((i) => seen.get(i)!.size === 2 && guardian(net, i).network.peerStates().every((p) => p.lastHeartbeat !== undefined)),
      )
    } finally {
      for (const off of unsubscribe) off()
    }
    for (const i of [0, 1, 2]) {
      const others = ['guardian-0', 'guardian-1', 'guardian-2'].filter((n) => n !== `guardian-${i}`)
      expect([...seen.get(i)!].sort()).toEqual(others)
      const states = guardian(net, i).network.peerStates()
      expect(states.map((s) => s.guardian.name).sort()).toEqual(others)
      for (const s of states) {
        expect(s.connected).toBe(true)
        expect(s.lastHeartbeat?.guardian).toBe(s.guardian.name)
        expect(s.lastHeartbeat?.peerId).toBe(s.guardian.peerId)
        expect(s.lastHeartbeat?.version).toBe('in-process')
      }
      const g = guardian(net, i)
      expect(await metricValue(g.registry, 'ubtc_p2p_guardian_peers_connected')).toBe(2)
      expect(await metricValue(g.registry, 'ubtc_gossip_messages_received_total', { topic: 'heartbeat' })).toBeGreaterThanOrEqual(2)
      expect(await metricValue(g.registry, 'ubtc_gossip_messages_published_total', { topic: 'heartbeat' })).toBeGreaterThanOrEqual(1)
      expect(await metricValue(g.registry, 'ubtc_gossip_messages_rejected_total')).toBe(0)
    }
  })

  it('refuses a libp2p peer that is not in genesis', async () => {
    const g0 = guardian(net, 0)
    const outsider = await bareNode(await generateKeyPair('Ed25519'))
    bareNodes.push(outsider)
    const outsiderId = outsider.peerId.toString()
    const deniedBefore = await metricValue(g0.registry, 'ubtc_p2p_connections_denied_total', { direction: 'inbound' })
    try {
      let dialFailed = false
      try {
        await outsider.dial(multiaddr(g0.address), { signal: AbortSignal.timeout(5000) })
      } catch {
        dialFailed = true
      }
      // Either the dial fails, or the guardian closes the connection at once.
      if (!dialFailed) await waitFor('the guardian to drop the outsider', () => outsider.getConnections().length === 0, 5000)
      await waitFor('the denial to be counted', async () => (await metricValue(g0.registry, 'ubtc_p2p_connections_denied_total', { direction: 'inbound' })) > deniedBefore, 5000)
      expect(g0.network.connectedPeers()).not.toContain(outsiderId)
      expect(g0.network.connectedGuardians()).toBe(2)
      expect(await metricValue(g0.registry, 'ubtc_p2p_connections_denied_total')).toBeGreaterThanOrEqual(1)
    } finally {
      await outsider.stop()
    }
  })

  it('notices a guardian going away and reconnects by itself when it is back', async () => {
    await net.waitConnected(15_000)
    const g0 = guardian(net, 0)
    const failuresBefore = await metricValue(g0.registry, 'ubtc_p2p_dial_failures_total', { guardian: 'guardian-1' })
    await net.stopGuardian(1)
    await waitFor('guardian 0 to see guardian 1 disconnected', () => g0.network.peerStates().find((p) => p.guardian.name === 'guardian-1')?.connected === false)
    expect(g0.network.connectedGuardians()).toBe(1)
    // Guardian 0 keeps redialing (and failing) while guardian 1 is down.
    await waitFor(
      'guardian 0 to retry guardian 1',
      async () => (await metricValue(g0.registry, 'ubtc_p2p_dial_failures_total', { guardian: 'guardian-1' })) > failuresBefore,
    )

    await net.startGuardian(1)
    const g1 = guardian(net, 1)
    await waitFor('guardians 0 and 1 to reconnect', () => g0.network.connectedGuardians() === 2 && g1.network.connectedGuardians() === 2)
    await net.waitConnected(10_000)
  })

  it('reloads the heartbeats it stored when it restarts', async () => {
    await net.waitConnected(15_000)
    const g1 = guardian(net, 1)
    await waitFor('guardian 1 to hold heartbeats of both others', () => g1.network.peerStates().every((p) => p.lastHeartbeat !== undefined))
    await waitFor('guardian 1 to persist them', async () => (await g1.store.listHeartbeats()).length === 2)
    const stored = new Map((await g1.store.listHeartbeats()).map((hb) => [hb.guardian, hb]))

    await net.stopGuardian(1)
    const restartedAt = Date.now()
    const again = await net.startGuardian(1)
    // Straight after start, before any new heartbeat could arrive: the stored ones are back.
    const states = again.network.peerStates()
    for (const s of states) {
      expect(s.lastHeartbeat, s.guardian.name).toBeDefined()
      expect(s.lastHeartbeat!.receivedAt).toBeLessThanOrEqual(restartedAt)
      expect(s.lastHeartbeat!.timestampMs).toBeGreaterThanOrEqual(stored.get(s.guardian.name)!.timestampMs)
    }
    // Then fresh ones replace them.
    await waitFor('fresh heartbeats after the restart', () =>
      again.network.peerStates().every((p) => p.lastHeartbeat !== undefined && p.lastHeartbeat.receivedAt > restartedAt),
    )
  })
})

describe('GuardianNetwork: a genesis peer that misbehaves', () => {
  let net: InProcessNetwork

  beforeAll(async () => {
    // Guardian 3 exists in genesis but is not started: its libp2p key is used by a bare host.
    net = await InProcessNetwork.create({ guardians: 4, start: [0, 1, 2], heartbeatIntervalMs: 500 })
    await net.waitConnected(15_000)
  })
  afterAll(async () => {
    await net?.close()
  })

  it('rejects bad signatures and garbage, ignores replays, and scores the sender down', async () => {
    const keys = net.keys[3]!
    const info = net.genesis.guardians[3]!
    const topic = topicFor(net.genesis.hash, MessageKind.Heartbeat)
    const impostor = await bareNode(keys.p2pPrivateKey)
    bareNodes.push(impostor)
    impostor.services.pubsub.subscribe(topic)
    const running = [0, 1, 2].map((i) => guardian(net, i))
    for (const g of running) await impostor.dial(multiaddr(g.address), { signal: AbortSignal.timeout(5000) })
    await waitFor('the guardians to list guardian 3 as connected', () => running.every((g) => g.network.peerStates().find((p) => p.guardian.index === 3)?.connected === true))
    await waitFor('guardians and impostor to know each other’s subscriptions', () => {
      const subscribers = impostor.services.pubsub.getSubscribers(topic).map((p) => p.toString())
      return running.every((g) => subscribers.includes(g.network.peerId))
    })

    const heartbeat = (timestampMs: number, peerCount = 3): Heartbeat => ({ name: info.name, version: 'impostor', height: 0n, peerCount, timestampMs, peerId: info.peerId })
    const envelope = (hb: Heartbeat): Uint8Array =>
      encodeEnvelope(signEnvelope(net.genesis.hash, MessageKind.Heartbeat, net.genesis.guardianSetIndex, 3, encodeHeartbeat(hb), keys.votePrivateKey))
    const rejected = (g: InProcessGuardian, reason: string): Promise<number> => metricValue(g.registry, 'ubtc_gossip_messages_rejected_total', { topic: 'heartbeat', reason })
    const publish = async (data: Uint8Array): Promise<void> => {
      const result = await impostor.services.pubsub.publish(topic, data)
      expect(result.recipients).toHaveLength(3)
    }

    // A correctly signed heartbeat from guardian 3's keys is accepted by everyone.
    const ts = Date.now()
    const accepted = running.map(() => false)
    const offs = running.map((g, i) => g.network.onMessage((m) => {
      if (m.signer.index === 3 && m.message.kind === MessageKind.Heartbeat && m.message.heartbeat.timestampMs === ts) accepted[i] = true
    }))
    try {
      await publish(envelope(heartbeat(ts)))
      await waitFor('the valid heartbeat to be accepted', () => accepted.every(Boolean))
    } finally {
      for (const off of offs) off()
    }
    for (const g of running) expect(g.network.peerStates().find((p) => p.guardian.index === 3)?.lastHeartbeat?.timestampMs).toBe(ts)

    // The same timestamp again (other bytes, so not a gossip duplicate): a replay, dropped without blame.
    await publish(envelope(heartbeat(ts, 2)))
    await waitFor('the replay to be refused', async () => (await Promise.all(running.map((g) => rejected(g, 'replayed')))).every((n) => n >= 1))

    // A fresh heartbeat whose signature was tampered with.
    const signed = signEnvelope(net.genesis.hash, MessageKind.Heartbeat, net.genesis.guardianSetIndex, 3, encodeHeartbeat(heartbeat(Date.now() + 1)), keys.votePrivateKey)
    const signature = Uint8Array.from(signed.signature)
    signature[10]! ^= 0x01
    await publish(encodeEnvelope({ ...signed, signature }))
    await waitFor('every guardian to reject the bad signature', async () => (await Promise.all(running.map((g) => rejected(g, 'bad_signature')))).every((n) => n >= 1))

    // Bytes that are not an envelope at all.
    await publish(new Uint8Array([0xff, 0x00, 0x13, 0x37, 0xde, 0xad]))
    await waitFor('every guardian to reject the garbage', async () => (await Promise.all(running.map((g) => rejected(g, 'malformed')))).every((n) => n >= 1))

    // None of it was accepted as a newer heartbeat.
    for (const g of running) expect(g.network.peerStates().find((p) => p.guardian.index === 3)?.lastHeartbeat?.timestampMs).toBe(ts)

    // Invalid deliveries weigh on the sender's gossipsub score, as seen in /metrics.
    const g0 = running[0]!
    await waitFor('guardian 3’s score on guardian 0 to go negative', async () => (await metricValue(g0.registry, 'ubtc_gossip_peer_score', { guardian: 'guardian-3' })) < 0)
    expect(g0.network.peerScore(info.peerId)).toBeLessThan(0)
    // Honest guardians are not penalised.
    expect(await metricValue(g0.registry, 'ubtc_gossip_peer_score', { guardian: 'guardian-1' })).toBeGreaterThanOrEqual(0)
  })
})
