import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { Logger } from 'pino'
import { verifySchnorr } from 'tiny-secp256k1'
import {
  decodeFrostResponse,
  encodeFrostRequest,
  guardianIdentifier,
  guardianOfIdentifier,
  outputKeyXOnly,
  signerRank,
  signingJobKey,
  TxType,
  type FrostCommitRequest,
  type FrostErrorResponse,
  type FrostResponse,
  type FrostSignRequest,
  type FrostSignResponse,
  type GuardianInfo,
  type GuardianSet,
  type NonceCommitmentPair,
  type SignerCommitment,
  type ThresholdSignatureTx,
} from '../../../protocol/index.js'
import { sendRequest, type GuardianNetwork } from '../../network/index.js'
import type { SigningMetrics } from './metrics.js'
import type { FrostCommitmentList, FrostSigner, ReserveKeyPackage } from './signer.js'
import type { SessionOutcome, SignatureSubmitResult, SignatureSubmitter, SigningJob } from './types.js'

/** How the coordinator reaches the other signers. */
export interface SignerTransport {
  /** Guardians other than this one that can be asked now (connected). */
  reachable(): GuardianInfo[]
  /** Sends one encoded request to `to` and returns the encoded response. */
  request(to: GuardianInfo, request: Uint8Array, opts: { timeoutMs: number; signal: AbortSignal }): Promise<Uint8Array>
}

/** The transport over the guardians' libp2p network, protocol `protocol` (networkProtocol(genesis.hash, 'frost-sign/1')). */
export function networkTransport(network: GuardianNetwork, protocol: string, maxResponseBytes: number): SignerTransport {
  return {
    reachable: () => network.peerStates().filter((p) => p.connected).map((p) => p.guardian),
    request: (to, request, opts) => sendRequest(network, to, protocol, request, { ...opts, maxResponseBytes }),
  }
}

export interface FrostCoordinatorOptions {
  readonly self: GuardianInfo
  readonly guardians: GuardianSet
  /** This guardian's own signer: the coordinator asks it in-process, first. */
  readonly signer: FrostSigner
  readonly transport: SignerTransport
  readonly submit: SignatureSubmitter
  readonly metrics: SigningMetrics
  readonly logger: Logger
  /** How long a signer may take to answer a commit request (default 2 s). */
  readonly commitTimeoutMs?: number
  /** How long a signer may take to answer a sign request (default 5 s). */
  readonly signTimeoutMs?: number
  /** Commit + sign rounds per session before it gives up (default 3). */
  readonly maxRounds?: number
  /** How long a guardian named for a bad share is left out of this coordinator's sessions (default 10 min). */
  readonly badShareMemoryMs?: number
  readonly now?: () => number
}

interface Committed {
  readonly guardian: GuardianInfo
  readonly sessionId: Uint8Array
  readonly commitments: readonly NonceCommitmentPair[]
}

interface Round {
  readonly share: ReserveKeyPackage
  readonly jobs: readonly SigningJob[]
  readonly attempt: number
  readonly messages: readonly Uint8Array[]
  /** Guardians left out for the rest of this session (refused, timed out, answered wrongly), with the reason. */
  readonly excluded: Map<number, string>
  readonly signal: AbortSignal
}

const DEFAULTS = { commitTimeoutMs: 2_000, signTimeoutMs: 5_000, maxRounds: 3, badShareMemoryMs: 10 * 60_000 }
/** Refusals that are part of normal life (a signer a block behind, restarting, busy): logged at debug. */
const ROUTINE_REFUSALS = new Set(['not_signable', 'unknown_session', 'unavailable', 'busy', 'no_key'])
const AGGREGATES_PER_TURN = 8

