import { spawn, type ChildProcess } from 'node:child_process'
import { access, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { StatusView } from '../api/index.js'
import { loadGenesis } from '../node/guardian/index.js'
import { guardianName, initTestnet } from '../node/setup/index.js'
import { PROJECT_ROOT } from '../node/version.js'
import { devChainConfigs, type DevChains } from './dev-chains.js'
import { CodedError } from '../protocol/index.js'

/** The local network could not be set up or did not come up. */
export class TestnetError extends CodedError<'mismatch' | 'not_running' | 'timeout' | 'already_running'> {}

/** A heartbeat older than this does not count as a live peer (testnet heartbeats are every second). */
const FRESH_HEARTBEAT_MS = 10_000

/** The compiled CLI each guardian process runs. */
export const UBTC_BIN = join(PROJECT_ROOT, 'dist', 'bin', 'ubtc.js')

export interface LocalTestnetOptions {
  readonly dir: string
  readonly guardians: number
  readonly basePort: number
  /** Wipe `dir` first; otherwise an existing testnet there is reused. */
  readonly fresh?: boolean
  /** Receives every line a guardian process prints. */
  readonly onLog?: (guardian: string, line: string) => void
  /** Extra environment for the guardian processes. */
  readonly env?: NodeJS.ProcessEnv
  /** Local chains the guardians watch (written into a new testnet's genesis, passed as RPC flags). */
  readonly chains?: DevChains
  /** Payment rate limit for a new testnet's genesis (default: 20 an hour). */
  readonly rateLimit?: { readonly perWindow: number; readonly windowMs: number }
}

export interface TestnetGuardian {
  readonly index: number
  readonly name: string
  readonly configFile: string
  readonly apiUrl: string
  readonly p2pPort: number
  readonly peerId: string
}

/**
 * A local network of guardian processes on 127.0.0.1. Ports follow the base port (they are
 * passed as flag overrides), so a testnet folder can be restarted on other ports.
 */
export class LocalTestnet {
  private readonly processes = new Map<number, ChildProcess>()

  private constructor(
    readonly guardians: readonly TestnetGuardian[],
    private readonly opts: LocalTestnetOptions,
  ) {}

  /** Writes the testnet into `dir` unless one is there already. */
  static async create(opts: LocalTestnetOptions): Promise<LocalTestnet> {
    if (opts.fresh === true) await rm(opts.dir, { recursive: true, force: true })
    const genesisFile = join(opts.dir, 'genesis.json')
    const hasTestnet = await access(genesisFile).then(() => true, () => false)
    if (!hasTestnet) await initTestnet({ dir: opts.dir, guardians: opts.guardians, basePort: opts.basePort, ...(opts.chains !== undefined ? { chains: devChainConfigs() } : {}), ...(opts.rateLimit !== undefined ? { rateLimit: opts.rateLimit } : {}) })
    const genesis = await loadGenesis(genesisFile)
    if (genesis.guardians.length !== opts.guardians) {
      throw new TestnetError('mismatch', `testnet in ${opts.dir} has ${genesis.guardians.length} guardians, not ${opts.guardians} (use --fresh to replace it)`)
    }
    const guardians = genesis.guardians.map((g) => ({
      index: g.index,
      name: g.name,
      configFile: join(opts.dir, guardianName(g.index), 'config.json'),
      apiUrl: `http://127.0.0.1:${opts.basePort + g.index}`,
      p2pPort: opts.basePort + 100 + g.index,
      peerId: g.peerId,
    }))
    return new LocalTestnet(guardians, opts)
  }

  startAll(): void {
    for (const g of this.guardians) this.start(g.index)
  }

  /**
   * Starts guardian `index` as its own OS process; `extraFlags` override settings for this run
   * (e.g. a broken RPC URL). `entry` replaces `ubtc node` by another script taking the same flags
   * (the fault-injection guardians of the end-to-end tests).
   */
  start(index: number, extraFlags: readonly string[] = [], entry?: string): ChildProcess {
    const g = this.guardian(index)
    if (this.processes.has(index)) throw new TestnetError('already_running', `${g.name} is already running`)
    const peers = this.guardians.filter((o) => o.index !== index).map((o) => `/ip4/127.0.0.1/tcp/${o.p2pPort}/p2p/${o.peerId}`)
    const child = spawn(
      process.execPath,
      [
        ...(entry === undefined ? [UBTC_BIN, 'node'] : [entry]), '--config', g.configFile,
        '--api-port', String(this.opts.basePort + index),
        '--p2p-listen', `/ip4/127.0.0.1/tcp/${g.p2pPort}`,
        '--p2p-peers', peers.join(','),
        ...(this.opts.chains?.nodeFlags ?? []),
        ...extraFlags,
      ],
      // Own process group: a terminal Ctrl-C reaches only this supervisor, which then stops
      // each guardian once and waits for its clean shutdown.
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.opts.env }, detached: true },
    )
    if (this.processes.size === 0) process.once('exit', this.killOnExit)
    this.processes.set(index, child)
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.opts.onLog?.(g.name, line))
    }
    child.once('exit', () => {
      if (this.processes.get(index) === child) this.processes.delete(index)
      if (this.processes.size === 0) process.removeListener('exit', this.killOnExit)
    })
    return child
  }

  /** If the supervisor exits without stopping them, its guardians must not outlive it. */
  private readonly killOnExit = (): void => {
    for (const child of this.processes.values()) child.kill('SIGKILL')
  }

  /** Pauses (SIGSTOP) or resumes (SIGCONT) guardian `index`: a paused guardian takes part in nothing. */
  pause(index: number, paused: boolean): void {
    const child = this.processes.get(index)
    if (child === undefined) throw new TestnetError('not_running', `${this.guardian(index).name} is not running`)
    child.kill(paused ? 'SIGSTOP' : 'SIGCONT')
  }

  isRunning(index: number): boolean {
    return this.processes.has(index)
  }

  /** Sends `signal` to guardian `index` and waits for it to exit; resolves its exit code. */
  async stop(index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.processes.get(index)
    if (child === undefined) return null
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill(signal)
    // A paused guardian handles the signal only once resumed.
    if (signal !== 'SIGKILL') child.kill('SIGCONT')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all([...this.processes.keys()].map((i) => this.stop(i, signal)))
  }

  /** /v1/status of guardian `index`, or undefined while it does not answer. */
  async status(index: number): Promise<StatusView | undefined> {
    try {
      const response = await fetch(`${this.guardian(index).apiUrl}/v1/status`, { signal: AbortSignal.timeout(2000) })
      return response.ok ? ((await response.json()) as StatusView) : undefined
    } catch {
      return undefined
    }
  }

  /**
   * Polls the running guardians' /v1/status until `predicate` holds for every one of them
   * (a readiness check, not a fixed sleep). Rejects with the last statuses seen on timeout,
   * or as soon as a guardian process exits.
   */
  async waitFor(predicate: (status: StatusView, index: number) => boolean, what: string, timeoutMs = 60_000, indexes?: readonly number[]): Promise<StatusView[]> {
    const targets = indexes ?? this.guardians.map((g) => g.index)
    const deadline = Date.now() + timeoutMs
    let last: Array<StatusView | undefined> = []
    for (;;) {
      const stopped = targets.filter((i) => !this.processes.has(i))
      if (stopped.length > 0) throw new TestnetError('not_running', `waiting for ${what}: ${stopped.map((i) => this.guardian(i).name).join(', ')} not running`)
      last = await Promise.all(targets.map((i) => this.status(i)))
      if (last.every((s, k) => s !== undefined && predicate(s, targets[k]!))) return last as StatusView[]
      if (Date.now() > deadline) {
        const summary = last.map((s, k) => `${this.guardian(targets[k]!).name}: ${s === undefined ? 'no answer' : `${s.peers.filter((p) => p.connected).length} peers`}`)
        throw new TestnetError('timeout', `timed out after ${timeoutMs} ms waiting for ${what} (${summary.join('; ')})`)
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  /** Waits until every running guardian sees every other guardian connected and has heard its heartbeat. */
  waitAllConnected(timeoutMs?: number): Promise<StatusView[]> {
    return this.waitFor((s) => s.peers.length === this.guardians.length - 1 && s.peers.every((p) => p.connected && p.lastHeartbeatMs !== null && p.lastHeartbeatMs < FRESH_HEARTBEAT_MS), 'all guardians connected', timeoutMs)
  }

  /**
   * Waits until every running guardian serves the same reserve address (the DKG result is
   * committed) and returns it; rejects on timeout.
   */
  async waitReserveAddress(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const running = this.guardians.filter((g) => this.processes.has(g.index))
      const addresses = await Promise.all(
        running.map((g) =>
          fetch(`${g.apiUrl}/v1/reserves/address`, { signal: AbortSignal.timeout(2000) }).then(
            async (r) => (r.ok ? ((await r.json()) as { address: string }).address : undefined),
            () => undefined,
          ),
        ),
      )
      const first = addresses[0]
      if (running.length > 0 && first !== undefined && addresses.every((a) => a === first)) return first
      if (Date.now() > deadline) throw new TestnetError('timeout', `timed out after ${timeoutMs} ms waiting for the guardians to commit the reserve key`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  guardian(index: number): TestnetGuardian {
    const g = this.guardians[index]
    if (g === undefined) throw new RangeError(`no guardian ${index}`)
    return g
  }
}
