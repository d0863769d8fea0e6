import { bytesToHex } from '@noble/hashes/utils.js'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  decodeDkgRequest,
  decodeDkgResponse,
  DKG_PROTOCOL_NAME,
  DkgBlame,
  dkgDetail,
  dkgSessionId,
  encodeDkgRequest,
  encodeDkgResponse,
  MAX_DKG_ATTEMPT,
  MAX_DKG_REQUEST_BYTES,
  MAX_DKG_RESPONSE_BYTES,
  ProtocolError,
  type DkgAbortReason,
  type DkgRequest,
  type DkgRequestType,
  type DkgResponse,
  type DkgRound1Package,
  type Genesis,
  type GuardianInfo,
  type GuardianSet,
  type ReserveKey,
  type ReserveKeyTx,
} from '../../../protocol/index.js'
import { DEFAULT_KDF, keySharesPath, readKeyShare, writeKeyShare, type KdfParams } from '../../keystore/index.js'
import { networkProtocol, sendRequest, serveRequests, type GuardianNetwork } from '../../network/index.js'
import { DkgServiceError } from './errors.js'
import { DkgMetrics } from './metrics.js'
import { DkgSession, holdsPackageOf, type AbortInfo, type SessionContext } from './session.js'

export interface DkgServiceOptions {
  readonly genesis: Genesis
  readonly guardians: GuardianSet
  readonly self: GuardianInfo
  readonly votePrivateKey: Uint8Array
  readonly network: GuardianNetwork
  /** The guardian's keystore file; shares go to {@link keySharesPath}(keystoreFile) unless `sharesFile` is set. */
  readonly keystoreFile: string
  readonly sharesFile?: string
  /** The keystore passphrase: it also encrypts the share file. */
  readonly passphrase: string
  /** scrypt parameters of a new share file (default DEFAULT_KDF; an existing file keeps its own). */
  readonly kdf?: KdfParams
  /** The reserve key in the committed state, if any: the service stops once there is one. */
  readonly committedKey: () => Promise<ReserveKey | undefined>
  /** Hands the finished ReserveKey transaction to the mempool (every guardian may; the state machine keeps the first). */
  readonly submit: (tx: ReserveKeyTx) => Promise<unknown> | unknown
  readonly registry: Registry
  readonly logger: Logger
  /** How often peers are asked for what is still missing (default 200 ms). */
  readonly pollIntervalMs?: number
  /** Timeout of one request to a peer (default 5 s). */
  readonly requestTimeoutMs?: number
  /**
   * How long joining an attempt waits for every peer to say where it is, before going ahead
   * with the peers that answered (default 3 s). Joining ends as soon as all peers answered.
   */
  readonly joinWindowMs?: number
  /** Submit the finished transaction again this often until the key is committed (default 30 s). */
  readonly resubmitIntervalMs?: number
  /** Stops the service when aborted (the node's lifetime). */
  readonly signal?: AbortSignal
}

export type DkgState = 'idle' | 'running' | 'complete' | 'aborted'

export type DkgPhase =
  /** Not taking part (yet). */
  | 'idle'
  /** Finding out which attempt to enter, and whether this guardian was in it before a restart. */
  | 'joining'
  | 'round1'
  | 'shares'
  | 'storing'
  | 'signatures'
  /** Every guardian signed the result; the transaction is submitted. */
  | 'submitted'
  /** The reserve key is in the committed state. */
  | 'committed'
  | 'aborted'

/** What operators see (GET /v1/reserves/dkg). Counts include this guardian's own contribution. */
export interface DkgStatus {
  readonly state: DkgState
  readonly phase: DkgPhase
  /** The attempt this guardian is in (while idle: the highest seen, or 0). */
  readonly attempt: number
  /** Session id of the attempt (hex), or null while idle or joining. */
  readonly sessionId: string | null
  readonly participants: number
  readonly threshold: number
  /** Round-1 packages held (of `participants`). */
  readonly round1: number
  /** Round-2 shares received from the others (of `participants` − 1). */
  readonly shares: number
  /** Result signatures held (of `participants`). */
  readonly signatures: number
  /** The taproot output key Q (hex, compressed), once known. */
  readonly groupKey: string | null
  /** Name of the guardian blamed for an abort. */
  readonly culprit: string | null
  readonly culpritIndex: number | null
  readonly reason: DkgAbortReason | null
  /** Name of the guardian that detected the fault (this one, or the peer that reported it). */
  readonly detectedBy: string | null
  readonly detail: string | null
}

