import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { EvmAdapter, SolanaAdapter, type ChainAdapter, type ConfirmedPayment } from '../../chains/index.js'
import {
  CHAIN_NAMES,
  encodeEnvelope,
  encodeTx,
  MAX_AMOUNT,
  MAX_OBSERVATION_MESSAGE_BYTES,
  MessageKind,
  signEnvelope,
  TxType,
  type Genesis,
  type GuardianInfo,
} from '../../protocol/index.js'
import type { NodeConfig } from '../config/index.js'
import type { SubmitResult } from '../consensus/index.js'
import type { NodeStore } from '../store/index.js'
import { ChainWatcher, WatcherMetrics } from '../watchers/index.js'

export interface ChainWatchersDeps {
  readonly genesis: Genesis
  readonly config: NodeConfig
  readonly self: GuardianInfo
  readonly votePrivateKey: Uint8Array
  readonly store: NodeStore
  readonly submitTx: (tx: Uint8Array) => Promise<SubmitResult>
  readonly registry: Registry
  readonly logger: Logger
}

const POLL_INTERVAL_MS = 1000

/**
 * One watcher per chain that genesis configures and this operator gave RPC URLs for. Each
 * confirmed payment becomes this guardian's signed Observation transaction in the mempool.
 */
export function chainWatchers(deps: ChainWatchersDeps): ChainWatcher[] {
  const metrics = new WatcherMetrics(deps.registry)
  const watchers: ChainWatcher[] = []
  for (const chain of CHAIN_NAMES) {
    const chainConfig = deps.genesis.chains[chain]
    const rpcUrls = deps.config.chains[chain].rpcUrls
    if (chainConfig === undefined || rpcUrls.length === 0) continue
    const logger = deps.logger.child({ chain })
    const adapter: ChainAdapter =
      chainConfig.kind === 'evm' ? new EvmAdapter({ chain, config: chainConfig, rpcUrls: [...rpcUrls], logger }) : new SolanaAdapter({ config: chainConfig, rpcUrls })
    watchers.push(
      new ChainWatcher({
        adapter,
        cursors: { load: (c) => deps.store.loadCursor(c), save: (c, cursor) => deps.store.saveCursor(c, cursor) },
        onPayments: (payments) => observe(deps, payments, logger),
        pollIntervalMs: POLL_INTERVAL_MS,
        metrics,
        logger,
      }),
    )
  }
  return watchers
}

async function observe(deps: ChainWatchersDeps, payments: readonly ConfirmedPayment[], logger: Logger): Promise<void> {
  const { genesis, self, votePrivateKey } = deps
  for (const p of payments) {
    if (p.amount > MAX_AMOUNT) {
      logger.error({ txHash: p.txHash, amount: p.amount.toString() }, 'payment amount exceeds what an observation can carry; not observed')
      continue
    }
    // A message longer than an observation carries is cut to that size: every guardian cuts it the
    // same way, and it is still over the 512-byte message limit, so it is rejected as too long.
    const message = p.message.length > MAX_OBSERVATION_MESSAGE_BYTES ? p.message.subarray(0, MAX_OBSERVATION_MESSAGE_BYTES) : p.message
    const payload = encodeTx({ type: TxType.Observation, chain: p.chain, txHash: p.txHash, from: p.from, to: p.to, amount: p.amount, message, blockHeight: p.blockHeight, blockHash: p.blockHash })
    const tx = encodeEnvelope(signEnvelope(genesis.hash, MessageKind.Tx, genesis.guardianSetIndex, self.index, payload, votePrivateKey))
    const result = await deps.submitTx(tx)
    // Re-observing after a restart or a reorg rescan is expected: the state machine refuses duplicates.
    if (!result.ok && result.code !== 'invalid') logger.warn({ txHash: p.txHash, code: result.code, reason: result.reason }, 'observation not admitted')
    else logger.info({ txHash: p.txHash, amount: p.amount.toString(), admitted: result.ok }, 'payment observed')
  }
}
