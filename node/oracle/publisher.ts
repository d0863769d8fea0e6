import { setMaxListeners } from 'node:events'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CodedError, type Genesis, type GuardianInfo } from '../../protocol/index.js'
import { oracleTopic } from '../network/index.js'

/**
 * The oracle's side of the network: a short-lived libp2p host that dials guardians, waits until
 * one of them is subscribed to the oracle topic, publishes one message and stops. Its stack is
 * the guardians' (TCP, noise, yamux, identify, gossipsub with unsigned transport messages and
 * content-hash ids — the payload carries the oracle's own BIP-340 signature) and its identity is
 * the oracle's p2p key, which the guardians' gater admits because genesis.oracles lists it.
 * Guardians validate the message before relaying it to the others.
 */

export type OraclePublishErrorCode =
  /** A --peer address is not a multiaddr ending in /p2p/<peer id of a genesis guardian>. */
  | 'bad_peer_address'
  /** No guardian could be dialed. */
  | 'unreachable'
  /** Connected, but no guardian subscribed to the oracle topic in time. */
  | 'no_subscribers'
  /** The caller's signal aborted the publication. */
  | 'aborted'
  /** gossipsub sent the message to nobody. */
  | 'publish_failed'

export class OraclePublishError extends CodedError<OraclePublishErrorCode> {}

export interface PublishOracleMessageOptions {
  readonly genesis: Genesis
  /** The oracle's libp2p key (its peer id must be in genesis.oracles). */
  readonly p2pPrivateKey: PrivateKey
  /** Guardian multiaddrs, each ending in /p2p/<guardian peer id>. */
  readonly peers: readonly string[]
  /** The message: the dlcspecs bytes of an announcement or attestation. */
  readonly data: Uint8Array
  /** Longest wait for a connection and a subscribed guardian (default 30 s). */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

export interface PublishOracleMessageResult {
  readonly topic: string
  /** Number of guardians the message was sent to directly (they relay it to the others). */
  readonly recipients: number
  /** Their genesis names. */
  readonly guardians: readonly string[]
}

const DEFAULT_TIMEOUT_MS = 30_000

/**
 * gossipsub only sends on an outbound stream, which it opens on its own schedule after a
 * connection; a peer's subscription can arrive first. The class exposes its streams (the
 * interface does not): a message is published only once a subscribed guardian has one, since a
 * message sent to nobody is in the seen-cache and would not be sent again.
 */
type PublisherPubsub = GossipSub & { readonly streamsOutbound?: ReadonlyMap<string, unknown> }
type PublisherNode = Libp2p<{ identify: Identify; pubsub: PublisherPubsub }>

/** A --peer address checked against genesis: the guardian it reaches. */
export interface GuardianPeer {
  readonly address: Multiaddr
  readonly guardian: GuardianInfo
}

/** Publishes `data` on the oracle topic of `genesis` through the guardians at `peers`. */
export async function publishOracleMessage(opts: PublishOracleMessageOptions): Promise<PublishOracleMessageResult> {
  const targets = parseGuardianPeers(opts.genesis, opts.peers)
  const topic = oracleTopic(opts.genesis.hash)
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const signal = opts.signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)])
  // Each dial listens on it too.
  setMaxListeners(Infinity, signal)
  const guardianByPeer = new Map(opts.genesis.guardians.map((g) => [g.peerId, g]))

  const node = await gossipHost(opts.p2pPrivateKey)
  try {
    const pubsub = node.services.pubsub
    const connected = (id: string): boolean => node.getConnections().some((c) => c.remotePeer.toString() === id)
    const dials = await Promise.allSettled(targets.map((t) => node.dial(t.address, { signal })))
    checkAborted(opts.signal)
    const failures = dials.flatMap((d, i) => (d.status === 'rejected' ? [`${targets[i]!.guardian.name}: ${reason(d.reason)}`] : []))
    if (failures.length === targets.length) {
      throw new OraclePublishError(
        'unreachable',
        `no guardian reachable (${failures.join('; ')}); guardians refuse peers that are not in their genesis: is this oracle's peer id ${node.peerId.toString()} in genesis.oracles?`,
      )
    }

    try {
      // gossipsub keeps the subscriptions it learned during the dials: none is missed by starting now.
      await waitForGuardians(pubsub, topic, targets, connected, signal)
    } catch {
      checkAborted(opts.signal)
      const names = targets.filter((t) => connected(t.guardian.peerId)).map((t) => t.guardian.name)
      throw new OraclePublishError(
        'no_subscribers',
        `no guardian subscribed to the oracle topic ${topic} within ${timeoutMs} ms (connected to ${names.length === 0 ? 'none' : names.join(', ')}): do the guardians run this genesis and a version that relays oracle messages?`,
      )
    }

    let sentTo: string[]
    try {
      sentTo = (await pubsub.publish(topic, opts.data)).recipients.map((peer) => peer.toString())
    } catch (err) {
      throw new OraclePublishError('publish_failed', `publishing on ${topic} failed: ${reason(err)}`, { cause: err })
    }
    const guardians = sentTo.flatMap((id) => guardianByPeer.get(id)?.name ?? [])
    if (guardians.length === 0) throw new OraclePublishError('publish_failed', `the message on ${topic} reached no guardian`)
    return { topic, recipients: guardians.length, guardians }
  } finally {
    // A graceful stop: the streams are closed after their queued writes, so the message leaves.
    await node.stop()
  }
}