interface Join {
  /** Lowest attempt to enter. */
  readonly floor: number
  /** startNewAttempt: first learn the highest attempt anywhere, then open the next one. */
  readonly newAttempt: boolean
  target: number
  readonly answered: Set<number>
  holdsMine: boolean
  aborted: AbortInfo | undefined
  readonly startedAt: number
  deciding: boolean
}

type Mode = { readonly kind: 'idle' } | { readonly kind: 'joining'; readonly join: Join } | { readonly kind: 'session'; readonly session: DkgSession }

const DEFAULT_POLL_MS = 200
const DEFAULT_REQUEST_TIMEOUT_MS = 5000
const DEFAULT_JOIN_WINDOW_MS = 3000
const DEFAULT_RESUBMIT_MS = 30_000
const SUBMIT_RETRY_MS = 1000

/**
 * The guardian's side of the reserve-key DKG: every guardian of the set takes part (n of n
 * contribute, any t = genesis.reserveThreshold can sign). Messages are pulled from peers over
 * the `dkg/1` request-response protocol every `pollIntervalMs` until the attempt completes, so
 * late starters and lost answers need no special handling.
 *
 * Flow of an attempt: round 1 (every guardian's signed package, each checked: proof of
 * knowledge, points, equivocation) → round 2 (each share checked against its sender's
 * commitments) → round 3 → the share is stored encrypted, THEN the result is signed → once all
 * n guardians signed the same result, the ReserveKey transaction is submitted. A failed check
 * aborts the attempt naming the guardian at fault; peers learn it when they poll. There is no
 * automatic retry after such an abort: an operator starts a new attempt (startNewAttempt).
 *
 * Attempts: a guardian that sees a higher attempt (in an answer or a request) abandons its own
 * and follows, unless it already holds every signature or a key is committed. A guardian that
 * restarted lost its round secret: joining an attempt, it first asks peers for their round-1
 * transcripts, and if they hold a package it signed for that attempt it opens attempt + 1
 * instead (peers follow); if its share file holds that attempt's result, it resumes signing it.
 *
 * `outgoingRound1` and `outgoingShare` are seams for tests that build Byzantine participants
 * by subclassing; the service itself never alters what it publishes.
 */
export class DkgService {
  private readonly ctx: SessionContext
  private readonly protocol: string
  private readonly metrics: DkgMetrics
  private readonly logger: Logger
  private readonly sharesFile: string
  private readonly pollIntervalMs: number
  private readonly requestTimeoutMs: number
  private readonly joinWindowMs: number
  private readonly resubmitIntervalMs: number
  private mode: Mode = { kind: 'idle' }
  private listening = false
  private listenPromise: Promise<void> | undefined
  private stopped = false
  private highestSeen = -1
  private committed: ReserveKey | undefined
  private timer: NodeJS.Timeout | undefined
  private controller = new AbortController()
  private readonly inFlight = new Set<number>()
  private readonly checking = new Set<number>()
  private submittedAt: number | undefined
  private nextSubmitAt = 0
  private readonly unsupported: string | undefined

  constructor(private readonly opts: DkgServiceOptions) {
    const n = opts.guardians.size
    const threshold = opts.genesis.reserveThreshold
    this.ctx = { networkId: opts.genesis.hash, guardians: opts.guardians, self: opts.self, votePrivateKey: opts.votePrivateKey, threshold }
    this.protocol = networkProtocol(opts.genesis.hash, DKG_PROTOCOL_NAME)
    this.metrics = new DkgMetrics(opts.registry)
    this.logger = opts.logger.child({ component: 'dkg' })
    this.sharesFile = opts.sharesFile ?? keySharesPath(opts.keystoreFile)
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_MS
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.joinWindowMs = opts.joinWindowMs ?? DEFAULT_JOIN_WINDOW_MS
    this.resubmitIntervalMs = opts.resubmitIntervalMs ?? DEFAULT_RESUBMIT_MS
    if (n < 2 || threshold < 2 || threshold > n) {
      this.unsupported = `a FROST DKG needs 2 ≤ threshold ≤ guardians (have ${threshold} of ${n})`
    }
    if (opts.signal?.aborted === true) this.stopped = true
    opts.signal?.addEventListener('abort', () => void this.stop(), { once: true })
  }

