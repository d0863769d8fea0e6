import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import type { Logger } from 'pino'
import {
  decodeFrostRequest,
  encodeFrostResponse,
  frostError,
  frostPublicOf,
  guardianIdentifier,
  MAX_JOB_SIGNATURES,
  MAX_SESSION_MESSAGES,
  outputKeyXOnly,
  SESSION_ID_BYTES,
  signingCoordinator,
  signingJobKey,
  type FrostCommitRequest,
  type FrostCommitResponse,
  type FrostErrorResponse,
  type FrostReleaseRequest,
  type FrostReleaseResponse,
  type FrostSignErrorCode,
  type FrostSignRequest,
  type FrostSignResponse,
  type GuardianInfo,
  type GuardianSet,
  type ReserveKey,
  type SigningJobRef,
} from '../../../protocol/index.js'
import type { SigningMetrics } from './metrics.js'
import { NoncePool, wipeNonces, type NoncePair } from './nonce-pool.js'
import type { KeyShareSource, SigningJobSource } from './types.js'

/** Pending jobs looked at to place an attempt in time (the coordinators look at as many). */
const PENDING_LOOKUP_LIMIT = 256

/** noble's signShare arguments (its input types accept any Uint8Array). */
type SignShareArgs = Parameters<typeof schnorr_FROST.signShare>
export type FrostSecret = SignShareArgs[0]
export type FrostPublic = SignShareArgs[1]
export type FrostNonces = SignShareArgs[2]
export type FrostCommitmentList = SignShareArgs[3]

export interface FrostSignerOptions {
  readonly self: GuardianInfo
  readonly guardians: GuardianSet
  readonly jobs: SigningJobSource
  readonly keyShare: KeyShareSource
  readonly metrics: SigningMetrics
  readonly logger: Logger
  /**
   * Length of one signing attempt (the service's sessionTimeoutMs). When set, a commit request is
   * refused unless its attempt is the current one by this signer's clock, give or take one: a
   * guardian cannot open sessions for attempts it would coordinate later.
   */
  readonly attemptMs?: number
  /** A session's nonces are wiped this long after the commit if no sign request used them (default 60 s). */
  readonly nonceTtlMs?: number
  /** Nonce pairs kept ready (default 64). */
  readonly noncePoolSize?: number
  /** Nonce pairs generated per event-loop turn when refilling (default 4). */
  readonly nonceRefillChunk?: number
  /** Open sessions this signer holds at most, all requesters together (default 256). */
  readonly maxOpenSessions?: number
  /** Open sessions one requester may hold (default 32). */
  readonly maxSessionsPerRequester?: number
  /**
   * How long a commit request for a job this guardian's committed state does not await yet may
   * wait for its next commits (default 1 s, below the coordinator's 2 s commit timeout): a signer
   * one block behind the coordinator is not left out of the session.
   */
  readonly catchUpMs?: number
  readonly now?: () => number
}

/** The public side of the reserve key this signer holds a share of, as noble takes it. */
export interface ReserveKeyPackage {
  readonly key: ReserveKey
  readonly pub: FrostPublic
  /** hex of the x-only output key */
  readonly outputKey: string
}

/** This guardian's share as noble takes it, with the key it belongs to (never leaves the signer). */
interface LoadedShare extends ReserveKeyPackage {
  readonly secret: FrostSecret
}

interface SignerSession {
  readonly requester: number
  readonly attempt: number
  readonly jobs: readonly SigningJobRef[]
  readonly jobKeys: ReadonlySet<string>
  readonly messages: readonly Uint8Array[]
  readonly outputKey: string
  readonly nonces: readonly NoncePair[]
  readonly expiresAt: number
}

type Refusal = FrostErrorResponse

const DEFAULTS = { nonceTtlMs: 60_000, noncePoolSize: 64, nonceRefillChunk: 4, maxOpenSessions: 256, maxSessionsPerRequester: 32, catchUpMs: 1_000 }
/** Shares computed per event-loop turn: a long session must not stall consensus timers. */
const SHARES_PER_TURN = 8
const publicPackages = new WeakMap<ReserveKey, FrostPublic>()