/**
 * A libp2p host with the guardians' stack (TCP, noise, yamux, identify) and gossipsub as they run
 * it: they refuse signed transport messages and dedup by content. Listens on `listen` (default:
 * nowhere, as the publisher).
 */
export function gossipHost(privateKey: PrivateKey, listen?: readonly string[]): Promise<PublisherNode> {
  return createLibp2p({
    privateKey,
    ...(listen === undefined ? {} : { addresses: { listen: [...listen] } }),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: (msg) => sha256(msg.data),
        fastMsgIdFn: (msg) => (msg.data === undefined ? '' : bytesToHex(sha256(msg.data))),
        emitSelf: false,
        allowPublishToZeroTopicPeers: false,
      }),
    },
  })
}

/** Each address must be a multiaddr ending in /p2p/<peer id of a guardian of `genesis`> ('bad_peer_address'). */
export function parseGuardianPeers(genesis: Genesis, peers: readonly string[]): GuardianPeer[] {
  if (peers.length === 0) throw new OraclePublishError('bad_peer_address', 'no guardian address given')
  return peers.map((text) => {
    let address: Multiaddr
    try {
      address = multiaddr(text)
    } catch (err) {
      throw new OraclePublishError('bad_peer_address', `peer ${text} is not a multiaddr: ${reason(err)}`)
    }
    const peerId = address.getComponents().findLast((c) => c.name === 'p2p')?.value
    if (peerId === undefined) throw new OraclePublishError('bad_peer_address', `peer ${text} does not end in /p2p/<guardian peer id>`)
    const guardian = genesis.guardians.find((g) => g.peerId === peerId)
    if (guardian === undefined) throw new OraclePublishError('bad_peer_address', `peer ${text} is not a guardian of genesis ${genesis.network}`)
    return { address, guardian }
  })
}

/**
 * Resolves once a guardian can receive on `topic` (subscribed, with an outbound stream): at once
 * when every connected target can, else at the next gossipsub heartbeat after the first one can —
 * each direct recipient is one more guardian that must drop the message for it to be lost.
 * Re-checks whenever gossipsub learns a subscription or runs its heartbeat (which is also when
 * it retries opening streams); rejects when `signal` aborts.
 */
function waitForGuardians(pubsub: PublisherPubsub, topic: string, targets: readonly GuardianPeer[], connected: (peerId: string) => boolean, signal: AbortSignal): Promise<void> {
  const canReceive = (peerId: string): boolean =>
    pubsub.getSubscribers(topic).some((p) => p.toString() === peerId) && (pubsub.streamsOutbound === undefined || pubsub.streamsOutbound.has(peerId))
  return new Promise<void>((resolve, reject) => {
    let someReady = false
    const check = (heartbeat: boolean): void => {
      const live = targets.filter((t) => connected(t.guardian.peerId))
      const ready = live.filter((t) => canReceive(t.guardian.peerId))
      if (ready.length === 0) return
      if (ready.length < live.length && !(heartbeat && someReady)) {
        someReady = true
        return
      }
      cleanup()
      resolve()
    }
    const onSubscription = (): void => check(false)
    const onHeartbeat = (): void => check(true)
    const abort = (): void => {
      cleanup()
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    }
    const cleanup = (): void => {
      pubsub.removeEventListener('subscription-change', onSubscription)
      pubsub.removeEventListener('gossipsub:heartbeat', onHeartbeat)
      signal.removeEventListener('abort', abort)
    }
    if (signal.aborted) return abort()
    pubsub.addEventListener('subscription-change', onSubscription)
    pubsub.addEventListener('gossipsub:heartbeat', onHeartbeat)
    signal.addEventListener('abort', abort)
    check(false)
  })
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new OraclePublishError('aborted', 'publication aborted')
}

function reason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(reason).join(', ')
  return err instanceof Error ? err.message : String(err)
}
