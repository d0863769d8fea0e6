import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { Registry } from 'prom-client'
import { GuardianSet, type Genesis } from '../protocol/index.js'
import { generateGuardianKeys, publicInfo, type GuardianKeys } from '../node/keystore/index.js'
import { GuardianNetwork, NetworkMetrics } from '../node/network/index.js'
import { guardianName, testnetGenesis } from '../node/setup/index.js'
import { LevelNodeStore } from '../node/store/index.js'
import { findFreeBasePort } from './ports.js'

export interface InProcessGuardian {
  readonly index: number
  readonly keys: GuardianKeys
  readonly network: GuardianNetwork
  readonly store: LevelNodeStore
  readonly registry: Registry
  readonly address: string
}

export interface InProcessNetworkOptions {
  readonly guardians: number
  /** Start only these guardians (default: all); the others' keys still exist, e.g. for an impostor. */
  readonly start?: readonly number[]
  readonly heartbeatIntervalMs?: number
  readonly logger?: Logger
}

/**
 * N guardian network stacks in this process: real libp2p over TCP on 127.0.0.1 and real
 * LevelDB stores in a temporary folder. For tests and benchmarks of the network layer.
 */
export class InProcessNetwork {
  readonly guardians = new Map<number, InProcessGuardian>()

  private constructor(
    readonly genesis: Genesis,
    readonly keys: readonly GuardianKeys[],
    private readonly dir: string,
    private readonly basePort: number,
    private readonly opts: InProcessNetworkOptions,
  ) {}

  static async create(opts: InProcessNetworkOptions): Promise<InProcessNetwork> {
    const keys = await Promise.all(Array.from({ length: opts.guardians }, () => generateGuardianKeys()))
    const genesis = testnetGenesis(keys.map(publicInfo), 'ubtc-in-process')
    const dir = await mkdtemp(join(tmpdir(), 'ubtc-inproc-'))
    const net = new InProcessNetwork(genesis, keys, dir, await findFreeBasePort(opts.guardians), opts)
    try {
      for (const index of opts.start ?? keys.map((_, i) => i)) await net.startGuardian(index)
    } catch (err) {
      await net.close()
      throw err
    }
    return net
  }

  address(index: number): string {
    return `/ip4/127.0.0.1/tcp/${this.basePort + 100 + index}/p2p/${this.genesis.guardians[index]!.peerId}`
  }

  async startGuardian(index: number): Promise<InProcessGuardian> {
    const guardians = new GuardianSet(this.genesis)
    const self = guardians.at(index)!
    const keys = this.keys[index]!
    const registry = new Registry()
    const store = new LevelNodeStore(join(this.dir, guardianName(index)), this.genesis.hash)
    await store.open()
    const network = new GuardianNetwork({
      genesis: this.genesis,
      guardians,
      self,
      votePrivateKey: keys.votePrivateKey,
      p2pPrivateKey: keys.p2pPrivateKey,
      listen: [`/ip4/127.0.0.1/tcp/${this.basePort + 100 + index}`],
      peers: this.genesis.guardians.filter((g) => g.index !== index).map((g) => this.address(g.index)),
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs ?? 1000,
      redialMinMs: 100,
      redialMaxMs: 2000,
      version: 'in-process',
      store,
      metrics: new NetworkMetrics(registry),
      logger: (this.opts.logger ?? pino({ level: 'silent' })).child({ guardian: self.name }),
      height: () => 0n,
    })
    await network.start()
    const guardian = { index, keys, network, store, registry, address: this.address(index) }
    this.guardians.set(index, guardian)
    return guardian
  }

  async stopGuardian(index: number): Promise<void> {
    const g = this.guardians.get(index)
    if (g === undefined) return
    this.guardians.delete(index)
    await g.network.stop()
    await g.store.close()
  }

  /** Resolves once every running guardian has every other running guardian connected. */
  async waitConnected(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const running = [...this.guardians.values()]
    while (!running.every((g) => g.network.connectedGuardians() >= running.length - 1)) {
      if (Date.now() > deadline) throw new Error('in-process network did not connect in time')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.guardians.keys()].map((index) => this.stopGuardian(index)))
    await rm(this.dir, { recursive: true, force: true })
  }
}
