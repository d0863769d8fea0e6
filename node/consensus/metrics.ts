import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export class ConsensusMetrics {
  readonly height: Gauge
  readonly round: Gauge
  readonly commits: Counter
  readonly committedTxs: Counter
  readonly commitLatency: Histogram
  readonly evidence: Counter<'type'>
  readonly signingRefused: Counter
  readonly mempoolSize: Gauge
  readonly txsRejected: Counter<'code'>
  readonly syncedBlocks: Counter
  readonly syncFailures: Counter

  constructor(registry: Registry) {
    const registers = [registry]
    this.height = new Gauge({ name: 'ubtc_consensus_height', help: 'Last committed height', registers })
    this.round = new Gauge({ name: 'ubtc_consensus_round', help: 'Current round of the height being decided', registers })
    this.commits = new Counter({ name: 'ubtc_consensus_commits_total', help: 'Blocks committed by consensus (not sync)', registers })
    this.committedTxs = new Counter({ name: 'ubtc_consensus_committed_txs_total', help: 'Transactions in committed blocks', registers })
    this.commitLatency = new Histogram({
      name: 'ubtc_consensus_commit_latency_seconds',
      help: 'From the start of a height to its decision',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    this.evidence = new Counter({ name: 'ubtc_consensus_evidence_total', help: 'Equivocations detected', labelNames: ['type'], registers })
    this.signingRefused = new Counter({ name: 'ubtc_consensus_signing_refused_total', help: 'Signatures refused by the double-sign guard', registers })
    this.mempoolSize = new Gauge({ name: 'ubtc_mempool_size', help: 'Transactions waiting for a block', registers })
    this.txsRejected = new Counter({ name: 'ubtc_mempool_rejected_total', help: 'Transactions refused by checkTx', labelNames: ['code'], registers })
    this.syncedBlocks = new Counter({ name: 'ubtc_sync_blocks_total', help: 'Blocks applied through block sync', registers })
    this.syncFailures = new Counter({ name: 'ubtc_sync_failures_total', help: 'Failed block sync attempts', registers })
  }
}
