import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  encodeFrostResponse,
  FROST_SIGN_PROTOCOL_NAME,
  frostError,
  GuardianSet,
  MAX_FROST_REQUEST_BYTES,
  MAX_FROST_RESPONSE_BYTES,
  MAX_JOB_SIGNATURES,
  MAX_SESSION_JOBS,
  MAX_SESSION_MESSAGES,
  signingCoordinator,
  signingJobKey,
  type Genesis,
  type GuardianInfo,
  type SigningJobRef,
} from '../../../protocol/index.js'
import { networkProtocol, serveRequests, type GuardianNetwork } from '../../network/index.js'
import { FrostCoordinator, networkTransport, type SignerTransport } from './coordinator.js'
import { SigningMetrics } from './metrics.js'
import { FrostSigner, type FrostSignerOptions } from './signer.js'
import type { KeyShareSource, SessionOutcome, SignatureSubmitter, SigningJob, SigningJobSource } from './types.js'

export interface SigningServiceOptions {
  readonly genesis: Genesis
  readonly self: GuardianInfo
  readonly network: GuardianNetwork
  /** What may be signed, from the node's committed state. */
  readonly jobs: SigningJobSource
  readonly keyShare: KeyShareSource
  /** Hands a finished ThresholdSignatureTx to consensus. */
  readonly submit: SignatureSubmitter
  readonly registry: Registry
  readonly logger: Logger
  /** How often pending jobs are looked at besides notifyCommit() (default 250 ms). */
  readonly tickMs?: number
  /** Length of one signing attempt: attempt = floor((now − signableAtMs) / sessionTimeoutMs), each with its own coordinator (default 10 s). */
  readonly sessionTimeoutMs?: number
  /** Sessions this guardian coordinates at once (default 4). */
  readonly maxConcurrentSessions?: number
  /** Jobs of one attempt batched into one session (default and at most 16; at most 64 messages). */
  readonly maxJobsPerSession?: number
  /** Pending jobs read from the committed state per tick (default 256). */
  readonly pendingLimit?: number
  /** Wait before a job whose session failed is tried again in the same attempt (default 500 ms). */
  readonly retryDelayMs?: number
  readonly commitTimeoutMs?: number
  readonly signTimeoutMs?: number
  readonly maxRounds?: number
  readonly badShareMemoryMs?: number
  readonly nonceTtlMs?: number
  readonly noncePoolSize?: number
  readonly now?: () => number
  /** Builds the signer; the fault-injection node of the end-to-end tests passes a subclass overriding computeShare. */
  readonly createSigner?: (opts: FrostSignerOptions) => FrostSigner
  /** How the coordinator reaches the other signers (default: frost-sign/1 over `network`). */
  readonly transport?: SignerTransport
}

const DEFAULTS = { tickMs: 250, sessionTimeoutMs: 10_000, maxConcurrentSessions: 4, pendingLimit: 256, retryDelayMs: 500 }
/** How long the responder lets one request run (the largest sign request takes well under a second). */
const SERVE_TIMEOUT_MS = 10_000

/**
 * One frost-sign/1 responder per network and protocol: libp2p takes one handler per protocol
 * and the network has no way to remove it, so the handler forwards to whichever signing
 * service is attached now (a restarted service, with fresh memory, attaches again).
 */
interface Responder {
  target: SigningService | undefined
}
const responders = new WeakMap<GuardianNetwork, Map<string, Responder>>()

/**
 * FROST threshold signing of the jobs the committed state says await a signature.
 *
 * Driven by {@link notifyCommit} (after each committed block) and a timer: it reads
 * `pendingJobs`, computes each job's attempt from the time it became signable, and coordinates
 * the jobs whose coordinator for the current attempt is this guardian — batched by attempt (up
 * to 16 jobs, 64 messages a session), at most `maxConcurrentSessions` sessions at once, never
 * two sessions for one job. A job whose signature was submitted is not signed again in the same
 * attempt; if it is still pending in a later attempt, that attempt's coordinator signs it. With
 * fewer than t reachable signers a job just waits and is tried again at every tick.
 *
 * It also answers the other coordinators as a signer (see {@link FrostSigner}).
 */
export class SigningService {
  readonly signer: FrostSigner
  readonly coordinator: FrostCoordinator
  readonly metrics: SigningMetrics
  readonly protocol: string
  private readonly guardians: GuardianSet
  private readonly now: () => number
  private readonly tickMs: number
  private readonly sessionTimeoutMs: number
  private readonly maxConcurrent: number
  private readonly maxJobs: number
  private readonly pendingLimit: number
  private readonly retryDelayMs: number
  private readonly inFlight = new Set<string>()
  /** job key → attempt in which its signature was submitted */
  private readonly submitted = new Map<string, number>()
  /** job key → time before which a failed job is not tried again */
  private readonly retryAt = new Map<string, number>()
  /** job key → when a signature of it (any coordinator's) was seen on its way to the log */
  private readonly seenSignature = new Map<string, number>()
  private readonly active = new Set<Promise<void>>()
  private abort = new AbortController()
  private timer: NodeJS.Timeout | undefined
  private running = false
  private ticking = false
  private tickAgain = false
  private tickQueued = false

