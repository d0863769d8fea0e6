import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { Registry } from 'prom-client'
import { signingJobKey, type SigningJobRef, type ThresholdSignatureTx } from '../../../../protocol/index.js'
import { InProcessNetwork } from '../../../../testnet/in-process.js'
import { SigningService, type SigningServiceOptions } from '../service.js'
import { dkgReserveKey, FixtureJobs, noFaults, StaticKeyShare, TestSigner, type DealtKey, type SignerFaults } from './fixtures.js'

export interface TestbedNode {
  readonly index: number
  readonly jobs: FixtureJobs
  readonly keyShare: StaticKeyShare
  readonly faults: SignerFaults
  service: SigningService | undefined
  registry: Registry
}

export interface Submission {
  readonly by: number
  readonly tx: ThresholdSignatureTx
  readonly atMs: number
}

/**
 * N real libp2p guardians (InProcessNetwork) with a t-of-n key from an in-process DKG, a
 * SigningJobSource fixture and a fault-injectable signer each. Submitting a signature "commits"
 * it at once on every guardian (the job leaves every fixture), unless the job is held.
 */
export class SigningTestbed {
  readonly nodes: TestbedNode[] = []
  readonly submissions: Submission[] = []
  /** Hex of every nonce a signer used, in order (a nonce used twice would appear twice). */
  readonly usedNonces: string[] = []
  /** Jobs whose submitted signature is not committed (stays pending). */
  readonly held = new Set<string>()

  private constructor(
    readonly net: InProcessNetwork,
    readonly dealt: DealtKey,
    private readonly serviceOptions: Partial<SigningServiceOptions>,
    readonly logger: Logger,
    /** Every log line of every guardian (network and signing), as written. */
    readonly logLines: readonly string[],
  ) {}

  static async create(opts: { n: number; t: number; service?: Partial<SigningServiceOptions> }): Promise<SigningTestbed> {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString())
        callback()
      },
    })
    const logger = pino({ level: 'debug' }, sink)
    const net = await InProcessNetwork.create({ guardians: opts.n, logger })
    const bed = new SigningTestbed(net, dkgReserveKey(opts.n, opts.t), opts.service ?? {}, logger, lines)
    try {
      await net.waitConnected()
      for (let i = 0; i < opts.n; i++) {
        bed.nodes.push({ index: i, jobs: new FixtureJobs(), keyShare: new StaticKeyShare(bed.dealt.key, bed.dealt.shares[i]!), faults: noFaults(), service: undefined, registry: new Registry() })
        await bed.startService(i)
      }
    } catch (err) {
      await bed.close()
      throw err
    }
    return bed
  }

  /** A fresh signing service for guardian `index` on its running network (new memory: no nonces, no sessions). */
  async startService(index: number): Promise<SigningService> {
    const node = this.nodes[index]!
    const guardian = this.net.guardians.get(index)
    if (guardian === undefined) throw new Error(`guardian ${index} is not running`)
    node.registry = new Registry()
    const service = new SigningService({
      genesis: this.net.genesis,
      self: this.net.genesis.guardians[index]!,
      network: guardian.network,
      jobs: node.jobs,
      keyShare: node.keyShare,
      submit: async (tx) => this.submitted(index, tx),
      registry: node.registry,
      logger: this.logger.child({ guardian: this.net.genesis.guardians[index]!.name }),
      tickMs: 100,
      sessionTimeoutMs: 60_000,
      retryDelayMs: 200,
      noncePoolSize: 16,
      createSigner: (opts) => new TestSigner(opts, node.faults, (hex) => this.usedNonces.push(hex)),
      ...this.serviceOptions,
    })
    node.service = service
    await service.start()
    return service
  }

  async stopService(index: number): Promise<void> {
    const node = this.nodes[index]!
    const service = node.service
    node.service = undefined
    await service?.stop()
  }

  /** Stops guardian `index` entirely: signing service, libp2p, store. */
  async stopGuardian(index: number): Promise<void> {
    await this.stopService(index)
    await this.net.stopGuardian(index)
  }

  /** Starts guardian `index` again (same keys, same store) with a fresh signing service. */
  async restartGuardian(index: number): Promise<void> {
    await this.net.startGuardian(index)
    await this.startService(index)
  }

  running(): TestbedNode[] {
    return this.nodes.filter((n) => n.service !== undefined)
  }

  signer(index: number): TestSigner {
    return this.nodes[index]!.service!.signer as TestSigner
  }

  /** The job awaits a signature on every guardian (except `except`), as of `signableAtMs`. */
  approve(ref: SigningJobRef, messages: readonly Uint8Array[], opts: { listed?: boolean; signableAtMs?: number; except?: readonly number[] } = {}): void {
    for (const node of this.nodes) if (!(opts.except ?? []).includes(node.index)) node.jobs.approve(ref, messages, opts)
    for (const node of this.running()) node.service!.notifyCommit()
  }

  /** The job's signature is committed everywhere. */
  commit(ref: SigningJobRef): void {
    for (const node of this.nodes) node.jobs.complete(ref)
    for (const node of this.running()) node.service!.notifyCommit()
  }

  submissionsOf(ref: SigningJobRef): Submission[] {
    return this.submissions.filter((s) => signingJobKey(s.tx.job) === signingJobKey(ref))
  }

  async metric(index: number, name: string): Promise<string> {
    return (await this.nodes[index]!.registry.getSingleMetricAsString(name)) ?? ''
  }

  /** The folder of the guardians' LevelDB stores. */
  get storeDir(): string {
    return (this.net as unknown as { dir: string }).dir
  }

  async close(): Promise<void> {
    for (const node of this.nodes) await node.service?.stop().catch(() => {})
    await this.net.close()
  }

  private submitted(by: number, tx: ThresholdSignatureTx): { ok: true } {
    this.submissions.push({ by, tx, atMs: Date.now() })
    if (!this.held.has(signingJobKey(tx.job))) setImmediate(() => this.commit(tx.job))
    return { ok: true }
  }
}
