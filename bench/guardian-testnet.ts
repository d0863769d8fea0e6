import '../protocol/polyfill.js'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pino, type Logger } from 'pino'
import type { CommitEvent } from '../node/consensus/index.js'
import { loadConfig, type NodeConfig } from '../node/config/index.js'
import { GuardianNode } from '../node/guardian/index.js'
import { readKeystore } from '../node/keystore/index.js'
import { initTestnet, type TestnetLayout } from '../node/setup/index.js'
import { findFreeBasePort } from '../testnet/index.js'
import { encodeEnvelope, encodeTx, MessageKind, signEnvelope, TxType, type ChainConfig, type ChainName, type Genesis } from '../protocol/index.js'
import { sleep } from './measure.js'

/** A commit as seen by one guardian, stamped with the bench clock. */
export interface CommitRecord {
  readonly node: number
  readonly at: number
  readonly event: CommitEvent
}

export type CommitObserver = (record: CommitRecord) => void

export interface BenchTestnetOptions {
  readonly guardians: number
  /** Config flags for every guardian, as `ubtc node --flag value` takes them. */
  readonly flags: Readonly<Record<string, string>>
  /** Node logs go here (JSON lines); default: a file in the testnet folder. */
  readonly logFile?: string
  /** Default 'warn'. */
  readonly logLevel?: string
  /** Genesis chain configs (e.g. `devChainConfigs()`); default none. */
  readonly chains?: Partial<Record<ChainName, ChainConfig>>
}

/**
 * BenchTestnet log options from the environment, as the consensus phase reads them:
 * UBTC_BENCH_LOG_DIR keeps the node logs there as <name>.log, UBTC_BENCH_LOG_LEVEL sets their level.
 */
export function benchLogOptions(name: string): { logFile?: string; logLevel?: string } {
  const dir = process.env.UBTC_BENCH_LOG_DIR
  const level = process.env.UBTC_BENCH_LOG_LEVEL
  return { ...(dir !== undefined && dir !== '' ? { logFile: join(dir, `${name}.log`) } : {}), ...(level !== undefined && level !== '' ? { logLevel: level } : {}) }
}

/**
 * Full guardian nodes (store, application, consensus, libp2p, API) in this process, from a
 * testnet folder written by `initTestnet` into a temporary directory — the same files an
 * operator gets from `ubtc init testnet`.
 */
export class BenchTestnet {
  private readonly nodes = new Map<number, GuardianNode>()
  private readonly observers = new Set<CommitObserver>()

  private constructor(
    readonly dir: string,
    readonly layout: TestnetLayout,
    private readonly configs: readonly NodeConfig[],
    readonly votePrivateKeys: readonly Uint8Array[],
    readonly logFile: string,
    private readonly logDestination: ReturnType<typeof pino.destination>,
    private readonly logger: Logger,
  ) {}

