import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PrivateKey, Stream, StreamHandler } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { createTopicScoreParams, type PeerScoreParams } from '@libp2p/gossipsub/score'
import type { Logger } from 'pino'
import {
  encodeEnvelope,
  encodeHeartbeat,
  MessageKind,
  signEnvelope,
  type Genesis,
  type GuardianInfo,
  type GuardianSet,
  type GossipKind,
  type Heartbeat,
  type SignedEnvelope,
} from '../../protocol/index.js'
import type { HeartbeatRecord, NodeStore } from '../store/index.js'
import { redialDelay } from './backoff.js'
import { NetworkError } from './errors.js'
import { guardianGater, type DenialDirection } from './gater.js'
import { GossipValidator, type GossipMessage, type GossipVerdict } from './gossip-validator.js'
import type { NetworkMetrics } from './metrics.js'
import { KIND_NAMES, topicsFor } from './topics.js'

export interface GuardianNetworkOptions {
  readonly genesis: Genesis
  readonly guardians: GuardianSet
  readonly self: GuardianInfo
  readonly votePrivateKey: Uint8Array
  readonly p2pPrivateKey: PrivateKey
  readonly listen: readonly string[]
  /** Multiaddrs ending in /p2p/<peer id> of the other guardians. */
  readonly peers: readonly string[]
  readonly heartbeatIntervalMs: number
  readonly redialMinMs: number
  readonly redialMaxMs: number
  readonly version: string
  readonly store: NodeStore
  readonly metrics: NetworkMetrics
  readonly logger: Logger
  /** Current committed height, carried in heartbeats. */
  readonly height: () => bigint
}

/** A gossip message that passed validation. */
export interface AcceptedMessage {
  readonly envelope: SignedEnvelope
  readonly signer: GuardianInfo
  readonly message: GossipMessage
  /** The peer that relayed it to us (not necessarily the signer). */
  readonly from: string
}

export type MessageListener = (message: AcceptedMessage) => void

/** What a topic handler decides about a message: relay it, drop it and blame the relaying peer, or drop it without blame. */
export type TopicVerdict = 'accept' | 'reject' | 'ignore'

/**
 * Validates (and consumes) the messages of a topic whose payloads are not guardian envelopes,
 * such as the oracles'. Called before gossipsub relays a message; `from` is the relaying peer.
 */
export type TopicHandler = (data: Uint8Array, from: string) => TopicVerdict

/** What this node knows of one guardian peer. */
export interface GuardianPeerState {
  readonly guardian: GuardianInfo
  readonly connected: boolean
  readonly lastHeartbeat: HeartbeatRecord | undefined
}

/** The gossipsub implementation also exposes peer scores, which its public interface omits. */
type ScoredGossipSub = GossipSub & { getScore(peerId: string): number }
type Services = { pubsub: ScoredGossipSub; identify: Identify; ping: Ping }

interface RedialState {
  readonly guardian: GuardianInfo
  readonly address: string
  failures: number
  timer: NodeJS.Timeout | undefined
}

/**
 * The guardian's libp2p host: TCP + noise + yamux, gossipsub with unsigned transport
 * messages (every payload carries its own guardian signature) and content-hash message ids,
 * a gater that admits only genesis peers, signed heartbeats, and redial with backoff.
 */
export class GuardianNetwork {
  private node: Libp2p<Services> | undefined
  private readonly validator: GossipValidator
  private readonly topics: Map<string, GossipKind>
  private readonly heartbeats = new Map<number, HeartbeatRecord>()
  private readonly redials = new Map<string, RedialState>()
  private readonly allowedPeers: Set<string>
  private readonly deniedLogged = new Map<string, number>()
  private readonly peerIds = new Map<string, PeerId>()
  private readonly listeners = new Set<MessageListener>()
  private readonly extraTopics = new Map<string, TopicHandler>()
  private heartbeatTimer: NodeJS.Timeout | undefined
  private stopping = false
  private readonly abort = new AbortController()