/**
 * The signer side of `frost-sign/1`: never a signing oracle.
 *
 * - It answers only the designated coordinator (`signingCoordinator(job, attempt, n)`) of every
 *   job of a request, and only with the reserve key it holds.
 * - It computes the messages itself, from its own committed state (`SigningJobSource`), when it
 *   commits and again when it signs; they must still be signable and unchanged.
 * - Each commitment list must hold its own commitment exactly as issued, at least t distinct
 *   known guardians, and well-formed points (checked while decoding).
 * - Nonces live only in memory: a pre-generated pool and a map of open sessions. A session's
 *   nonces are handed out once: the session leaves the map as soon as a sign request names it,
 *   and its nonces are wiped whatever the outcome. They are also wiped on release, on expiry
 *   (`nonceTtlMs`), when the same coordinator opens a new session for one of its jobs, when the
 *   committed state no longer awaits the session's messages ({@link FrostSigner.prune}), and on
 *   stop. They are never written anywhere, and no log line includes them (see NoncePair). A
 *   restart loses them: a sign request for an unknown session is refused and the coordinator
 *   starts over with fresh commitments.
 *
 * The share computation is the protected {@link FrostSigner.computeShare}: the fault-injection
 * node of the end-to-end tests subclasses the signer to return bad shares.
 */
export class FrostSigner {
  private readonly sessions = new Map<string, SignerSession>()
  private readonly pool: NoncePool
  private sweepTimer: NodeJS.Timeout | undefined
  private stopped = true
  private readonly now: () => number
  private readonly nonceTtlMs: number
  private readonly maxOpenSessions: number
  private readonly maxSessionsPerRequester: number
  private warnedBadShare = false
  private pruning = false
  private pruneAgain = false
  private readonly catchUpMs: number
  /** Commit requests waiting for this guardian's next committed block. */
  private readonly commitWaiters = new Set<() => void>()

  constructor(protected readonly opts: FrostSignerOptions) {
    this.now = opts.now ?? Date.now
    this.nonceTtlMs = opts.nonceTtlMs ?? DEFAULTS.nonceTtlMs
    this.maxOpenSessions = opts.maxOpenSessions ?? DEFAULTS.maxOpenSessions
    this.maxSessionsPerRequester = opts.maxSessionsPerRequester ?? DEFAULTS.maxSessionsPerRequester
    this.catchUpMs = opts.catchUpMs ?? DEFAULTS.catchUpMs
    this.pool = new NoncePool({
      target: opts.noncePoolSize ?? DEFAULTS.noncePoolSize,
      chunk: opts.nonceRefillChunk ?? DEFAULTS.nonceRefillChunk,
      onSize: (size) => opts.metrics.noncePoolSize.set(size),
    })
  }

  /** Open sessions (each holding nonces). */
  get openSessions(): number {
    return this.sessions.size
  }

  /** Nonce pairs ready in the pool. */
  get poolSize(): number {
    return this.pool.size
  }

  start(): void {
    clearInterval(this.sweepTimer)
    this.stopped = false
    this.pool.start(this.loadShare()?.secret)
    const every = Math.max(50, Math.min(this.nonceTtlMs, 5_000))
    this.sweepTimer = setInterval(() => void this.sweep(), every)
    this.sweepTimer.unref()
  }

  /** Stops answering and wipes every nonce: the pool and all open sessions. */
  stop(): void {
    this.stopped = true
    clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
    this.pool.stop()
    for (const id of [...this.sessions.keys()]) this.dropSession(id)
    // Waiting commit requests end now, refused as stopped.
    this.notifyCommit()
  }

  /** The reserve key this signer can sign for now (it holds a share consistent with its identity); otherwise undefined. */
  keyPackage(): ReserveKeyPackage | undefined {
    const share = this.loadShare()
    return share === undefined ? undefined : { key: share.key, pub: share.pub, outputKey: share.outputKey }
  }