  static async create(opts: BenchTestnetOptions): Promise<BenchTestnet> {
    const dir = await mkdtemp(join(tmpdir(), 'ubtc-bench-consensus-'))
    try {
      const layout = await initTestnet({ dir, guardians: opts.guardians, basePort: await findFreeBasePort(opts.guardians), network: 'ubtc-bench', ...(opts.chains !== undefined ? { chains: opts.chains } : {}) })
      const configs: NodeConfig[] = []
      const votePrivateKeys: Uint8Array[] = []
      for (const g of layout.guardians) {
        configs.push(await loadConfig(g.configFile, { env: {}, flags: opts.flags }))
        const passphrase = (await readFile(join(g.dir, 'passphrase'), 'utf8')).replace(/\r?\n$/, '')
        votePrivateKeys.push((await readKeystore(join(g.dir, 'keystore.json'), passphrase)).keys.votePrivateKey)
      }
      const logFile = opts.logFile ?? join(dir, 'nodes.log')
      // Synchronous writes: nothing is lost on exit and there is no flush to wait for.
      const logDestination = pino.destination({ dest: logFile, sync: true, mkdir: true })
      const logger = pino({ level: opts.logLevel ?? 'warn' }, logDestination)
      return new BenchTestnet(dir, layout, configs, votePrivateKeys, logFile, logDestination, logger)
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  get genesis(): Genesis {
    return this.layout.genesis
  }

  get size(): number {
    return this.configs.length
  }

  /** Every commit of every guardian (also after a restart) goes to `observer` until the returned function is called. */
  observe(observer: CommitObserver): () => void {
    this.observers.add(observer)
    return () => this.observers.delete(observer)
  }

  node(index: number): GuardianNode {
    const node = this.nodes.get(index)
    if (node === undefined) throw new Error(`guardian ${index} is not running`)
    return node
  }

  isRunning(index: number): boolean {
    return this.nodes.has(index)
  }

  height(index: number): number {
    return this.node(index).latestHeight()
  }

  /** The highest height among the running guardians (or `among`). */
  maxHeight(among: readonly number[] = [...this.nodes.keys()]): number {
    return Math.max(...among.map((i) => this.height(i)))
  }

  /** Starts guardian `index` with its config, or with these flags instead of the testnet's when given. */
  async start(index: number, flags?: Readonly<Record<string, string>>): Promise<void> {
    if (this.nodes.has(index)) return
    const config = flags === undefined ? this.configs[index]! : await loadConfig(this.layout.guardians[index]!.configFile, { env: {}, flags })
    const { node } = await GuardianNode.start({ config, env: {}, logger: this.logger })
    node.onCommit((event) => {
      const record: CommitRecord = { node: index, at: performance.now(), event }
      for (const observer of this.observers) observer(record)
    })
    this.nodes.set(index, node)
  }

  /** Starts every guardian at once; all starts settle before a failure is thrown, so close() stops them all. */
  async startAll(): Promise<void> {
    const results = await Promise.allSettled(this.configs.map((_, i) => this.start(i)))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  async stop(index: number): Promise<void> {
    const node = this.nodes.get(index)
    if (node === undefined) return
    this.nodes.delete(index)
    await node.stop()
  }

  /** Resolves once every running guardian has all the others connected. */
  async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs
    const running = [...this.nodes.values()]
    while (!running.every((n) => n.readiness().connectedGuardians >= running.length - 1)) {
      if (performance.now() > deadline) throw new Error(`guardians not all connected after ${timeoutMs} ms`)
      await sleep(20)
    }
  }

  /** Resolves once guardian `index` reached `height`. */
  async waitHeight(index: number, height: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (this.height(index) < height) {
      if (performance.now() > deadline) throw new Error(`guardian ${index} at height ${this.height(index)}, not ${height}, after ${timeoutMs} ms`)
      await sleep(10)
    }
  }

  /** A guardian-vote transaction of guardian `signer`, ready for submitTx. */
  voteTx(signer: number, operationId: string): Uint8Array {
    const payload = encodeTx({ type: TxType.GuardianVote, operation: 'validation', operationId, decision: 'approve' })
    return encodeEnvelope(signEnvelope(this.genesis.hash, MessageKind.Tx, this.genesis.guardianSetIndex, signer, payload, this.votePrivateKeys[signer]!))
  }

  /** The node log lines so far, counted by level and message. */
  async logSummary(): Promise<Map<string, number>> {
    const counts = new Map<string, number>()
    let text = ''
    try {
      text = await readFile(this.logFile, 'utf8')
    } catch {
      return counts
    }
    for (const line of text.split('\n')) {
      if (line === '') continue
      let key: string
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; guardian?: string }
        key = `${pino.levels.labels[entry.level ?? 0] ?? String(entry.level)}: ${entry.msg ?? '?'}`
      } catch {
        key = 'unparsable line'
      }
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return counts
  }

  /** Stops every guardian, then deletes the testnet folder (and the log, unless it was placed elsewhere). */
  async close(): Promise<void> {
    const results = await Promise.allSettled([...this.nodes.keys()].map((i) => this.stop(i)))
    this.logDestination.end()
    await rm(this.dir, { recursive: true, force: true })
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }
}