  constructor(private readonly opts: GuardianNetworkOptions) {
    this.validator = new GossipValidator({ networkId: opts.genesis.hash, guardians: opts.guardians })
    this.topics = topicsFor(opts.genesis.hash)
    this.allowedPeers = new Set([...opts.guardians.guardians.map((g) => g.peerId), ...opts.genesis.oracles.map((o) => o.peerId)])
    for (const address of opts.peers) {
      const peerId = multiaddr(address).getComponents().findLast((c) => c.name === 'p2p')?.value
      const guardian = peerId === undefined ? undefined : opts.guardians.byPeer(peerId)
      if (guardian === undefined) throw new NetworkError('bad_peer_address', `p2p: peer ${address} is not a guardian in genesis`)
      if (guardian.index === opts.self.index) continue
      this.redials.set(guardian.peerId, { guardian, address, failures: 0, timer: undefined })
    }
    opts.metrics.bind({
      connectedGuardians: () => this.connectedGuardians(),
      heartbeatAges: (now) => [...this.heartbeats.values()].map((hb) => ({ guardian: hb.guardian, ageS: (now - hb.receivedAt) / 1000 })),
      peerScores: () =>
        this.peerStates()
          .filter((p) => p.connected)
          .map((p) => ({ guardian: p.guardian.name, score: this.peerScore(p.guardian.peerId) })),
    })
  }

  get peerId(): string {
    return this.opts.self.peerId
  }

  get multiaddrs(): string[] {
    return this.node?.getMultiaddrs().map((ma) => ma.toString()) ?? []
  }