  /** The share file this service writes. */
  get keySharesFile(): string {
    return this.sharesFile
  }

  /**
   * Serves `dkg/1` and follows attempts that peers open, without opening one: a listening
   * guardian joins as soon as a peer asks it about an attempt (and no key is committed).
   */
  async listen(): Promise<void> {
    if (this.stopped) throw new DkgServiceError('stopped', 'the DKG service was stopped')
    this.listenPromise ??= (async () => {
      this.committed = await this.opts.committedKey()
      await serveRequests(this.opts.network, this.opts.guardians, this.protocol, (from, request) => Promise.resolve(this.answer(from, request)), this.logger, {
        maxRequestBytes: MAX_DKG_REQUEST_BYTES,
        timeoutMs: this.requestTimeoutMs,
      })
      this.listening = true
    })().catch((err: unknown) => {
      this.listenPromise = undefined
      throw err
    })
    await this.listenPromise
  }

  /**
   * Takes part now: in `attempt`, or (no argument) in the highest attempt any peer is in (0 if
   * none). Refuses when a reserve key is committed.
   */
  async start(attempt?: number): Promise<void> {
    if (attempt !== undefined && (!Number.isSafeInteger(attempt) || attempt < 0 || attempt > MAX_DKG_ATTEMPT)) throw new RangeError(`bad DKG attempt ${attempt}`)
    await this.prepareStart()
    if (this.mode.kind === 'session' && this.mode.session.phase === 'complete') return
    if (this.mode.kind === 'session' && !this.mode.session.finished && (attempt === undefined || attempt <= this.mode.session.attempt)) return
    if (this.mode.kind === 'joining' && (attempt === undefined || attempt <= this.mode.join.target)) return
    this.beginJoin(attempt ?? 0, false)
  }

  /** Opens a new attempt: the highest attempt seen anywhere + 1. Peers without a committed key follow. */
  async startNewAttempt(): Promise<DkgStatus> {
    await this.prepareStart()
    if (this.mode.kind === 'session' && this.mode.session.phase === 'complete') {
      throw new DkgServiceError('pending_commit', `every guardian signed the result of attempt ${this.mode.session.attempt}; it awaits commit`)
    }
    const current = this.mode.kind === 'session' ? this.mode.session.attempt + 1 : 0
    this.beginJoin(Math.max(current, this.highestSeen + 1), true)
    return this.status()
  }

  /** Stops polling and wipes the round secrets. Requests are answered "not ready" from then on. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.controller.abort()
    if (this.mode.kind === 'session') this.mode.session.wipe()
  }

  status(): DkgStatus {
    const n = this.opts.guardians.size
    const base = {
      participants: n,
      threshold: this.ctx.threshold,
      culprit: null,
      culpritIndex: null,
      reason: null,
      detectedBy: null,
      detail: null,
    }
    const mode = this.mode
    if (this.committed !== undefined) {
      const s = mode.kind === 'session' ? mode.session : undefined
      return {
        ...base,
        state: 'complete',
        phase: 'committed',
        attempt: s?.attempt ?? Math.max(this.highestSeen, 0),
        sessionId: bytesToHex(this.committed.sessionId),
        round1: s?.round1Received ?? 0,
        shares: s?.sharesReceived ?? 0,
        signatures: s?.signatures.size ?? 0,
        groupKey: bytesToHex(this.committed.groupKey),
      }
    }
    if (mode.kind !== 'session') {
      return {
        ...base,
        state: mode.kind === 'joining' ? 'running' : 'idle',
        phase: mode.kind === 'joining' ? 'joining' : 'idle',
        attempt: mode.kind === 'joining' ? mode.join.target : Math.max(this.highestSeen, 0),
        sessionId: null,
        round1: 0,
        shares: 0,
        signatures: 0,
        groupKey: null,
      }
    }
    const s = mode.session
    const abort = s.abortInfo
    const phase: DkgPhase = s.phase === 'complete' ? 'submitted' : s.phase === 'abandoned' ? 'joining' : s.phase
    return {
      ...base,
      state: s.phase === 'complete' ? 'complete' : s.phase === 'aborted' ? 'aborted' : 'running',
      phase,
      attempt: s.attempt,
      sessionId: bytesToHex(s.sessionId),
      round1: s.round1Received,
      shares: s.sharesReceived,
      signatures: s.signatures.size,
      groupKey: s.key === undefined ? null : bytesToHex(s.key.groupKey),
      ...(abort === undefined
        ? {}
        : {
            culprit: this.nameOf(abort.culprit),
            culpritIndex: abort.culprit,
            reason: abort.reason,
            detectedBy: this.nameOf(abort.detectedBy),
            detail: abort.detail,
          }),
    }
  }

  // --- seams for Byzantine test participants ---------------------------------------------------

  /** The round-1 package as this guardian publishes it (before signing). */
  protected outgoingRound1(pkg: DkgRound1Package): DkgRound1Package {
    return pkg
  }