/**
 * The coordinator side of `frost-sign/1`. For one session (jobs of one attempt):
 *
 * 1. candidates: itself (it holds a share) and the connected guardians, minus those recently
 *    named for bad shares (`badShareMemoryMs`) and those that failed earlier in this session;
 * 2. commit requests to all candidates in parallel (`commitTimeoutMs`); chosen are the t most
 *    preferred that answer — itself first, then the others by protocol signerRank (spreads the
 *    work, and tells anyone who signs when all answer); a candidate that fails or refuses gives
 *    its place to the next; commitments that arrive but are not used are released;
 * 3. sign requests to the chosen t; each signer's shares, one per message;
 * 4. noble `aggregate` per message: it verifies the aggregate and, only when that fails, checks
 *    the shares one by one and names the cheaters. A cheater is logged (by genesis name, with the
 *    jobs), counted in `ubtc_custody_invalid_shares_total{guardian}`, remembered, and the round
 *    starts over at once with fresh commitments from the others;
 * 5. every final signature is verified again with tiny-secp256k1 against x(Q), then each job's
 *    ThresholdSignatureTx is handed to `submit`.
 *
 * A signer that refuses, times out or answers out of protocol is left out for the rest of the
 * session and the round starts over (at most `maxRounds` rounds).
 */
export class FrostCoordinator {
  private readonly badUntil = new Map<number, number>()
  private readonly now: () => number
  private readonly commitTimeoutMs: number
  private readonly signTimeoutMs: number
  private readonly maxRounds: number
  private readonly badShareMemoryMs: number

  constructor(private readonly opts: FrostCoordinatorOptions) {
    this.now = opts.now ?? Date.now
    this.commitTimeoutMs = opts.commitTimeoutMs ?? DEFAULTS.commitTimeoutMs
    this.signTimeoutMs = opts.signTimeoutMs ?? DEFAULTS.signTimeoutMs
    this.maxRounds = opts.maxRounds ?? DEFAULTS.maxRounds
    this.badShareMemoryMs = opts.badShareMemoryMs ?? DEFAULTS.badShareMemoryMs
  }

  /** Guardians currently left out for bad shares, with the time until which they are. */
  badSigners(): Array<{ guardian: GuardianInfo; untilMs: number }> {
    const now = this.now()
    return [...this.badUntil]
      .filter(([, until]) => until > now)
      .map(([index, untilMs]) => ({ guardian: this.opts.guardians.at(index)!, untilMs }))
  }

  /** Runs one signing session for `jobs` (messages from this guardian's committed state), attempt `attempt`. */
  async sign(jobs: readonly SigningJob[], attempt: number, signal: AbortSignal): Promise<SessionOutcome> {
    const started = performance.now()
    let outcome: SessionOutcome
    try {
      outcome = await this.run(jobs, attempt, signal)
    } catch (err) {
      if (signal.aborted) outcome = { outcome: 'aborted', rounds: 0 }
      else {
        this.opts.logger.error({ err, jobs: jobs.map((j) => signingJobKey(j.ref)), attempt }, 'signing session failed unexpectedly')
        outcome = { outcome: 'failed', rounds: 0, detail: (err as Error).message }
      }
    }
    const seconds = (performance.now() - started) / 1000
    this.opts.metrics.sessions.inc({ outcome: outcome.outcome })
    this.opts.metrics.sessionDuration.observe(seconds)
    return outcome
  }