  /** This guardian's share, if loaded and consistent with its identity; otherwise undefined. */
  private loadShare(): LoadedShare | undefined {
    const current = this.opts.keyShare.current()
    if (current === undefined) return undefined
    const { key, identifier, signingShare } = current
    if (identifier !== guardianIdentifier(this.opts.self.index) || key.verifyingShares.length !== this.opts.guardians.size) {
      if (!this.warnedBadShare) this.opts.logger.error({ guardian: this.opts.self.name }, 'key share does not belong to this guardian or guardian set: not signing')
      this.warnedBadShare = true
      return undefined
    }
    let pub = publicPackages.get(key)
    if (pub === undefined) publicPackages.set(key, (pub = frostPublicOf(key)))
    return { key, secret: { identifier, signingShare }, pub, outputKey: bytesToHex(outputKeyXOnly(key)) }
  }

  /** Answers one encoded request from guardian `from`. Never throws: bad input gets an error response. */
  async handle(from: GuardianInfo, request: Uint8Array): Promise<Uint8Array> {
    let decoded
    try {
      decoded = decodeFrostRequest(request, { guardians: this.opts.guardians.size })
    } catch (err) {
      return encodeFrostResponse(this.refuse(from, 'bad_request', `malformed request: ${(err as Error).message}`))
    }
    try {
      if (decoded.type === 'commit') return encodeFrostResponse(await this.commit(from, decoded))
      if (decoded.type === 'sign') return encodeFrostResponse(await this.sign(from, decoded))
      return encodeFrostResponse(this.release(from, decoded))
    } catch (err) {
      this.opts.logger.error({ err, from: from.name, request: decoded.type }, 'frost signer failed unexpectedly')
      return encodeFrostResponse(frostError('bad_request', 'internal error'))
    }
  }

  /** Round one: fresh nonce commitments for every message of the jobs, if `from` coordinates them. */
  async commit(from: GuardianInfo, request: FrostCommitRequest): Promise<FrostCommitResponse | Refusal> {
    if (this.stopped) return this.refuse(from, 'unavailable', 'signing service stopped')
    const share = this.loadShare()
    if (share === undefined) return this.refuse(from, 'no_key', 'this guardian holds no key share')
    if (bytesToHex(request.outputKey) !== share.outputKey) return this.refuse(from, 'wrong_key', 'this guardian holds a share of another reserve key')
    const n = this.opts.guardians.size
    for (const job of request.jobs) {
      const coordinator = signingCoordinator(job, request.attempt, n)
      if (coordinator !== from.index) {
        return this.refuse(from, 'not_coordinator', `${this.nameOf(coordinator)} coordinates attempt ${request.attempt} of ${signingJobKey(job)}, not ${from.name}`)
      }
    }
    const early = await this.attemptProblem(request)
    if (early !== undefined) return this.refuse(from, 'wrong_attempt', early)
    let messages = await this.messagesOf(request.jobs)
    // The coordinator asks as soon as it committed the approval: a signer a block behind waits
    // for its own commits, briefly, before it refuses.
    const deadline = this.now() + this.catchUpMs
    while (!Array.isArray(messages) && messages.code === 'not_signable' && !this.stopped && (await this.nextCommit(deadline - this.now()))) {
      messages = await this.messagesOf(request.jobs)
    }
    if (this.stopped) return this.refuse(from, 'unavailable', 'signing service stopped')
    if (!Array.isArray(messages)) return this.refuse(from, messages.code, messages.message)

    // A coordinator runs one session per job at a time: a new commit request replaces its older ones.
    const jobKeys = new Set(request.jobs.map(signingJobKey))
    for (const [id, session] of this.sessions) {
      if (session.requester === from.index && [...session.jobKeys].some((key) => jobKeys.has(key))) this.dropSession(id)
    }
    let mine = 0
    for (const session of this.sessions.values()) if (session.requester === from.index) mine++
    if (this.sessions.size >= this.maxOpenSessions || mine >= this.maxSessionsPerRequester) {
      return this.refuse(from, 'busy', `${this.sessions.size} sessions open (${mine} of ${from.name})`)
    }

    const nonces = await this.pool.take(share.secret, messages.length)
    if (this.stopped || this.loadShare()?.outputKey !== share.outputKey) {
      for (const pair of nonces) pair.wipe()
      return this.refuse(from, 'unavailable', 'signing service stopped or key changed')
    }
    const sessionId = randomBytes(SESSION_ID_BYTES)
    this.sessions.set(bytesToHex(sessionId), {
      requester: from.index,
      attempt: request.attempt,
      jobs: request.jobs,
      jobKeys,
      messages,
      outputKey: share.outputKey,
      nonces,
      expiresAt: this.now() + this.nonceTtlMs,
    })
    this.opts.metrics.signerSessions.set(this.sessions.size)
    return { type: 'commitments', sessionId, commitments: nonces.map((pair) => ({ hiding: pair.hiding, binding: pair.binding })) }
  }