  /** The round-2 share served to `to` in `attempt`; undefined withholds it ("not ready"). */
  protected outgoingShare(_to: GuardianInfo, share: Uint8Array, _attempt: number): Uint8Array | undefined {
    return share
  }

  // --- attempts ----------------------------------------------------------------------------------

  private async prepareStart(): Promise<void> {
    if (this.stopped) throw new DkgServiceError('stopped', 'the DKG service was stopped')
    if (this.unsupported !== undefined) throw new DkgServiceError('unsupported', this.unsupported)
    const committed = await this.opts.committedKey()
    if (committed !== undefined) {
      this.committed = committed
      throw new DkgServiceError('already_committed', `a reserve key is committed already (group key ${bytesToHex(committed.groupKey)})`)
    }
    await this.listen()
  }

  private beginJoin(floor: number, newAttempt: boolean): void {
    if (this.mode.kind === 'session') this.leave(this.mode.session)
    // A new attempt's number is fixed when joining ends (the highest seen by then + 1).
    const target = newAttempt ? floor : Math.max(floor, this.highestSeen)
    const join: Join = { floor, newAttempt, target, answered: new Set(), holdsMine: false, aborted: undefined, startedAt: Date.now(), deciding: false }
    this.mode = { kind: 'joining', join }
    this.logger.info({ attempt: newAttempt ? undefined : target }, newAttempt ? 'DKG: opening a new attempt' : `DKG: joining attempt ${target}`)
    this.schedule(0)
  }

  /**
   * A peer is in `attempt`. With `follow`, a guardian behind it (idle, joining a lower attempt,
   * or in a lower attempt it has not completed) abandons its own and follows.
   */
  private seeAttempt(attempt: number, follow: boolean): void {
    if (attempt > this.highestSeen) this.highestSeen = attempt
    if (!follow || this.stopped || !this.listening || this.committed !== undefined || this.unsupported !== undefined) return
    const mode = this.mode
    if (mode.kind === 'idle') {
      this.beginJoin(attempt, false)
    } else if (mode.kind === 'joining') {
      const join = mode.join
      if (!join.newAttempt && attempt > join.target) {
        join.target = attempt
        join.answered.clear()
        join.holdsMine = false
        join.aborted = undefined
      }
    } else if (attempt > mode.session.attempt && mode.session.phase !== 'complete') {
      this.logger.info({ from: mode.session.attempt, to: attempt }, `DKG: a peer is in attempt ${attempt}; leaving attempt ${mode.session.attempt}`)
      this.beginJoin(attempt, false)
    }
  }

  private async decideJoin(join: Join): Promise<void> {
    try {
      await this.tryDecideJoin(join)
    } catch (err) {
      join.deciding = false
      this.logger.error({ err: errorText(err) }, 'DKG: cannot enter an attempt; will try again')
    }
  }