  private async run(jobs: readonly SigningJob[], attempt: number, signal: AbortSignal): Promise<SessionOutcome> {
    const share = this.opts.signer.keyPackage()
    if (share === undefined) return { outcome: 'no_key', rounds: 0 }
    const t = share.key.threshold
    const round: Round = { share, jobs, attempt, messages: jobs.flatMap((j) => j.messages), excluded: new Map(), signal }
    const jobKeys = jobs.map((j) => signingJobKey(j.ref))
    for (let r = 1; r <= this.maxRounds; r++) {
      if (signal.aborted) return { outcome: 'aborted', rounds: r - 1 }
      const candidates = this.candidates(round.excluded)
      if (candidates.length < t) {
        const detail = `${candidates.length} of ${t} signers available (connected, not excluded)`
        return { outcome: r === 1 ? 'insufficient_signers' : 'failed', rounds: r - 1, detail: r === 1 ? detail : `${detail}: ${this.describeExcluded(round.excluded)}` }
      }
      const chosen = await this.collectCommitments(round, candidates, t)
      if (chosen.length < t || signal.aborted) {
        this.release(chosen)
        continue
      }
      chosen.sort((a, b) => a.guardian.index - b.guardian.index)
      const lists: SignerCommitment[][] = round.messages.map((_, m) =>
        chosen.map((c) => ({ signer: c.guardian.index, hiding: c.commitments[m]!.hiding, binding: c.commitments[m]!.binding })),
      )
      const shares = await this.collectShares(round, chosen, lists)
      if (shares === undefined) {
        // Signers that got their sign request used their session up; the others wipe theirs now.
        this.release(chosen)
        continue
      }
      const aggregated = await this.aggregate(share, lists, round.messages, shares)
      if ('cheaters' in aggregated) {
        for (const index of aggregated.cheaters) this.nameCheater(index, jobKeys, attempt)
        continue
      }
      const xOnly = outputKeyXOnly(share.key)
      const bad = aggregated.signatures.findIndex((sig, m) => !verifySchnorr(round.messages[m]!, xOnly, sig))
      if (bad >= 0) {
        this.opts.logger.error({ jobs: jobKeys, attempt, message: bad }, 'aggregated signature does not verify against the reserve output key')
        return { outcome: 'failed', rounds: r, detail: 'aggregated signature does not verify' }
      }
      const signers = chosen.map((c) => c.guardian.index)
      const submitted = await this.submitAll(jobs, aggregated.signatures, signers)
      this.opts.logger.info(
        { jobs: jobKeys, attempt, signers: chosen.map((c) => c.guardian.name), rounds: r, accepted: submitted.filter((s) => s.result.ok).length },
        'threshold signature made',
      )
      return { outcome: 'signed', signers, submitted, rounds: r }
    }
    return { outcome: 'failed', rounds: this.maxRounds, detail: `no signature after ${this.maxRounds} rounds: ${this.describeExcluded(round.excluded)}` }
  }

  private candidates(excluded: ReadonlyMap<number, string>): GuardianInfo[] {
    const now = this.now()
    const usable = (g: GuardianInfo): boolean => !excluded.has(g.index) && (this.badUntil.get(g.index) ?? 0) <= now
    const others = this.opts.transport.reachable().filter((g) => g.index !== this.opts.self.index && usable(g))
    return usable(this.opts.self) ? [this.opts.self, ...others] : others
  }

  /**
   * Commit requests to every candidate at once; resolves with the first t that answer (this
   * guardian first), or with all that did. Commit requests are not cut short when the session
   * is aborted (they end within commitTimeoutMs): commitments that arrive too late are released,
   * so that no signer keeps nonces for a session that will not come.
   */
  private collectCommitments(round: Round, candidates: readonly GuardianInfo[], t: number): Promise<Committed[]> {
    const request: FrostCommitRequest = { type: 'commit', outputKey: outputKeyXOnly(round.share.key), attempt: round.attempt, jobs: round.jobs.map((j) => j.ref) }
    const encoded = encodeFrostRequest(request)
    const selfIndex = this.opts.self.index
    if (candidates.length === 0 || round.signal.aborted) return Promise.resolve([])
    // Preference order: this guardian, then the others by signerRank of the first job.
    const first = round.jobs[0]!.ref
    const order = [...candidates].sort((a, b) => (a.index === selfIndex ? -1 : b.index === selfIndex ? 1 : signerRank(first, round.attempt, a.index) - signerRank(first, round.attempt, b.index)))
    return new Promise((resolve) => {
      const arrived = new Map<number, Committed>()
      const failed = new Set<number>()
      let pending = candidates.length
      let done = false
      const finish = (chosen: Committed[]): void => {
        done = true
        round.signal.removeEventListener('abort', onAbort)
        this.release([...arrived.values()].filter((c) => !chosen.includes(c)))
        resolve(chosen)
      }
      const onAbort = (): void => {
        if (!done) finish([])
      }
      round.signal.addEventListener('abort', onAbort)
      const settle = (guardian: GuardianInfo, committed: Committed | undefined): void => {
        pending--
        if (committed === undefined) failed.add(guardian.index)
        else if (done) this.release([committed])
        else arrived.set(guardian.index, committed)
        if (done) return
        // The t most preferred that have not failed; chosen once all of them answered.
        const wanted = order.filter((g) => !failed.has(g.index)).slice(0, t)
        if (wanted.length === t && wanted.every((g) => arrived.has(g.index))) finish(wanted.map((g) => arrived.get(g.index)!))
        else if (pending === 0) finish(wanted.length === t ? [] : [...arrived.values()])
      }
      const unaborted = new AbortController().signal
      for (const guardian of candidates) {
        const answer = guardian.index === selfIndex ? this.opts.signer.commit(guardian, request) : this.ask(guardian, encoded, this.commitTimeoutMs, unaborted)
        void answer.then(
          (response) => settle(guardian, this.readCommitments(round, guardian, response)),
          (err: unknown) => settle(guardian, this.failed(round, guardian, 'commit', err)),
        )
      }
    })
  }