  /** Round two: a share per message with the session's nonces, which are then gone whatever happens. */
  async sign(from: GuardianInfo, request: FrostSignRequest): Promise<FrostSignResponse | Refusal> {
    if (this.stopped) return this.refuse(from, 'unavailable', 'signing service stopped')
    const id = bytesToHex(request.sessionId)
    const session = this.sessions.get(id)
    // Another guardian naming this session learns nothing and cannot cancel it.
    if (session === undefined || session.requester !== from.index) return this.refuse(from, 'unknown_session', 'no such session (used, expired, or lost in a restart): ask for fresh commitments')
    // Used once: out of the map before anything else can happen; the nonces are wiped in `finally`.
    this.sessions.delete(id)
    this.opts.metrics.signerSessions.set(this.sessions.size)
    try {
      return await this.signSession(from, request, session)
    } finally {
      for (const pair of session.nonces) pair.wipe()
    }
  }

  /**
   * Wipes expired sessions and those whose jobs the committed state no longer lists as awaiting
   * these messages (signed meanwhile, e.g. by other signers): a coordinator that timed out on a
   * commit request never learnt the session id, so it could not release it. Called after every
   * committed block and by the periodic sweep.
   */
  async prune(): Promise<void> {
    if (this.pruning) {
      this.pruneAgain = true
      return
    }
    this.pruning = true
    try {
      do {
        this.pruneAgain = false
        await this.pruneOnce()
      } while (this.pruneAgain)
    } finally {
      this.pruning = false
    }
  }

  private async pruneOnce(): Promise<void> {
    const now = this.now()
    const current = new Map<string, readonly Uint8Array[] | undefined>()
    for (const [id, session] of [...this.sessions]) {
      if (session.expiresAt <= now) {
        this.dropSession(id)
        continue
      }
      const latest: Uint8Array[] = []
      let signable = true
      for (const job of session.jobs) {
        const key = signingJobKey(job)
        if (!current.has(key)) current.set(key, await this.opts.jobs.jobMessages(job).catch(() => undefined))
        const messages = current.get(key)
        if (messages === undefined) signable = false
        else latest.push(...messages)
      }
      signable &&= latest.length === session.messages.length && latest.every((msg, i) => equalBytes(msg, session.messages[i]!))
      if (!signable && this.sessions.get(id) === session) this.dropSession(id)
    }
  }

  /** Why the request's attempt is not current by this signer's clock (±1), or undefined. Jobs it does not list are left to the signability check. */
  private async attemptProblem(request: FrostCommitRequest): Promise<string | undefined> {
    const attemptMs = this.opts.attemptMs
    if (attemptMs === undefined) return undefined
    const pending = new Map((await this.opts.jobs.pendingJobs(PENDING_LOOKUP_LIMIT)).map((p) => [signingJobKey(p.ref), p.signableAtMs]))
    const now = this.now()
    for (const job of request.jobs) {
      const signableAt = pending.get(signingJobKey(job))
      if (signableAt === undefined) continue
      const current = Math.max(0, Math.floor((now - signableAt) / attemptMs))
      if (Math.abs(request.attempt - current) > 1) return `attempt ${request.attempt} of ${signingJobKey(job)} is not current (${current} here)`
    }
    return undefined
  }