  private async tryDecideJoin(join: Join): Promise<void> {
    join.deciding = true
    const attempt = join.newAttempt ? Math.max(join.floor, this.highestSeen + 1) : join.target
    let committed: ReserveKey | undefined
    let stored: ReserveKey | undefined
    try {
      committed = await this.opts.committedKey()
      if (committed === undefined && !join.newAttempt) {
        const entry = await readKeyShare(this.sharesFile, this.opts.passphrase, dkgSessionId(this.ctx.networkId, attempt))
        if (entry !== undefined) {
          stored = entry.key
          entry.signingShare.fill(0)
        }
      }
    } catch (err) {
      this.logger.error({ err: errorText(err) }, 'DKG: cannot read the share file or the committed key; joining without them')
    }
    if (this.mode.kind !== 'joining' || this.mode.join !== join || this.stopped) return
    if (committed !== undefined) {
      this.onCommitted(committed)
      return
    }
    if (!join.newAttempt && join.target !== attempt) {
      join.deciding = false
      return
    }
    let session: DkgSession
    if (join.newAttempt) {
      session = this.freshSession(attempt)
    } else if (join.aborted !== undefined) {
      session = DkgSession.aborted(this.ctx, attempt, join.aborted)
      const a = join.aborted
      this.logger.error(
        { attempt, culprit: this.nameOf(a.culprit), reason: a.reason, detectedBy: this.nameOf(a.detectedBy) },
        `DKG attempt ${attempt} was aborted by the guardians: ${this.nameOf(a.culprit)} ${a.reason} (detected by ${this.nameOf(a.detectedBy)}); an operator must start a new attempt`,
      )
    } else if (stored !== undefined) {
      session = DkgSession.resume(this.ctx, attempt, stored)
      this.metrics.runs.inc({ outcome: 'started' })
      this.logger.info({ attempt, groupKey: bytesToHex(stored.groupKey) }, `DKG: resuming attempt ${attempt} from the share file`)
    } else if (join.holdsMine) {
      if (attempt >= MAX_DKG_ATTEMPT) throw new DkgServiceError('unsupported', 'no DKG attempt numbers left')
      this.logger.warn({ attempt }, `DKG: peers hold this guardian's round-1 package of attempt ${attempt} from before a restart; opening attempt ${attempt + 1}`)
      session = this.freshSession(attempt + 1)
    } else {
      session = this.freshSession(attempt)
    }
    this.enter(session)
  }

  private freshSession(attempt: number): DkgSession {
    this.metrics.runs.inc({ outcome: 'started' })
    return DkgSession.fresh(this.ctx, attempt, (pkg) => this.outgoingRound1(pkg))
  }

  private enter(session: DkgSession): void {
    this.mode = { kind: 'session', session }
    this.submittedAt = undefined
    this.nextSubmitAt = 0
    if (session.attempt > this.highestSeen) this.highestSeen = session.attempt
    this.metrics.attempt.set(session.attempt)
    if (session.phase !== 'aborted') this.logger.info({ attempt: session.attempt, sessionId: bytesToHex(session.sessionId) }, `DKG: in attempt ${session.attempt}`)
    this.schedule(0)
  }

  private leave(session: DkgSession): void {
    if (!session.finished) this.metrics.runs.inc({ outcome: 'abandoned' })
    session.abandon()
  }

  // --- polling -----------------------------------------------------------------------------------

  private schedule(delayMs = this.pollIntervalMs): void {
    if (this.stopped || this.committed !== undefined) return
    if (this.timer !== undefined) {
      if (delayMs > 0) return
      clearTimeout(this.timer)
    }
    this.timer = setTimeout(() => void this.tick(), delayMs)
  }

  private async tick(): Promise<void> {
    this.timer = undefined
    if (this.stopped) return
    try {
      const committed = await this.opts.committedKey()
      if (committed !== undefined) {
        this.onCommitted(committed)
        return
      }
    } catch (err) {
      this.logger.warn({ err: errorText(err) }, 'DKG: cannot read the committed reserve key')
    }
    if (this.stopped) return
    try {
      this.step()
    } catch (err) {
      this.logger.error({ err: errorText(err) }, 'DKG: poll step failed')
    }
    if (this.mode.kind !== 'idle') this.schedule()
  }

  private step(): void {
    const mode = this.mode
    const connected = new Set(this.opts.network.peerStates().filter((p) => p.connected).map((p) => p.guardian.index))
    const peers = this.opts.guardians.guardians.filter((g) => g.index !== this.opts.self.index)
    if (mode.kind === 'joining') {
      const join = mode.join
      if (join.deciding) return
      if (join.answered.size >= peers.length || Date.now() - join.startedAt >= this.joinWindowMs) {
        void this.decideJoin(join)
        return
      }
      const attempt = join.newAttempt ? Math.max(this.highestSeen, 0) : join.target
      for (const peer of peers) if (!join.answered.has(peer.index) && connected.has(peer.index)) this.poll(peer, 'transcript', attempt)
      return
    }
    if (mode.kind !== 'session') return
    const s = mode.session
    switch (s.phase) {
      case 'round1':
        for (const peer of peers) if (!s.hasPackage(peer.index) && connected.has(peer.index)) this.poll(peer, 'round1', s.attempt)
        break
      case 'shares':
        for (const peer of peers) if (!s.hasShare(peer.index) && connected.has(peer.index)) this.poll(peer, 'share', s.attempt)
        break
      case 'signatures':
        for (const peer of peers) {
          if (!s.signatures.has(peer.index) && !this.checking.has(peer.index) && connected.has(peer.index)) this.poll(peer, 'result', s.attempt)
        }
        break
      case 'complete':
        if (Date.now() >= this.nextSubmitAt) void this.submit(s)
        break
      default:
        break
    }
  }