  private readCommitments(round: Round, guardian: GuardianInfo, response: FrostResponse): Committed | undefined {
    if (response.type === 'error') return this.refused(round, guardian, 'commit', response)
    if (response.type !== 'commitments' || response.commitments.length !== round.messages.length) {
      return this.failed(round, guardian, 'commit', new Error(`expected ${round.messages.length} commitment pairs, got ${response.type === 'commitments' ? response.commitments.length : response.type}`))
    }
    return { guardian, sessionId: response.sessionId, commitments: response.commitments }
  }

  /** Sign requests to the chosen signers; their shares by guardian index, or undefined if one failed. */
  private async collectShares(round: Round, chosen: readonly Committed[], lists: SignerCommitment[][]): Promise<Map<number, readonly Uint8Array[]> | undefined> {
    const outputKey = outputKeyXOnly(round.share.key)
    const refs = round.jobs.map((j) => j.ref)
    const results = await Promise.all(
      chosen.map(async (c): Promise<readonly Uint8Array[] | undefined> => {
        const request: FrostSignRequest = { type: 'sign', outputKey, sessionId: c.sessionId, attempt: round.attempt, jobs: refs, commitments: lists }
        let response: FrostSignResponse | FrostErrorResponse | FrostResponse
        try {
          response =
            c.guardian.index === this.opts.self.index
              ? await this.opts.signer.sign(c.guardian, request)
              : await this.ask(c.guardian, encodeFrostRequest(request), this.signTimeoutMs, round.signal)
        } catch (err) {
          return this.failed(round, c.guardian, 'sign', err)
        }
        if (response.type === 'error') return this.refused(round, c.guardian, 'sign', response)
        if (response.type !== 'shares' || response.shares.length !== round.messages.length) {
          return this.failed(round, c.guardian, 'sign', new Error(`expected ${round.messages.length} shares, got ${response.type === 'shares' ? response.shares.length : response.type}`))
        }
        return response.shares
      }),
    )
    if (results.some((r) => r === undefined)) return undefined
    return new Map(chosen.map((c, i) => [c.guardian.index, results[i]!]))
  }

