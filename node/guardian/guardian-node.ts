import { bytesToHex } from '@noble/hashes/utils.js'
import { Registry, collectDefaultMetrics } from 'prom-client'
import type { Logger } from 'pino'
import {
  createApiServer,
  type AdminSource,
  type ApiServer,
  type DkgStatusView,
  type OracleEventsPage,
  type OracleEventView,
  type NodeApiSource,
  type OperationView,
  type PsbtView,
  type Readiness,
  type ReserveView,
  type StatusView,
  type SubmitTxResult,
  type ValidationsPage,
  type ValidationsQuery,
  type ValidationView,
} from '../../api/index.js'
import {
  encodeEnvelope,
  encodeTx,
  GuardianSet,
  MessageKind,
  OPERATIONS,
  reserveKeyDigest,
  signEnvelope,
  TxType,
  type Block,
  type Certificate,
  type Genesis,
  type GuardianInfo,
  type Operation,
  type Transaction,
} from '../../protocol/index.js'
import { CommittedKeyShare, DkgService, SigningService, type FrostSigner, type FrostSignerOptions } from '../custody/index.js'
import type { TimeoutParams } from '../../consensus/index.js'
import { GuardianApplication, OPERATION_STATUSES, type OperationStatus } from '../app/index.js'
import { ConsensusPersistence, ConsensusService, type CommitListener } from '../consensus/index.js'
import type { NodeConfig } from '../config/index.js'
import { readKeystore, readPassphrase } from '../keystore/index.js'
import { GuardianNetwork, NetworkMetrics, oracleTopic } from '../network/index.js'
import { OracleRelay } from './oracle-relay.js'
import { LevelNodeStore, type NodeStore } from '../store/index.js'
import { NODE_VERSION } from '../version.js'
import type { ChainWatcher } from '../watchers/index.js'
import { chainWatchers } from './chain-watchers.js'
import { StartupError } from './errors.js'
import { loadGenesis } from './load-genesis.js'

export interface GuardianNodeDeps {
  readonly config: NodeConfig
  readonly env: NodeJS.ProcessEnv
  readonly logger: Logger
  /** Builds the FROST signer; the fault-injection guardian of the end-to-end tests passes a faulty subclass. */
  readonly createSigner?: (opts: FrostSignerOptions) => FrostSigner
}

/**
 * One running guardian: store, network and API, started in that order and stopped in the
 * reverse (API first, so no request reads a closing store).
 */
export class GuardianNode implements NodeApiSource, AdminSource {
  private readonly startedAt = Date.now()
  private readonly guardians: GuardianSet
  private api: ApiServer | undefined
  private unsubscribeCommit: (() => void) | undefined
  private unsubscribeGossip: (() => void) | undefined

  private constructor(
    readonly genesis: Genesis,
    readonly self: GuardianInfo,
    private readonly votePrivateKey: Uint8Array,
    private readonly store: NodeStore,
    private readonly app: GuardianApplication,
    private readonly network: GuardianNetwork,
    private readonly consensus: ConsensusService,
    private readonly watchers: readonly ChainWatcher[],
    private readonly custody: { readonly dkg: DkgService; readonly keyShare: CommittedKeyShare; readonly signing: SigningService },
    private readonly logger: Logger,
  ) {
    this.guardians = new GuardianSet(genesis)
  }