  private poll(peer: GuardianInfo, type: DkgRequestType, attempt: number): void {
    if (this.inFlight.has(peer.index)) return
    this.inFlight.add(peer.index)
    const modeAtSend = this.mode
    sendRequest(this.opts.network, peer, this.protocol, encodeDkgRequest({ type, attempt }), {
      signal: this.controller.signal,
      timeoutMs: this.requestTimeoutMs,
      maxResponseBytes: MAX_DKG_RESPONSE_BYTES,
    })
      .then((bytes) => {
        let response: DkgResponse
        try {
          response = decodeDkgResponse(bytes)
        } catch (err) {
          this.badMessage(peer, type, err)
          return
        }
        this.onResponse(peer, type, attempt, response, modeAtSend)
      })
      .catch((err: unknown) => {
        if (!this.stopped) this.logger.debug({ guardian: peer.name, request: type, err: errorText(err) }, 'DKG: request failed')
      })
      .finally(() => this.inFlight.delete(peer.index))
  }

  private onResponse(peer: GuardianInfo, type: DkgRequestType, attempt: number, response: DkgResponse, modeAtSend: Mode): void {
    if (this.stopped) return
    if (response.type === 'other_attempt' || response.type === 'not_ready' || response.type === 'transcript' || response.type === 'aborted') {
      const theirs = response.attempt
      if (theirs !== null) this.seeAttempt(theirs, true)
    }
    const mode = this.mode
    if (mode !== modeAtSend) return
    if (mode.kind === 'joining') {
      this.onJoinResponse(mode.join, peer, attempt, response)
      return
    }
    if (mode.kind !== 'session' || mode.session.attempt !== attempt) return
    const s = mode.session
    if (s.phase === 'aborted' || s.phase === 'abandoned') return
    try {
      switch (response.type) {
        case 'aborted':
          if (response.attempt === s.attempt && s.phase !== 'complete') {
            this.abort(s, { culprit: response.culprit, reason: response.reason, detectedBy: response.detectedBy, detail: response.detail }, peer)
          }
          return
        case 'round1':
          if (type !== 'round1') throw new ProtocolError('malformed', `answered a ${type} request with a round-1 package`)
          if (s.acceptRound1(peer, response.envelope) && s.readyForRound2) this.runRound2(s)
          return
        case 'share':
          if (type !== 'share') throw new ProtocolError('malformed', `answered a ${type} request with a share`)
          if (s.acceptShare(peer, response.sessionId, response.signingShare) && s.readyForRound3) void this.finish(s)
          return
        case 'result': {
          if (type !== 'result') throw new ProtocolError('malformed', `answered a ${type} request with a result`)
          const verdict = s.acceptResult(peer, response.key, response.signature)
          if (verdict === 'mismatch') void this.checkMismatch(s, peer, response.key)
          else if (verdict === 'new' && s.phase === 'complete') this.onComplete(s)
          return
        }
        default:
          return
      }
    } catch (err) {
      if (err instanceof DkgBlame) this.abort(s, { culprit: err.culprit, reason: err.reason, detectedBy: this.opts.self.index, detail: err.message })
      else if (err instanceof ProtocolError) this.badMessage(peer, type, err)
      else this.abort(s, { culprit: this.opts.self.index, reason: 'internal', detectedBy: this.opts.self.index, detail: errorText(err) })
    }
  }

  private onJoinResponse(join: Join, peer: GuardianInfo, attempt: number, response: DkgResponse): void {
    if (join.deciding) return
    if (!join.newAttempt && attempt !== join.target) return
    switch (response.type) {
      case 'transcript':
        if (!join.newAttempt && holdsPackageOf(this.ctx, response.envelopes, this.opts.self.index, dkgSessionId(this.ctx.networkId, join.target))) join.holdsMine = true
        break
      case 'aborted':
        if (response.attempt === join.target) {
          join.aborted = { culprit: response.culprit, reason: response.reason, detectedBy: response.detectedBy, detail: response.detail }
        }
        break
      case 'other_attempt':
        // A peer further on made us follow it (seeAttempt reset the answers); one behind will follow us.
        if (response.attempt > join.target) return
        break
      default:
        break
    }
    join.answered.add(peer.index)
  }

