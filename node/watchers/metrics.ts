import { Counter, Gauge, type Registry } from 'prom-client'

export class WatcherMetrics {
  readonly head: Gauge<'chain'>
  readonly cursor: Gauge<'chain'>
  readonly lag: Gauge<'chain'>
  readonly payments: Counter<'chain'>
  readonly rpcErrors: Counter<'chain'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.head = new Gauge({ name: 'ubtc_chain_head_height', help: 'Chain head as last seen by the watcher', labelNames: ['chain'], registers })
    this.cursor = new Gauge({ name: 'ubtc_chain_cursor_height', help: 'Last block scanned at confirmation depth', labelNames: ['chain'], registers })
    this.lag = new Gauge({ name: 'ubtc_chain_lag_blocks', help: 'Blocks between the head and the scanned cursor', labelNames: ['chain'], registers })
    this.payments = new Counter({ name: 'ubtc_chain_payments_total', help: 'Confirmed payments seen', labelNames: ['chain'], registers })
    this.rpcErrors = new Counter({ name: 'ubtc_chain_rpc_errors_total', help: 'Failed chain RPC polls', labelNames: ['chain'], registers })
  }
}