  /** The coordinator will not use these commitments: wipe the nonces now. */
  release(from: GuardianInfo, request: FrostReleaseRequest): FrostReleaseResponse {
    const id = bytesToHex(request.sessionId)
    if (this.sessions.get(id)?.requester === from.index) this.dropSession(id)
    return { type: 'released' }
  }

  /**
   * One signature share: noble's `signShare`, which checks that the list holds this signer's
   * commitment for these nonces and zeroes the nonces it used. Protected so that the
   * fault-injection node of the end-to-end tests can return bad shares; nothing else should
   * override it.
   */
  protected computeShare(secret: FrostSecret, pub: FrostPublic, nonces: FrostNonces, commitmentList: FrostCommitmentList, message: Uint8Array): Uint8Array {
    return schnorr_FROST.signShare(secret, pub, nonces, commitmentList, message)
  }

  private async signSession(from: GuardianInfo, request: FrostSignRequest, session: SignerSession): Promise<FrostSignResponse | Refusal> {
    if (session.expiresAt <= this.now()) return this.refuse(from, 'unknown_session', 'session expired: ask for fresh commitments')
    const sameJobs = request.jobs.length === session.jobs.length && request.jobs.every((job, i) => signingJobKey(job) === signingJobKey(session.jobs[i]!))
    if (!sameJobs || request.attempt !== session.attempt || bytesToHex(request.outputKey) !== session.outputKey) {
      return this.refuse(from, 'bad_request', 'the sign request does not name the jobs, attempt and key of its commit request')
    }
    const share = this.loadShare()
    if (share === undefined) return this.refuse(from, 'no_key', 'this guardian holds no key share')
    if (share.outputKey !== session.outputKey) return this.refuse(from, 'wrong_key', 'the reserve key changed since the commitments')
    const t = share.key.threshold
    const n = this.opts.guardians.size
    const self = this.opts.self.index
    if (request.commitments.length !== session.messages.length) {
      return this.refuse(from, 'bad_request', `expected ${session.messages.length} commitment lists (one per message), got ${request.commitments.length}`)
    }
    for (const [m, list] of request.commitments.entries()) {
      if (list.length < t) return this.refuse(from, 'bad_request', `commitment list ${m}: ${list.length} signers, at least ${t} needed`)
      const unknown = list.find((c) => c.signer >= n)
      if (unknown !== undefined) return this.refuse(from, 'bad_request', `commitment list ${m}: unknown signer ${unknown.signer}`)
      const own = list.find((c) => c.signer === self)
      if (own === undefined) return this.refuse(from, 'bad_request', `commitment list ${m}: this signer is not in it`)
      const issued = session.nonces[m]!
      if (!equalBytes(own.hiding, issued.hiding) || !equalBytes(own.binding, issued.binding)) {
        return this.refuse(from, 'bad_request', `commitment list ${m}: this signer's commitment is not the one it issued`)
      }
    }
    // The committed state decides again: still awaiting a signature, same messages.
    const messages = await this.messagesOf(session.jobs)
    if (this.stopped) return this.refuse(from, 'unavailable', 'signing service stopped')
    if (!Array.isArray(messages)) return this.refuse(from, messages.code, messages.message)
    if (messages.length !== session.messages.length || messages.some((msg, i) => !equalBytes(msg, session.messages[i]!))) {
      return this.refuse(from, 'not_signable', 'the messages of the jobs changed since the commitments')
    }

    const shares: Uint8Array[] = []
    for (const [m, list] of request.commitments.entries()) {
      const nonces = session.nonces[m]!.take()
      if (nonces === undefined) return this.refuse(from, 'unknown_session', 'nonces already used')
      const commitmentList: FrostCommitmentList = list.map((c) => ({ identifier: guardianIdentifier(c.signer), hiding: c.hiding, binding: c.binding }))
      try {
        shares.push(this.computeShare(share.secret, share.pub, nonces, commitmentList, messages[m]!))
      } catch (err) {
        return this.refuse(from, 'bad_request', `message ${m}: ${(err as Error).message}`)
      } finally {
        wipeNonces(nonces)
      }
      if ((m + 1) % SHARES_PER_TURN === 0 && m + 1 < request.commitments.length) {
        await new Promise<void>((resolve) => setImmediate(resolve))
        if (this.stopped) return this.refuse(from, 'unavailable', 'signing service stopped')
      }
    }
    this.opts.metrics.sharesServed.inc(shares.length)
    this.opts.logger.debug({ coordinator: from.name, jobs: session.jobs.map(signingJobKey), attempt: session.attempt, shares: shares.length }, 'signature shares served')
    return { type: 'shares', shares }
  }