  async start(): Promise<void> {
    const { opts } = this
    for (const hb of await opts.store.listHeartbeats()) {
      const guardian = opts.guardians.named(hb.guardian)
      if (guardian === undefined) continue
      this.heartbeats.set(guardian.index, hb)
      this.validator.remember(guardian.index, hb.timestampMs)
    }
    try {
      this.node = await createLibp2p({
        privateKey: opts.p2pPrivateKey,
        addresses: { listen: [...opts.listen] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: guardianGater(this.allowedPeers, (peerId, direction) => this.onDenied(peerId, direction)),
        services: {
          identify: identify(),
          ping: ping(),
          pubsub: scoredGossipsub({
            globalSignaturePolicy: 'StrictNoSign',
            // Content-addressed ids: the same envelope relayed twice is one message.
            msgIdFn: (msg) => sha256(msg.data),
            fastMsgIdFn: (msg) => (msg.data === undefined ? '' : bytesToHex(sha256(msg.data))),
            emitSelf: false,
            allowPublishToZeroTopicPeers: true,
            ignoreDuplicatePublishError: true,
            scoreParams: scoreParamsFor([...this.topics.keys(), ...this.extraTopics.keys()]),
            scoreThresholds: { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80, acceptPXThreshold: 100, opportunisticGraftThreshold: 5 },
          }),
        },
      })
    } catch (err) {
      // libp2p's message embeds each failed listener's stack trace: keep only the reason.
      const message = (err as Error).message
      const reason = message.includes('EADDRINUSE') ? 'address already in use' : message.split('\n').filter((line) => !/^\s+at /.test(line)).join('\n').trim()
      throw new NetworkError('listen_failed', `p2p: cannot listen on ${opts.listen.join(', ')}: ${reason}`, { cause: err })
    }
    const node = this.node
    const pubsub = node.services.pubsub
    for (const [topic, kind] of this.topics) {
      pubsub.topicValidators.set(topic, (from, msg) => this.onGossip(kind, from, msg.data))
      pubsub.subscribe(topic)
    }
    for (const [topic, handler] of this.extraTopics) {
      pubsub.topicValidators.set(topic, (from, msg) => this.onExtraGossip(topic, handler, from, msg.data))
      pubsub.subscribe(topic)
    }
    node.addEventListener('peer:connect', (evt) => this.onConnect(evt.detail))
    node.addEventListener('peer:disconnect', (evt) => this.onDisconnect(evt.detail))
    for (const state of this.redials.values()) this.scheduleDial(state, 0)
    this.heartbeatTimer = setInterval(() => void this.publishHeartbeat(), opts.heartbeatIntervalMs)
    opts.logger.info({ peerId: this.peerId, listen: this.multiaddrs }, 'p2p started')
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.abort.abort()
    clearInterval(this.heartbeatTimer)
    for (const state of this.redials.values()) clearTimeout(state.timer)
    await this.node?.stop()
  }

  connectedGuardians(): number {
    return this.peerStates().filter((p) => p.connected).length
  }

  /** Peer ids of every open connection (guardians and oracles: the gater admits no one else). */
  connectedPeers(): string[] {
    return [...new Set(this.node?.getConnections().map((c) => c.remotePeer.toString()) ?? [])]
  }

  /** gossipsub's score of a peer; invalid messages drive it below zero. */
  peerScore(peerId: string): number {
    return this.node?.services.pubsub.getScore(peerId) ?? 0
  }

  /** Serves a request-response protocol (scoped to this network by the caller). */
  async serve(protocol: string, handler: StreamHandler): Promise<void> {
    if (this.node === undefined) throw new NetworkError('not_started', 'p2p: not started')
    await this.node.handle(protocol, handler)
  }

  /** Opens a stream of `protocol` to a connected guardian. */
  async openStream(peerId: string, protocol: string, signal: AbortSignal): Promise<Stream> {
    if (this.node === undefined) throw new NetworkError('not_started', 'p2p: not started')
    return this.node.dialProtocol(this.peerIdOf(peerId), protocol, { signal })
  }

  /** Every other guardian of the set, connected or not. */
  peerStates(): GuardianPeerState[] {
    return this.opts.guardians.guardians
      .filter((g) => g.index !== this.opts.self.index)
      .map((guardian) => ({
        guardian,
        connected: (this.node?.getConnections(this.peerIdOf(guardian.peerId)).length ?? 0) > 0,
        lastHeartbeat: this.heartbeats.get(guardian.index),
      }))
  }

  /** Subscribes to `topic` at start, with `handler` as its validator. Call before start(). */
  handleTopic(topic: string, handler: TopicHandler): void {
    if (this.node !== undefined) throw new NetworkError('already_started', `p2p: topic ${topic} must be handled before start`)
    if (this.extraTopics.has(topic) || this.topics.has(topic)) throw new RangeError(`topic ${topic} is already handled`)
    this.extraTopics.set(topic, handler)
  }

  /** Calls `listener` with every accepted gossip message; returns the unsubscribe function. */
  onMessage(listener: MessageListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Signs and gossips a heartbeat now. */
  async publishHeartbeat(): Promise<void> {
    const node = this.node
    if (node === undefined || this.stopping) return
    const heartbeat: Heartbeat = {
      name: this.opts.self.name,
      version: this.opts.version,
      height: this.opts.height(),
      peerCount: this.connectedGuardians(),
      timestampMs: Date.now(),
      peerId: this.peerId,
    }
    await this.broadcast(MessageKind.Heartbeat, encodeHeartbeat(heartbeat))
  }

  /** Signs `payload` as this guardian and gossips it on the topic of `kind`. */
  async broadcast(kind: GossipKind, payload: Uint8Array): Promise<void> {
    const { genesis, self, votePrivateKey } = this.opts
    await this.broadcastRaw(kind, encodeEnvelope(signEnvelope(genesis.hash, kind, genesis.guardianSetIndex, self.index, payload, votePrivateKey)))
  }

  /** Gossips an already signed envelope (e.g. a transaction, or a vote signed through the double-sign guard). */
  async broadcastRaw(kind: GossipKind, envelope: Uint8Array): Promise<void> {
    const topic = this.topicOf(kind)
    try {
      await this.node?.services.pubsub.publish(topic, envelope)
      this.opts.metrics.published.inc({ topic: KIND_NAMES[kind] })
    } catch (err) {
      if (!this.stopping) this.opts.logger.warn({ err, topic: KIND_NAMES[kind] }, 'gossip publish failed')
    }
  }

  private onGossip(kind: GossipKind, from: PeerId, data: Uint8Array): TopicValidatorResult {
    const topic = KIND_NAMES[kind]
    let verdict: GossipVerdict
    try {
      verdict = this.validator.validate(kind, data, Date.now())
    } catch (err) {
      // A bug of ours, not the peer's fault: drop without penalty, keep running.
      this.opts.logger.error({ err, from: from.toString(), topic }, 'gossip validation failed unexpectedly')
      return TopicValidatorResult.Ignore
    }
    if (!verdict.accepted) {
      this.opts.metrics.rejected.inc({ topic, reason: verdict.reason })
      this.opts.logger.warn(
        { from: from.toString(), fromGuardian: this.opts.guardians.byPeer(from.toString())?.name, signer: verdict.signer?.name, topic, reason: verdict.reason, detail: verdict.detail },
        'gossip message rejected',
      )
      return verdict.action === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
    this.opts.metrics.received.inc({ topic })
    if (verdict.message.kind === MessageKind.Heartbeat) this.recordHeartbeat(verdict.signer, verdict.message.heartbeat)
    const accepted: AcceptedMessage = { envelope: verdict.envelope, signer: verdict.signer, message: verdict.message, from: from.toString() }
    for (const listener of this.listeners) {
      try {
        listener(accepted)
      } catch (err) {
        this.opts.logger.error({ err }, 'gossip message listener failed')
      }
    }
    return TopicValidatorResult.Accept
  }

  private onExtraGossip(topic: string, handler: TopicHandler, from: PeerId, data: Uint8Array): TopicValidatorResult {
    let verdict: TopicVerdict
    try {
      verdict = handler(data, from.toString())
    } catch (err) {
      this.opts.logger.error({ err, from: from.toString(), topic }, 'gossip validation failed unexpectedly')
      return TopicValidatorResult.Ignore
    }
    return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
  }

  private recordHeartbeat(signer: GuardianInfo, heartbeat: Heartbeat): void {
    const record: HeartbeatRecord = {
      guardian: signer.name,
      peerId: heartbeat.peerId,
      version: heartbeat.version,
      height: heartbeat.height.toString(),
      peerCount: heartbeat.peerCount,
      timestampMs: heartbeat.timestampMs,
      receivedAt: Date.now(),
    }
    this.heartbeats.set(signer.index, record)
    this.opts.store.putHeartbeat(record).catch((err: unknown) => this.opts.logger.error({ err }, 'cannot persist heartbeat'))
  }

  private onConnect(peerId: PeerId): void {
    const guardian = this.opts.guardians.byPeer(peerId.toString())
    if (guardian === undefined) return
    const state = this.redials.get(guardian.peerId)
    if (state !== undefined) {
      state.failures = 0
      clearTimeout(state.timer)
      state.timer = undefined
    }
    this.opts.logger.info({ guardian: guardian.name, peerId: guardian.peerId }, 'guardian connected')
    void this.recordPeer(guardian, { lastConnectedAt: Date.now() })
  }

  private onDisconnect(peerId: PeerId): void {
    const guardian = this.opts.guardians.byPeer(peerId.toString())
    if (guardian === undefined || this.stopping) return
    this.opts.logger.warn({ guardian: guardian.name, peerId: guardian.peerId }, 'guardian disconnected')
    void this.recordPeer(guardian, { lastDisconnectedAt: Date.now() })
    const state = this.redials.get(guardian.peerId)
    if (state !== undefined) this.scheduleDial(state, redialDelay(0, this.opts.redialMinMs, this.opts.redialMaxMs, Math.random()))
  }

  private scheduleDial(state: RedialState, delayMs: number): void {
    if (this.stopping || state.timer !== undefined) return
    state.timer = setTimeout(() => {
      state.timer = undefined
      void this.dial(state)
    }, delayMs)
  }

  private async dial(state: RedialState): Promise<void> {
    const node = this.node
    if (node === undefined || this.stopping) return
    if (node.getConnections(this.peerIdOf(state.guardian.peerId)).length > 0) return
    try {
      await node.dial(multiaddr(state.address), { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(10_000)]) })
    } catch (err) {
      if (this.stopping) return
      state.failures++
      this.opts.metrics.dialFailures.inc({ guardian: state.guardian.name })
      const delay = redialDelay(state.failures, this.opts.redialMinMs, this.opts.redialMaxMs, Math.random())
      this.opts.logger.debug({ guardian: state.guardian.name, failures: state.failures, retryInMs: delay, reason: (err as Error).message }, 'dial failed')
      this.scheduleDial(state, delay)
    }
  }

  private topicOf(kind: GossipKind): string {
    for (const [topic, k] of this.topics) if (k === kind) return topic
    throw new RangeError(`no topic for message kind ${kind}`)
  }

  /** getConnections() takes a PeerId object; parse each guardian's id once. */
  private peerIdOf(id: string): PeerId {
    let peerId = this.peerIds.get(id)
    if (peerId === undefined) this.peerIds.set(id, (peerId = peerIdFromString(id)))
    return peerId
  }

  private onDenied(peerId: PeerId, direction: DenialDirection): void {
    this.opts.metrics.connectionsDenied.inc({ direction })
    // One log line per peer a minute: a peer hammering us must not flood the log.
    const key = peerId.toString()
    const now = Date.now()
    if ((this.deniedLogged.get(key) ?? 0) > now - 60_000) return
    if (this.deniedLogged.size > 1000) this.deniedLogged.clear()
    this.deniedLogged.set(key, now)
    this.opts.logger.warn({ peerId: key, direction }, 'refused connection: peer is not in genesis')
  }

  private async recordPeer(guardian: GuardianInfo, change: { lastConnectedAt?: number; lastDisconnectedAt?: number }): Promise<void> {
    try {
      const previous = await this.opts.store.getPeer(guardian.peerId)
      await this.opts.store.putPeer({
        peerId: guardian.peerId,
        guardian: guardian.name,
        firstSeenAt: previous?.firstSeenAt ?? Date.now(),
        lastConnectedAt: change.lastConnectedAt ?? previous?.lastConnectedAt ?? null,
        lastDisconnectedAt: change.lastDisconnectedAt ?? previous?.lastDisconnectedAt ?? null,
      })
    } catch (err) {
      if (!this.stopping) this.opts.logger.error({ err }, 'cannot persist peer record')
    }
  }
}

/**
 * Score only what proves misbehaviour: invalid messages (P4) weigh heavily; quiet honest
 * guardians are never penalised for low delivery rates on a small mesh.
 */
function scoreParamsFor(topics: string[]): Partial<PeerScoreParams> {
  const topicParams = createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 100,
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 20,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -20,
    invalidMessageDeliveriesDecay: 0.99,
  })
  return {
    topics: Object.fromEntries(topics.map((t) => [t, topicParams])),
    appSpecificScore: () => 0,
    IPColocationFactorWeight: 0,
    behaviourPenaltyWeight: -1,
  }
}

function scoredGossipsub(init: Parameters<typeof gossipsub>[0]): (components: Parameters<ReturnType<typeof gossipsub>>[0]) => ScoredGossipSub {
  return gossipsub(init) as (components: Parameters<ReturnType<typeof gossipsub>>[0]) => ScoredGossipSub
}