  /** Aggregates (and so verifies) each message's signature; on a bad aggregate, the guardians whose shares are invalid. */
  private async aggregate(
    share: ReserveKeyPackage,
    lists: readonly SignerCommitment[][],
    messages: readonly Uint8Array[],
    shares: ReadonlyMap<number, readonly Uint8Array[]>,
  ): Promise<{ signatures: Uint8Array[] } | { cheaters: number[] }> {
    const n = this.opts.guardians.size
    const Fn = schnorr_FROST.utils.Fn
    const signatures: Uint8Array[] = []
    for (const [m, list] of lists.entries()) {
      const commitmentList: FrostCommitmentList = list.map((c) => ({ identifier: guardianIdentifier(c.signer), hiding: c.hiding, binding: c.binding }))
      const sigShares: Record<string, Uint8Array> = {}
      const outOfRange: number[] = []
      for (const c of list) {
        const s = shares.get(c.signer)![m]!
        try {
          Fn.fromBytes(s)
        } catch {
          outOfRange.push(c.signer)
        }
        sigShares[guardianIdentifier(c.signer)] = s
      }
      if (outOfRange.length > 0) return { cheaters: outOfRange }
      try {
        signatures.push(schnorr_FROST.aggregate(share.pub, commitmentList, messages[m]!, sigShares))
      } catch (err) {
        const named = (err as { cheaters?: unknown }).cheaters
        if (Array.isArray(named) && named.length > 0) {
          return { cheaters: named.map((id) => guardianOfIdentifier(String(id), n)).filter((i): i is number => i !== undefined) }
        }
        throw err
      }
      if ((m + 1) % AGGREGATES_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    return { signatures }
  }

  private async submitAll(jobs: readonly SigningJob[], signatures: readonly Uint8Array[], signers: readonly number[]): Promise<Array<{ tx: ThresholdSignatureTx; result: SignatureSubmitResult }>> {
    const submitted: Array<{ tx: ThresholdSignatureTx; result: SignatureSubmitResult }> = []
    let offset = 0
    for (const job of jobs) {
      const tx: ThresholdSignatureTx = { type: TxType.ThresholdSignature, job: job.ref, signatures: signatures.slice(offset, offset + job.messages.length), signers: [...signers] }
      offset += job.messages.length
      let result: SignatureSubmitResult
      try {
        result = await this.opts.submit(tx)
      } catch (err) {
        result = { ok: false, code: 'submit_failed', reason: (err as Error).message }
      }
      if (!result.ok) this.opts.logger.warn({ job: signingJobKey(job.ref), code: result.code, reason: result.reason }, 'threshold signature refused by consensus')
      submitted.push({ tx, result })
    }
    return submitted
  }

  private async ask(guardian: GuardianInfo, request: Uint8Array, timeoutMs: number, signal: AbortSignal): Promise<FrostResponse> {
    return decodeFrostResponse(await this.opts.transport.request(guardian, request, { timeoutMs, signal }))
  }

  private nameCheater(index: number, jobs: readonly string[], attempt: number): void {
    const guardian = this.opts.guardians.at(index)
    const name = guardian?.name ?? `guardian ${index}`
    this.badUntil.set(index, this.now() + this.badShareMemoryMs)
    this.opts.metrics.invalidShares.inc({ guardian: name })
    this.opts.logger.error(
      { guardian: name, jobs, attempt, excludedForMs: this.badShareMemoryMs },
      `invalid signature share from ${name}: left out of signing sessions, retrying without it`,
    )
  }

  private refused(round: Round, guardian: GuardianInfo, phase: 'commit' | 'sign', response: FrostErrorResponse): undefined {
    round.excluded.set(guardian.index, response.code)
    this.opts.metrics.signerFailures.inc({ guardian: guardian.name })
    const level = ROUTINE_REFUSALS.has(response.code) ? 'debug' : 'warn'
    this.opts.logger[level]({ guardian: guardian.name, phase, code: response.code, reason: response.message, jobs: round.jobs.map((j) => signingJobKey(j.ref)), attempt: round.attempt }, 'signer refused')
    return undefined
  }

  private failed(round: Round, guardian: GuardianInfo, phase: 'commit' | 'sign', err: unknown): undefined {
    round.excluded.set(guardian.index, round.signal.aborted ? 'aborted' : 'no answer')
    if (round.signal.aborted) return undefined
    this.opts.metrics.signerFailures.inc({ guardian: guardian.name })
    this.opts.logger.warn({ guardian: guardian.name, phase, reason: (err as Error).message, jobs: round.jobs.map((j) => signingJobKey(j.ref)), attempt: round.attempt }, 'signer did not answer')
    return undefined
  }

  /** Tells signers whose commitments go unused to wipe their nonces now (best effort). */
  private release(committed: readonly Committed[]): void {
    for (const c of committed) {
      if (c.guardian.index === this.opts.self.index) {
        this.opts.signer.release(c.guardian, { type: 'release', sessionId: c.sessionId })
        continue
      }
      this.ask(c.guardian, encodeFrostRequest({ type: 'release', sessionId: c.sessionId }), this.commitTimeoutMs, AbortSignal.timeout(this.commitTimeoutMs)).catch((err: unknown) =>
        this.opts.logger.debug({ guardian: c.guardian.name, reason: (err as Error).message, session: bytesToHex(c.sessionId).slice(0, 8) }, 'release not delivered (the signer wipes the nonces when they expire)'),
      )
    }
  }

  private describeExcluded(excluded: ReadonlyMap<number, string>): string {
    const parts = [...excluded].map(([index, reason]) => `${this.opts.guardians.at(index)?.name ?? index}: ${reason}`)
    return parts.length === 0 ? 'no signer excluded' : parts.join(', ')
  }
}
