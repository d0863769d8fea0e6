import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { oraclePublicInfo, publicInfo } from '../keystore/index.js'
import { OraclePublishError, publishOracleMessage, type OraclePublishErrorCode } from './index.js'
import { addressOf, guardianHost, oracleTestnet, type GuardianHost as Guardian } from './test-helpers/guardian-hosts.js'

interface Received {
  readonly data: Uint8Array
  readonly topic: string
  readonly from: string
}

/** The next message `host` receives on `topic`, with the peer that sent it. */
function nextMessage(host: Guardian, topic: string): Promise<Received> {
  return new Promise((resolve) => {
    const onMessage = (evt: CustomEvent<{ propagationSource: { toString(): string }; msg: { topic: string; data: Uint8Array } }>): void => {
      if (evt.detail.msg.topic !== topic) return
      host.services.pubsub.removeEventListener('gossipsub:message', onMessage)
      resolve({ data: evt.detail.msg.data, topic: evt.detail.msg.topic, from: evt.detail.propagationSource.toString() })
    }
    host.services.pubsub.addEventListener('gossipsub:message', onMessage)
  })
}

async function publishError(promise: Promise<unknown>, code: OraclePublishErrorCode): Promise<OraclePublishError> {
  const err: unknown = await promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(OraclePublishError)
  expect((err as OraclePublishError).code).toBe(code)
  return err as OraclePublishError
}

describe('publishOracleMessage', async () => {
  // Keys and genesis are made while the suite is collected; the hosts start in beforeAll.
  const { guardians: guardianKeys, oracle, genesis, topic } = await oracleTestnet('ubtc-publisher-test', 3)
  /** guardian-0: subscribed to the oracle topic from the start. */
  let subscribed: Guardian
  /** guardian-1: subscribes only once the oracle has connected. */
  let late: Guardian
  /** guardian-2: never subscribes. */
  let silent: Guardian
  const hosts: Guardian[] = []

  beforeAll(async () => {
    hosts.push(...(await Promise.all(guardianKeys.map((k) => guardianHost(k.p2pPrivateKey)))))
    ;[subscribed, late, silent] = hosts as [Guardian, Guardian, Guardian]
    subscribed.services.pubsub.subscribe(topic)
  })

  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()))
  })

  it('delivers the bytes, from the oracle peer id, to the subscribed guardian, and stops', async () => {
    const data = new TextEncoder().encode(`announcement ${Date.now()}`)
    const arrival = nextMessage(subscribed, topic)
    const result = await publishOracleMessage({ genesis, p2pPrivateKey: oracle.p2pPrivateKey, peers: [addressOf(subscribed)], data, timeoutMs: 10_000 })
    expect(result).toEqual({ topic, recipients: 1, guardians: ['guardian-0'] })
    const received = await arrival
    expect(bytesToHex(received.data)).toBe(bytesToHex(data))
    expect(received.from).toBe(oraclePublicInfo(oracle).peerId)
    // The publisher's host is gone once the call returns.
    const oraclePeer = oraclePublicInfo(oracle).peerId
    await expect.poll(() => subscribed.getConnections().filter((c) => c.remotePeer.toString() === oraclePeer).length).toBe(0)
  })

  it('waits for a guardian that subscribes after the connection, and skips those that never do', async () => {
    const oraclePeer = oraclePublicInfo(oracle).peerId
    const onConnect = (evt: CustomEvent<{ toString(): string }>): void => {
      if (evt.detail.toString() !== oraclePeer) return
      late.removeEventListener('peer:connect', onConnect)
      late.services.pubsub.subscribe(topic)
    }
    late.addEventListener('peer:connect', onConnect)
    const data = new TextEncoder().encode(`attestation ${Date.now()}`)
    const arrival = nextMessage(late, topic)
    const result = await publishOracleMessage({ genesis, p2pPrivateKey: oracle.p2pPrivateKey, peers: [addressOf(silent), addressOf(late)], data, timeoutMs: 10_000 })
    expect(result.guardians).toEqual(['guardian-1'])
    expect(bytesToHex((await arrival).data)).toBe(bytesToHex(data))
  })

  it('sends to every connected guardian that is subscribed', async () => {
    late.services.pubsub.subscribe(topic) // idempotent: the previous test may have done it
    const data = new TextEncoder().encode(`to both ${Date.now()}`)
    const arrivals = [nextMessage(subscribed, topic), nextMessage(late, topic)]
    const result = await publishOracleMessage({ genesis, p2pPrivateKey: oracle.p2pPrivateKey, peers: [addressOf(subscribed), addressOf(late)], data, timeoutMs: 10_000 })
    expect(result.recipients).toBe(2)
    expect([...result.guardians].sort()).toEqual(['guardian-0', 'guardian-1'])
    for (const received of await Promise.all(arrivals)) expect(bytesToHex(received.data)).toBe(bytesToHex(data))
  })

  it('fails with no_subscribers when no guardian subscribes in time, naming the connected ones', async () => {
    const err = await publishError(publishOracleMessage({ genesis, p2pPrivateKey: oracle.p2pPrivateKey, peers: [addressOf(silent)], data: new Uint8Array([1]), timeoutMs: 1500 }), 'no_subscribers')
    expect(err.message).toContain(topic)
    expect(err.message).toContain('connected to guardian-2')
  })

  it('fails with unreachable when no guardian answers', async () => {
    // Port 1 on loopback: nothing listens there, the dial is refused at once.
    const address = `/ip4/127.0.0.1/tcp/1/p2p/${publicInfo(guardianKeys[0]!).peerId}`
    const err = await publishError(publishOracleMessage({ genesis, p2pPrivateKey: oracle.p2pPrivateKey, peers: [address], data: new Uint8Array([1]), timeoutMs: 5000 }), 'unreachable')
    expect(err.message).toContain('no guardian reachable (guardian-0:')
    expect(err.message).toContain(oraclePublicInfo(oracle).peerId)
  })

  it('refuses addresses that are not genesis guardians before dialing', async () => {
    const send = (peers: string[]): Promise<unknown> => publishOracleMessage({ genesis, p2pPrivateKey: oracle.p2pPrivateKey, peers, data: new Uint8Array([1]) })
    expect((await publishError(send([]), 'bad_peer_address')).message).toContain('no guardian address')
    expect((await publishError(send(['/ip4/127.0.0.1/tcp/1']), 'bad_peer_address')).message).toContain('/p2p/<guardian peer id>')
    expect((await publishError(send([`/ip4/127.0.0.1/tcp/1/p2p/${oraclePublicInfo(oracle).peerId}`]), 'bad_peer_address')).message).toContain('is not a guardian of genesis ubtc-publisher-test')
    expect((await publishError(send(['not a multiaddr']), 'bad_peer_address')).message).toContain('not a multiaddr')
  })

  it('stops at once when the caller aborts', async () => {
    const err = await publishError(
      publishOracleMessage({ genesis, p2pPrivateKey: oracle.p2pPrivateKey, peers: [addressOf(silent)], data: new Uint8Array([1]), signal: AbortSignal.abort(), timeoutMs: 60_000 }),
      'aborted',
    )
    expect(err.message).toContain('aborted')
  })
})
