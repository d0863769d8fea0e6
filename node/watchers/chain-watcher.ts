import type { Logger } from 'pino'
import type { ChainAdapter, ChainCursor, ConfirmedPayment } from '../../chains/index.js'
import { redialDelay } from '../network/index.js'
import type { WatcherMetrics } from './metrics.js'

/** Where a watcher's cursor survives restarts. */
export interface CursorStore {
  load(chain: string): Promise<ChainCursor | undefined>
  save(chain: string, cursor: ChainCursor): Promise<void>
}

export interface ChainWatcherOptions {
  readonly adapter: ChainAdapter
  readonly cursors: CursorStore
  /** Called with each batch of confirmed payments before the cursor moves past them. */
  readonly onPayments: (payments: readonly ConfirmedPayment[]) => Promise<void>
  readonly pollIntervalMs: number
  readonly maxBlocksPerPoll?: number
  readonly retryMinMs?: number
  readonly retryMaxMs?: number
  readonly metrics: WatcherMetrics
  readonly logger: Logger
}

/**
 * Follows one chain: polls its adapter from the persisted cursor, hands confirmed payments over,
 * then saves the cursor (a crash in between re-observes them, which the state machine treats as
 * duplicates). An RPC failure is retried with exponential backoff and never touches other
 * chains or consensus.
 */
export class ChainWatcher {
  private timer: NodeJS.Timeout | undefined
  private failures = 0
  private stopped = false
  private readonly abort = new AbortController()
  private running: Promise<void> = Promise.resolve()

  constructor(private readonly opts: ChainWatcherOptions) {}

  start(): void {
    this.schedule(0)
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    clearTimeout(this.timer)
    await this.running
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.tick()
    }, delayMs)
  }

  private async tick(): Promise<void> {
    const { adapter, cursors, metrics, logger } = this.opts
    const chain = adapter.chain
    const maxBlocks = this.opts.maxBlocksPerPoll ?? 500
    try {
      const cursor = (await cursors.load(chain)) ?? null
      const result = await adapter.poll(cursor, { maxBlocks, signal: this.abort.signal })
      if (result.payments.length > 0) {
        await this.opts.onPayments(result.payments)
        metrics.payments.inc({ chain }, result.payments.length)
      }
      if (cursor === null || result.cursor.height !== cursor.height || result.cursor.hash !== cursor.hash) await cursors.save(chain, result.cursor)
      const health = adapter.health()
      metrics.cursor.set({ chain }, result.cursor.height)
      if (health.headHeight !== null) metrics.head.set({ chain }, health.headHeight)
      if (health.lag !== null) metrics.lag.set({ chain }, health.lag)
      if (this.failures > 0) logger.info({ chain, after: this.failures }, 'chain RPC recovered')
      this.failures = 0
      // Far behind: go on at once; caught up: wait for new blocks.
      const behind = cursor !== null && result.cursor.height - cursor.height >= maxBlocks
      this.schedule(behind ? 0 : this.opts.pollIntervalMs)
    } catch (err) {
      if (this.stopped) return
      this.failures++
      metrics.rpcErrors.inc({ chain })
      const delay = redialDelay(this.failures, this.opts.retryMinMs ?? 500, this.opts.retryMaxMs ?? 30_000, Math.random())
      logger.warn({ chain, failures: this.failures, retryInMs: delay, reason: (err as Error).message }, 'chain poll failed')
      this.schedule(delay)
    }
  }
}