  constructor(private readonly opts: SigningServiceOptions) {
    this.guardians = new GuardianSet(opts.genesis)
    this.now = opts.now ?? Date.now
    this.tickMs = opts.tickMs ?? DEFAULTS.tickMs
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? DEFAULTS.sessionTimeoutMs
    this.maxConcurrent = opts.maxConcurrentSessions ?? DEFAULTS.maxConcurrentSessions
    this.maxJobs = Math.min(opts.maxJobsPerSession ?? MAX_SESSION_JOBS, MAX_SESSION_JOBS)
    this.pendingLimit = opts.pendingLimit ?? DEFAULTS.pendingLimit
    this.retryDelayMs = opts.retryDelayMs ?? DEFAULTS.retryDelayMs
    this.protocol = networkProtocol(opts.genesis.hash, FROST_SIGN_PROTOCOL_NAME)
    this.metrics = new SigningMetrics(opts.registry)
    const logger = opts.logger.child({ module: 'frost' })
    const signerOptions: FrostSignerOptions = {
      self: opts.self,
      guardians: this.guardians,
      jobs: opts.jobs,
      keyShare: opts.keyShare,
      metrics: this.metrics,
      logger,
      attemptMs: this.sessionTimeoutMs,
      ...(opts.nonceTtlMs === undefined ? {} : { nonceTtlMs: opts.nonceTtlMs }),
      ...(opts.noncePoolSize === undefined ? {} : { noncePoolSize: opts.noncePoolSize }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
    }
    this.signer = opts.createSigner?.(signerOptions) ?? new FrostSigner(signerOptions)
    this.coordinator = new FrostCoordinator({
      self: opts.self,
      guardians: this.guardians,
      signer: this.signer,
      transport: opts.transport ?? networkTransport(opts.network, this.protocol, MAX_FROST_RESPONSE_BYTES),
      submit: opts.submit,
      metrics: this.metrics,
      logger,
      ...(opts.commitTimeoutMs === undefined ? {} : { commitTimeoutMs: opts.commitTimeoutMs }),
      ...(opts.signTimeoutMs === undefined ? {} : { signTimeoutMs: opts.signTimeoutMs }),
      ...(opts.maxRounds === undefined ? {} : { maxRounds: opts.maxRounds }),
      ...(opts.badShareMemoryMs === undefined ? {} : { badShareMemoryMs: opts.badShareMemoryMs }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
    })
  }

  /** Serves frost-sign/1 as a signer and starts coordinating. */
  async start(): Promise<void> {
    if (this.running) return
    await this.attach()
    this.abort = new AbortController()
    this.signer.start()
    this.running = true
    this.timer = setInterval(() => void this.tick(), this.tickMs)
    this.scheduleTick()
  }

  /** Stops coordinating and answering: aborts the sessions in flight and wipes every nonce. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    clearInterval(this.timer)
    this.timer = undefined
    this.detach()
    this.abort.abort()
    this.signer.stop()
    await Promise.allSettled([...this.active])
  }

  /** Called by the node after each committed block: looks at the pending jobs now. */
  notifyCommit(): void {
    this.signer.notifyCommit()
    this.scheduleTick()
    if (this.running) void this.signer.prune().catch((err: unknown) => this.opts.logger.error({ err }, 'cannot prune signing sessions'))
  }

  /**
   * Called by the node for every ThresholdSignature transaction it admits (gossiped or its own):
   * a job whose signature is on its way to the log is not signed again by the next attempts'
   * coordinators for two attempt lengths, unless it is still not committed by then.
   */
  noteSignature(job: SigningJobRef): void {
    this.seenSignature.set(signingJobKey(job), this.now())
  }

  /** Answers one frost-sign/1 request from guardian `from` (what the network responder calls). */
  handleRequest(from: GuardianInfo, request: Uint8Array): Promise<Uint8Array> {
    return this.signer.handle(from, request)
  }

  /** The attempt of a job that became signable at `signableAtMs`. */
  attemptOf(signableAtMs: number, now = this.now()): number {
    return Math.max(0, Math.floor((now - signableAtMs) / this.sessionTimeoutMs))
  }

  private async attach(): Promise<void> {
    const { network } = this.opts
    let byProtocol = responders.get(network)
    if (byProtocol === undefined) responders.set(network, (byProtocol = new Map()))
    let responder = byProtocol.get(this.protocol)
    if (responder === undefined) {
      const slot: Responder = { target: undefined }
      responder = slot
      byProtocol.set(this.protocol, slot)
      try {
        await serveRequests(
          network,
          this.guardians,
          this.protocol,
          (from, request) => slot.target?.handleRequest(from, request) ?? Promise.resolve(encodeFrostResponse(frostError('unavailable', 'no signing service running'))),
          this.opts.logger.child({ module: 'frost' }),
          { maxRequestBytes: MAX_FROST_REQUEST_BYTES, timeoutMs: SERVE_TIMEOUT_MS },
        )
      } catch (err) {
        byProtocol.delete(this.protocol)
        throw err
      }
    }
    if (responder.target !== undefined && responder.target !== this) throw new Error(`${this.protocol}: another signing service is running on this network`)
    responder.target = this
  }

  private detach(): void {
    const responder = responders.get(this.opts.network)?.get(this.protocol)
    if (responder?.target === this) responder.target = undefined
  }

  private scheduleTick(): void {
    if (!this.running || this.tickQueued) return
    this.tickQueued = true
    setImmediate(() => {
      this.tickQueued = false
      void this.tick()
    })
  }

  private async tick(): Promise<void> {
    if (!this.running) return
    if (this.ticking) {
      this.tickAgain = true
      return
    }
    this.ticking = true
    try {
      await this.plan()
    } catch (err) {
      if (this.running) this.opts.logger.error({ err }, 'signing: cannot read pending jobs')
    } finally {
      this.ticking = false
      if (this.tickAgain) {
        this.tickAgain = false
        this.scheduleTick()
      }
    }
  }

  /** Picks the jobs this guardian coordinates now and starts sessions for them. */
  private async plan(): Promise<void> {
    const slots = this.maxConcurrent - this.active.size
    if (slots <= 0 || this.signer.keyPackage() === undefined) return
    const pending = await this.opts.jobs.pendingJobs(this.pendingLimit)
    const now = this.now()
    const n = this.guardians.size
    const pendingKeys = new Set(pending.map((p) => signingJobKey(p.ref)))
    for (const key of this.submitted.keys()) if (!pendingKeys.has(key)) this.submitted.delete(key)
    for (const [key, at] of this.retryAt) if (!pendingKeys.has(key) || at <= now) this.retryAt.delete(key)
    const signatureWaitMs = 2 * this.sessionTimeoutMs
    for (const [key, at] of this.seenSignature) if (!pendingKeys.has(key) || at + signatureWaitMs <= now) this.seenSignature.delete(key)

    const byAttempt = new Map<number, SigningJobRef[]>()
    for (const { ref, signableAtMs } of pending) {
      const key = signingJobKey(ref)
      const attempt = this.attemptOf(signableAtMs, now)
      if (signingCoordinator(ref, attempt, n) !== this.opts.self.index) continue
      if (this.inFlight.has(key) || this.submitted.get(key) === attempt || this.retryAt.has(key) || this.seenSignature.has(key)) continue
      const refs = byAttempt.get(attempt)
      if (refs === undefined) byAttempt.set(attempt, [ref])
      else refs.push(ref)
    }

    const batches: Array<{ attempt: number; jobs: SigningJob[]; messages: number }> = []
    collect: for (const [attempt, refs] of byAttempt) {
      let batch: { attempt: number; jobs: SigningJob[]; messages: number } | undefined
      for (const ref of refs) {
        const messages = await this.opts.jobs.jobMessages(ref)
        if (messages === undefined || messages.length < 1 || messages.length > MAX_JOB_SIGNATURES || messages.some((m) => m.length !== 32)) continue
        if (batch === undefined || batch.jobs.length >= this.maxJobs || batch.messages + messages.length > MAX_SESSION_MESSAGES) {
          if (batches.length >= slots) break collect
          batch = { attempt, jobs: [], messages: 0 }
          batches.push(batch)
        }
        batch.jobs.push({ ref, messages })
        batch.messages += messages.length
      }
    }
    if (!this.running) return
    for (const batch of batches) this.launch(batch.jobs, batch.attempt)
  }

  private launch(jobs: SigningJob[], attempt: number): void {
    const keys = jobs.map((j) => signingJobKey(j.ref))
    for (const key of keys) this.inFlight.add(key)
    const session: Promise<void> = this.coordinator
      .sign(jobs, attempt, this.abort.signal)
      .then((outcome) => {
        this.settle(keys, attempt, outcome)
        return outcome.outcome === 'signed'
      })
      .then(
        (more: boolean): void => {
          this.done(keys, session)
          // A session that signed frees a slot for queued jobs at once; the others wait for the timer.
          if (more) this.scheduleTick()
        },
        (): void => this.done(keys, session),
      )
    this.active.add(session)
  }

  private done(keys: readonly string[], session: Promise<void>): void {
    for (const key of keys) this.inFlight.delete(key)
    this.active.delete(session)
  }

  private settle(keys: readonly string[], attempt: number, outcome: SessionOutcome): void {
    const now = this.now()
    switch (outcome.outcome) {
      case 'signed':
        // Submitted (or refused by consensus): not signed again in this attempt.
        for (const key of keys) this.submitted.set(key, attempt)
        return
      case 'aborted':
        return
      case 'failed':
        for (const key of keys) this.retryAt.set(key, now + this.retryDelayMs)
        this.opts.logger.info({ jobs: keys, attempt, rounds: outcome.rounds, detail: outcome.detail }, 'signing session failed: retrying')
        return
      default:
        // Too few signers (or no key): tried again at the next timer tick, not in a loop.
        for (const key of keys) this.retryAt.set(key, now + this.tickMs / 2)
        this.opts.logger.debug({ jobs: keys, attempt, outcome: outcome.outcome, detail: outcome.detail }, 'signing session not started: waiting')
    }
  }
}