  private runRound2(s: DkgSession): void {
    s.runRound2()
    this.logger.info({ attempt: s.attempt }, 'DKG: every round-1 package checked; round-2 shares ready')
    this.schedule(0)
  }

  /** Round 3, then the share is stored, THEN the result signed. */
  private async finish(s: DkgSession): Promise<void> {
    let result: { key: ReserveKey; signingShare: Uint8Array }
    try {
      result = s.runRound3()
    } catch (err) {
      this.abort(s, { culprit: this.opts.self.index, reason: 'internal', detectedBy: this.opts.self.index, detail: `round 3 failed: ${errorText(err)}` })
      return
    }
    try {
      await writeKeyShare(
        this.sharesFile,
        this.opts.passphrase,
        { sessionId: s.sessionId, threshold: result.key.threshold, identifier: this.opts.self.index + 1, signingShare: result.signingShare, key: result.key },
        this.opts.kdf ?? DEFAULT_KDF,
      )
    } catch (err) {
      if (s.phase === 'storing') {
        this.abort(s, { culprit: this.opts.self.index, reason: 'internal', detectedBy: this.opts.self.index, detail: `cannot store the key share: ${errorText(err)}` })
      }
      return
    } finally {
      result.signingShare.fill(0)
    }
    if (s.phase !== 'storing') return
    s.sign()
    this.logger.info({ attempt: s.attempt, groupKey: bytesToHex(result.key.groupKey), sharesFile: this.sharesFile }, 'DKG: key share stored; result signed')
    this.schedule(0)
  }

  /** A peer's result differs: an equivocating guardian, if its transcript shows one; else the peer. */
  private async checkMismatch(s: DkgSession, peer: GuardianInfo, theirs: ReserveKey): Promise<void> {
    if (this.checking.has(peer.index)) return
    this.checking.add(peer.index)
    try {
      const bytes = await sendRequest(this.opts.network, peer, this.protocol, encodeDkgRequest({ type: 'transcript', attempt: s.attempt }), {
        signal: this.controller.signal,
        timeoutMs: this.requestTimeoutMs,
        maxResponseBytes: MAX_DKG_RESPONSE_BYTES,
      })
      const response = decodeDkgResponse(bytes)
      if (s.phase !== 'signatures' || this.mode.kind !== 'session' || this.mode.session !== s) return
      const ours = s.key!
      const blame =
        (response.type === 'transcript' ? s.findEquivocation(response.envelopes) : undefined) ??
        new DkgBlame(peer.index, 'result_mismatch', `${peer.name} reports reserve key ${bytesToHex(theirs.groupKey)}, this guardian computed ${bytesToHex(ours.groupKey)}`)
      this.abort(s, { culprit: blame.culprit, reason: blame.reason, detectedBy: this.opts.self.index, detail: blame.message })
    } catch (err) {
      this.logger.warn({ guardian: peer.name, err: errorText(err) }, 'DKG: cannot fetch the transcript of a guardian whose result differs; will ask again')
    } finally {
      this.checking.delete(peer.index)
    }
  }

  private onComplete(s: DkgSession): void {
    this.metrics.runs.inc({ outcome: 'complete' })
    this.metrics.duration.observe((Date.now() - s.startedAt) / 1000)
    this.logger.info({ attempt: s.attempt, groupKey: bytesToHex(s.key!.groupKey) }, 'DKG: every guardian signed the reserve key; submitting it')
    void this.submit(s)
  }

  private async submit(s: DkgSession): Promise<void> {
    this.nextSubmitAt = Date.now() + this.resubmitIntervalMs
    try {
      await this.opts.submit(s.transaction())
      this.submittedAt ??= Date.now()
    } catch (err) {
      this.nextSubmitAt = Date.now() + SUBMIT_RETRY_MS
      this.logger.warn({ attempt: s.attempt, err: errorText(err) }, 'DKG: submitting the reserve key transaction failed; will retry')
    }
  }