  /** Starts a node; on any failure, closes what was opened and throws the reason. */
  static async start({ config, env, logger, createSigner }: GuardianNodeDeps): Promise<{ node: GuardianNode; apiUrl: string }> {
    const genesis = await loadGenesis(config.genesisFile)
    const guardians = new GuardianSet(genesis)
    const passphrase = await readPassphrase(config.passphraseFile === undefined ? { env } : { file: config.passphraseFile, env })
    const { keys, public: pub } = await readKeystore(config.keystoreFile, passphrase)
    const self = guardians.byPeer(pub.peerId)
    if (self === undefined) {
      throw new StartupError('not_a_guardian', `keystore ${config.keystoreFile} (peer id ${pub.peerId}) is not a guardian of network ${genesis.network}`)
    }
    if (bytesToHex(self.votePublicKey) !== pub.votePublicKey) {
      throw new StartupError('key_mismatch', `keystore vote key ${pub.votePublicKey} differs from genesis entry of ${self.name}`)
    }
    const log = logger.child({ guardian: self.name })

    const registry = new Registry()
    collectDefaultMetrics({ register: registry, prefix: 'ubtc_process_' })
    const store = new LevelNodeStore(config.dataDir, genesis.hash)
    await store.open()
    let app: GuardianApplication
    try {
      app = await GuardianApplication.open({ db: store.level, genesis })
    } catch (err) {
      await store.close()
      throw err
    }
    const network = new GuardianNetwork({
      genesis,
      guardians,
      self,
      votePrivateKey: keys.votePrivateKey,
      p2pPrivateKey: keys.p2pPrivateKey,
      listen: config.p2p.listen,
      peers: config.p2p.peers,
      heartbeatIntervalMs: config.p2p.heartbeatIntervalMs,
      redialMinMs: config.p2p.redialMinMs,
      redialMaxMs: config.p2p.redialMaxMs,
      version: NODE_VERSION,
      store,
      metrics: new NetworkMetrics(registry),
      logger: log.child({ module: 'p2p' }),
      height: () => BigInt(app.height),
    })
    const consensus = new ConsensusService({
      genesis,
      guardians,
      self,
      votePrivateKey: keys.votePrivateKey,
      app,
      network,
      persistence: new ConsensusPersistence(store.level),
      registry,
      logger: log.child({ module: 'consensus' }),
      timeouts: timeoutsFrom(config.consensus.timeoutProposeMs),
      emptyBlockIntervalMs: config.consensus.emptyBlockIntervalMs,
    })
    const watchers = chainWatchers({ genesis, config, self, votePrivateKey: keys.votePrivateKey, store, submitTx: (tx) => consensus.submitTx(tx), registry, logger: log.child({ module: 'chains' }) })
    const submitOwn = (tx: Transaction): Promise<SubmitTxResult> => consensus.submitTx(ownTx(genesis, self, keys.votePrivateKey, tx))
    const oracles = new OracleRelay({ genesis, submit: submitOwn, registry, logger: log.child({ module: 'oracles' }) })
    network.handleTopic(oracleTopic(genesis.hash), oracles.validate)
    const committedKey = async () => (await app.getReserve())?.key
    const custodyLog = log.child({ module: 'custody' })
    const dkg = new DkgService({
      genesis,
      guardians,
      self,
      votePrivateKey: keys.votePrivateKey,
      network,
      keystoreFile: config.keystoreFile,
      passphrase,
      committedKey,
      submit: submitOwn,
      registry,
      logger: custodyLog,
      pollIntervalMs: config.custody.dkgPollIntervalMs,
    })
    const keyShare = new CommittedKeyShare({ sharesFile: dkg.keySharesFile, passphrase, committedKey, logger: custodyLog })
    const signing = new SigningService({
      genesis,
      self,
      network,
      jobs: { jobMessages: (ref) => app.jobMessages(ref), pendingJobs: (limit) => app.pendingSigningJobs(limit) },
      keyShare,
      submit: submitOwn,
      registry,
      logger: custodyLog,
      sessionTimeoutMs: config.custody.signingTimeoutMs,
      ...(createSigner !== undefined ? { createSigner } : {}),
    })
    const node = new GuardianNode(genesis, self, keys.votePrivateKey, store, app, network, consensus, watchers, { dkg, keyShare, signing }, log)
    try {
      await network.start()
      await consensus.start()
      for (const watcher of watchers) watcher.start()
      await dkg.listen()
      await keyShare.refresh()
      await signing.start()
      // A signature on its way to the log is not made again by the next attempts' coordinators.
      node.unsubscribeGossip = network.onMessage(({ message }) => {
        if (message.kind === MessageKind.Tx && message.tx.type === TxType.ThresholdSignature) signing.noteSignature(message.tx.job)
      })
      node.unsubscribeCommit = consensus.onCommit(() => {
        keyShare.refresh().then(
          () => signing.notifyCommit(),
          (err: unknown) => custodyLog.error({ err }, 'loading the key share failed'),
        )
      })
      if (config.custody.autoDkg && (await committedKey()) === undefined) await dkg.start()
      node.api = await createApiServer({
        host: config.api.host,
        port: config.api.port,
        logger: log.child({ module: 'api' }),
        registry,
        source: node,
        version: NODE_VERSION,
        admin: node,
        ...(config.api.adminToken !== undefined ? { adminToken: config.api.adminToken } : {}),
      })
      const apiUrl = await node.api.listen()
      log.info({ api: apiUrl, peerId: self.peerId, network: genesis.network, guardians: guardians.size }, 'guardian node started')
      return { node, apiUrl }
    } catch (err) {
      await node.stop()
      throw err
    }
  }

