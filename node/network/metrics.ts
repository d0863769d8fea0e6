import { Counter, Gauge, type Registry } from 'prom-client'

/** What the network layer measures; the gauges are computed when /metrics is scraped. */
export interface NetworkMetricsSource {
  connectedGuardians(): number
  heartbeatAges(nowMs: number): Array<{ guardian: string; ageS: number }>
  peerScores(): Array<{ guardian: string; score: number }>
}

export class NetworkMetrics {
  readonly published: Counter<'topic'>
  readonly received: Counter<'topic'>
  readonly rejected: Counter<'topic' | 'reason'>
  readonly connectionsDenied: Counter<'direction'>
  readonly dialFailures: Counter<'guardian'>
  private source: NetworkMetricsSource | undefined

  constructor(registry: Registry) {
    const registers = [registry]
    this.published = new Counter({ name: 'ubtc_gossip_messages_published_total', help: 'Gossip messages this node published', labelNames: ['topic'], registers })
    this.received = new Counter({ name: 'ubtc_gossip_messages_received_total', help: 'Gossip messages received and accepted', labelNames: ['topic'], registers })
    this.rejected = new Counter({
      name: 'ubtc_gossip_messages_rejected_total',
      help: 'Gossip messages refused by the topic validators, by reason',
      labelNames: ['topic', 'reason'],
      registers,
    })
    this.connectionsDenied = new Counter({
      name: 'ubtc_p2p_connections_denied_total',
      help: 'Connections refused because the peer is not in genesis',
      labelNames: ['direction'],
      registers,
    })
    this.dialFailures = new Counter({ name: 'ubtc_p2p_dial_failures_total', help: 'Failed dials to guardian peers', labelNames: ['guardian'], registers })
    const source = (): NetworkMetricsSource | undefined => this.source
    new Gauge({
      name: 'ubtc_p2p_guardian_peers_connected',
      help: 'Guardian peers with an open connection',
      registers,
      collect() {
        this.set(source()?.connectedGuardians() ?? 0)
      },
    })
    new Gauge({
      name: 'ubtc_heartbeat_age_seconds',
      help: 'Seconds since the last accepted heartbeat of each guardian',
      labelNames: ['guardian'],
      registers,
      collect() {
        this.reset()
        for (const { guardian, ageS } of source()?.heartbeatAges(Date.now()) ?? []) this.set({ guardian }, ageS)
      },
    })
    new Gauge({
      name: 'ubtc_gossip_peer_score',
      help: 'gossipsub score of each connected guardian peer',
      labelNames: ['guardian'],
      registers,
      collect() {
        this.reset()
        for (const { guardian, score } of source()?.peerScores() ?? []) this.set({ guardian }, score)
      },
    })
  }

  bind(source: NetworkMetricsSource): void {
    this.source = source
  }
}