  /** Called after each committed block: wakes the commit requests waiting for it. */
  notifyCommit(): void {
    const waiters = [...this.commitWaiters]
    this.commitWaiters.clear()
    for (const wake of waiters) wake()
  }

  /** Resolves true at this guardian's next commit, false after `timeoutMs` (or at once if ≤ 0). */
  private nextCommit(timeoutMs: number): Promise<boolean> {
    if (timeoutMs <= 0) return Promise.resolve(false)
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.commitWaiters.delete(wake)
        resolve(false)
      }, timeoutMs)
      this.commitWaiters.add(wake)
    })
  }

  /** The messages of `jobs` from this guardian's committed state, flattened in order, or why not. */
  private async messagesOf(jobs: readonly SigningJobRef[]): Promise<Uint8Array[] | { code: FrostSignErrorCode; message: string }> {
    let perJob: Array<Uint8Array[] | undefined>
    try {
      perJob = await Promise.all(jobs.map((job) => this.opts.jobs.jobMessages(job)))
    } catch (err) {
      this.opts.logger.error({ err }, 'cannot read signing jobs from the committed state')
      return { code: 'not_signable', message: 'cannot read the committed state' }
    }
    const messages: Uint8Array[] = []
    for (const [i, job] of jobs.entries()) {
      const jobMessages = perJob[i]
      if (jobMessages === undefined) return { code: 'not_signable', message: `${signingJobKey(job)} is not awaiting a signature in ${this.opts.self.name}'s committed state` }
      if (jobMessages.length < 1 || jobMessages.length > MAX_JOB_SIGNATURES || jobMessages.some((msg) => msg.length !== 32)) {
        this.opts.logger.error({ job: signingJobKey(job), messages: jobMessages.length }, 'signing job source returned invalid messages (expected 1..64 sighashes of 32 bytes)')
        return { code: 'not_signable', message: `${signingJobKey(job)} has no valid messages` }
      }
      messages.push(...jobMessages.map((msg) => msg.slice()))
    }
    if (messages.length > MAX_SESSION_MESSAGES) return { code: 'bad_request', message: `the jobs sign ${messages.length} messages, at most ${MAX_SESSION_MESSAGES} per session` }
    return messages
  }

  private refuse(from: GuardianInfo, code: FrostSignErrorCode, message: string): Refusal {
    this.opts.metrics.signerRefusals.inc({ code })
    const routine = code === 'not_signable' || code === 'unknown_session' || code === 'unavailable' || code === 'no_key' || code === 'busy'
    this.opts.logger[routine ? 'debug' : 'warn']({ from: from.name, code, reason: message }, 'frost signing request refused')
    return frostError(code, message)
  }

  private dropSession(id: string): void {
    const session = this.sessions.get(id)
    if (session === undefined) return
    this.sessions.delete(id)
    for (const pair of session.nonces) pair.wipe()
    this.opts.metrics.signerSessions.set(this.sessions.size)
  }

  private async sweep(): Promise<void> {
    const now = this.now()
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.dropSession(id)
    if (!this.stopped) this.pool.start(this.loadShare()?.secret)
    await this.prune().catch((err: unknown) => this.opts.logger.error({ err }, 'cannot prune signing sessions'))
  }

  private nameOf(index: number): string {
    return this.opts.guardians.at(index)?.name ?? `guardian ${index}`
  }
}