  async stop(): Promise<void> {
    await this.api?.close()
    this.unsubscribeCommit?.()
    this.unsubscribeGossip?.()
    await this.custody.signing.stop()
    await this.custody.dkg.stop()
    await Promise.all(this.watchers.map((w) => w.stop()))
    await this.consensus.stop()
    await this.network.stop()
    await this.app.close()
    await this.store.close()
    this.logger.info('guardian node stopped')
  }

  status(): StatusView {
    const now = Date.now()
    return {
      guardian: this.self.name,
      peerId: this.self.peerId,
      version: NODE_VERSION,
      network: this.genesis.network,
      guardianSetIndex: this.genesis.guardianSetIndex,
      height: this.app.height,
      stateRoot: bytesToHex(this.app.stateRoot),
      syncing: this.consensus.isSyncing,
      peers: this.network.peerStates().map(({ guardian, connected, lastHeartbeat: hb }) => ({
        guardian: guardian.name,
        peerId: guardian.peerId,
        connected,
        lastHeartbeatMs: hb === undefined ? null : Math.max(0, now - hb.receivedAt),
        lastHeartbeatAt: hb === undefined ? null : new Date(hb.receivedAt).toISOString(),
        height: hb === undefined ? null : Number(hb.height),
        version: hb?.version ?? null,
      })),
      uptimeS: Math.floor((now - this.startedAt) / 1000),
    }
  }

  /** Calls `listener` after every committed block; returns the unsubscribe function. */
  onCommit(listener: CommitListener): () => void {
    return this.consensus.onCommit(listener)
  }

  block(height: number): Promise<{ block: Block; certificate: Certificate } | undefined> {
    return this.app.getBlock(height)
  }

  latestHeight(): number {
    return this.app.height
  }

  operation(operation: string, operationId: string): Promise<OperationView | undefined> {
    if (!isOperation(operation)) return Promise.resolve(undefined)
    return this.app.getOperation(operation, operationId)
  }

  operations(query: { operation?: string; status?: string; limit: number; cursor?: string }): Promise<{ items: OperationView[]; nextCursor: string | null }> {
    return this.app.listOperations({
      limit: query.limit,
      ...(query.operation !== undefined && isOperation(query.operation) ? { operation: query.operation } : {}),
      ...(query.status !== undefined && isStatus(query.status) ? { status: query.status } : {}),
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    })
  }

  validation(id: string): Promise<ValidationView | undefined> {
    return this.app.getValidation(id)
  }