  private abort(s: DkgSession, info: AbortInfo, reportedBy?: GuardianInfo): void {
    if (s.finished) return
    const detail = dkgDetail(info.detail)
    s.abort({ ...info, detail })
    const culprit = this.nameOf(info.culprit)
    const detectedBy = this.nameOf(info.detectedBy)
    this.metrics.aborts.inc({ culprit, reason: info.reason })
    this.metrics.runs.inc({ outcome: 'aborted' })
    this.logger.error(
      { attempt: s.attempt, culprit, reason: info.reason, detectedBy, reportedBy: reportedBy?.name, detail },
      `DKG attempt ${s.attempt} aborted: ${culprit} (${info.reason}), detected by ${detectedBy}${reportedBy === undefined || reportedBy.index === info.detectedBy ? '' : `, reported by ${reportedBy.name}`}: ${detail}`,
    )
  }

  private onCommitted(key: ReserveKey): void {
    if (this.committed !== undefined) return
    this.committed = key
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.mode.kind === 'session' && this.mode.session.phase !== 'complete') this.mode.session.wipe()
    this.logger.info({ groupKey: bytesToHex(key.groupKey), sessionId: bytesToHex(key.sessionId) }, 'DKG: the reserve key is committed')
  }

  private badMessage(peer: GuardianInfo, type: DkgRequestType, err: unknown): void {
    this.metrics.badMessages.inc({ guardian: peer.name })
    this.logger.warn({ guardian: peer.name, request: type, err: errorText(err) }, `DKG: bad ${type} answer from ${peer.name}; ignored`)
  }

  // --- serving -----------------------------------------------------------------------------------

  private answer(from: GuardianInfo, bytes: Uint8Array): Uint8Array {
    let request: DkgRequest
    try {
      request = decodeDkgRequest(bytes)
    } catch (err) {
      this.metrics.badMessages.inc({ guardian: from.name })
      this.logger.warn({ guardian: from.name, err: errorText(err) }, `DKG: bad request from ${from.name}`)
      throw err
    }
    return encodeDkgResponse(this.respond(from, request))
  }

  private respond(from: GuardianInfo, request: DkgRequest): DkgResponse {
    if (this.stopped || this.unsupported !== undefined) return { type: 'not_ready', attempt: null }
    // Transcript requests are probes (joining, blame checks): they tell where the asker looks,
    // not that it is in that attempt, so they make nobody follow.
    this.seeAttempt(request.attempt, request.type !== 'transcript')
    const mode = this.mode
    if (mode.kind === 'idle') return { type: 'not_ready', attempt: null }
    if (mode.kind === 'joining') {
      const join = mode.join
      if (join.newAttempt) return { type: 'not_ready', attempt: null }
      return request.attempt === join.target ? { type: 'not_ready', attempt: join.target } : { type: 'other_attempt', attempt: join.target }
    }
    const s = mode.session
    if (request.attempt !== s.attempt) return { type: 'other_attempt', attempt: s.attempt }
    if (s.phase === 'aborted') {
      const a = s.abortInfo!
      return { type: 'aborted', attempt: s.attempt, culprit: a.culprit, reason: a.reason, detectedBy: a.detectedBy, detail: a.detail }
    }
    switch (request.type) {
      case 'round1': {
        const envelope = s.ownEnvelope
        return envelope === undefined ? { type: 'not_ready', attempt: s.attempt } : { type: 'round1', envelope }
      }
      case 'share': {
        if (s.resumed && s.phase === 'signatures') {
          // Restarted after storing our result: the shares we computed are gone and this peer
          // still needs one. The attempt cannot complete; open the next one (peers follow).
          this.logger.warn({ attempt: s.attempt, guardian: from.name }, `DKG: ${from.name} still needs a share this guardian lost in a restart; opening attempt ${s.attempt + 1}`)
          this.metrics.runs.inc({ outcome: 'abandoned' })
          s.abandon()
          this.enter(this.freshSession(s.attempt + 1))
          return { type: 'other_attempt', attempt: s.attempt + 1 }
        }
        const share = s.shareFor(from.index)
        const served = share === undefined ? undefined : this.outgoingShare(from, share, s.attempt)
        return served === undefined ? { type: 'not_ready', attempt: s.attempt } : { type: 'share', sessionId: s.sessionId, signingShare: served }
      }
      case 'result': {
        const signature = s.ownSignature
        return signature === undefined || s.key === undefined ? { type: 'not_ready', attempt: s.attempt } : { type: 'result', key: s.key, signature }
      }
      case 'transcript':
        return { type: 'transcript', attempt: s.attempt, envelopes: s.envelopes() }
    }
  }

  private nameOf(index: number): string {
    return this.opts.guardians.at(index)?.name ?? `guardian #${index}`
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