  validations(query: ValidationsQuery): Promise<ValidationsPage> {
    return this.app.listValidations({
      limit: query.limit,
      ...(query.chain !== undefined ? { chain: query.chain } : {}),
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.from !== undefined ? { from: query.from } : {}),
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    })
  }

  guardianName(index: number): string | undefined {
    return this.guardians.at(index)?.name
  }

  submitTx(tx: Uint8Array): Promise<{ ok: true; hash: string } | { ok: false; code: string; reason: string }> {
    return this.consensus.submitTx(tx)
  }

  async reserve(): Promise<ReserveView | undefined> {
    const r = await this.app.getReserve()
    if (r === undefined) return undefined
    return {
      address: r.address,
      network: this.genesis.bitcoinNetwork,
      groupKey: bytesToHex(r.key.groupKey.subarray(1)),
      internalKey: bytesToHex(r.key.internalKey),
      threshold: r.key.threshold,
      guardians: r.key.verifyingShares.length,
      verifyingShares: r.key.verifyingShares.map(bytesToHex),
      dkgCertificate: {
        sessionId: bytesToHex(r.key.sessionId),
        digest: bytesToHex(reserveKeyDigest(this.genesis.hash, r.key)),
        signatures: r.signatures.map((s) => ({ guardian: s.guardian, signature: bytesToHex(s.signature) })),
      },
      committedHeight: r.committedHeight,
      committedAtMs: r.committedAtMs,
    }
  }

  async psbt(id: string): Promise<PsbtView | undefined> {
    const p = await this.app.getPsbt(id)
    if (p === undefined) return undefined
    return { id: p.id, psbt: p.psbt, inputs: p.inputs, proposer: p.proposer, createdHeight: p.createdHeight, approvedAtMs: p.approvedAtMs, signedPsbt: p.signedPsbt, signers: p.signers, signedAtMs: p.signedAtMs }
  }

  oracleEvent(eventId: string): Promise<OracleEventView | undefined> {
    return this.app.getOracleEvent(eventId)
  }

  oracleEvents(query: { readonly limit: number; readonly cursor?: string }): Promise<OracleEventsPage> {
    return this.app.listOracleEvents({ limit: query.limit, ...(query.cursor !== undefined ? { cursor: query.cursor } : {}) })
  }

  dkgStatus(): DkgStatusView {
    const s = this.custody.dkg.status()
    return { state: s.state, attempt: s.attempt, sessionId: s.sessionId, phase: s.phase, round1: s.round1, shares: s.shares, signatures: s.signatures, culprit: s.culprit, reason: s.reason === null ? null : s.detail === null ? s.reason : `${s.reason}: ${s.detail}` }
  }

  async startDkg(): Promise<DkgStatusView> {
    if ((await this.app.getReserve()) !== undefined) throw new Error('a reserve key is already committed')
    await this.custody.dkg.startNewAttempt()
    return this.dkgStatus()
  }

  proposePsbt(psbt: Uint8Array): Promise<SubmitTxResult> {
    return this.submitOwn({ type: TxType.PsbtProposal, psbt })
  }

  vote(operation: Operation, operationId: string, decision: 'approve' | 'reject'): Promise<SubmitTxResult> {
    return this.submitOwn({ type: TxType.GuardianVote, operation, operationId, decision })
  }

  private submitOwn(tx: Transaction): Promise<SubmitTxResult> {
    return this.consensus.submitTx(ownTx(this.genesis, this.self, this.votePrivateKey, tx))
  }

  /** Ready when the store is open and enough guardians are connected to form a commit quorum with us. */
  readiness(): Readiness {
    const connectedGuardians = this.network.connectedGuardians()
    const requiredGuardians = this.guardians.commitQuorum - 1
    const storeOpen = this.store.isOpen
    const ready = storeOpen && connectedGuardians >= requiredGuardians && this.consensus.halted === undefined
    return { ready, storeOpen, connectedGuardians, requiredGuardians }
  }
}

/** `tx` in an envelope signed by this guardian. */
function ownTx(genesis: Genesis, self: GuardianInfo, votePrivateKey: Uint8Array, tx: Transaction): Uint8Array {
  return encodeEnvelope(signEnvelope(genesis.hash, MessageKind.Tx, genesis.guardianSetIndex, self.index, encodeTx(tx), votePrivateKey))
}

function isOperation(value: string): value is Operation {
  return (OPERATIONS as readonly string[]).includes(value)
}

function isStatus(value: string): value is OperationStatus {
  return (OPERATION_STATUSES as readonly string[]).includes(value)
}

/** Consensus timeouts from one operator knob: prevote/precommit wait half as long, all grow by half per round. */
function timeoutsFrom(proposeMs: number): TimeoutParams {
  const half = Math.round(proposeMs / 2)
  return { proposeBaseMs: proposeMs, proposeDeltaMs: half, prevoteBaseMs: half, prevoteDeltaMs: Math.round(half / 2), precommitBaseMs: half, precommitDeltaMs: Math.round(half / 2) }
}
