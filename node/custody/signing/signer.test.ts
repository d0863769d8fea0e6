import { inspect } from 'node:util'
import { bytesToHex } from '@noble/hashes/utils.js'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { verifySchnorr } from 'tiny-secp256k1'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  decodeFrostResponse,
  encodeFrostRequest,
  GuardianSet,
  outputKeyXOnly,
  TxType,
  type FrostCommitResponse,
  type FrostRequest,
  type FrostResponse,
  type FrostSignRequest,
  type GuardianInfo,
  type SigningJobRef,
  type ThresholdSignatureTx,
} from '../../../protocol/index.js'
import { generateGuardianKeys, publicInfo } from '../../keystore/index.js'
import { testnetGenesis } from '../../setup/index.js'
import { FrostCoordinator, type SignerTransport } from './coordinator.js'
import { SigningMetrics } from './metrics.js'
import { NoncePair } from './nonce-pool.js'
import type { FrostSigner } from './signer.js'
import { dkgReserveKey, FixtureJobs, jobCoordinatedBy, messages, noFaults, StaticKeyShare, TestSigner, waitFor, type DealtKey, type SignerFaults } from './test-helpers/fixtures.js'

/** Signers and coordinators without a network: requests go through encode → handle → decode in memory. */

const N = 5
const T = 3
const silent = pino({ level: 'silent' })

interface Member {
  readonly info: GuardianInfo
  readonly jobs: FixtureJobs
  readonly keyShare: StaticKeyShare
  readonly signer: TestSigner
  readonly faults: SignerFaults
  readonly metrics: SigningMetrics
  readonly registry: Registry
}

let guardians: GuardianSet
let dealt: DealtKey

beforeAll(async () => {
  const keys = await Promise.all(Array.from({ length: N }, () => generateGuardianKeys()))
  guardians = new GuardianSet(testnetGenesis(keys.map(publicInfo), 'ubtc-signer-test'))
  dealt = dkgReserveKey(N, T)
})

function member(index: number, opts: { now?: () => number; nonceTtlMs?: number; maxSessionsPerRequester?: number; noncePoolSize?: number; attemptMs?: number; catchUpMs?: number } = {}): Member {
  const registry = new Registry()
  const metrics = new SigningMetrics(registry)
  const jobs = new FixtureJobs()
  const keyShare = new StaticKeyShare(dealt.key, dealt.shares[index]!)
  const faults = noFaults()
  const signer = new TestSigner(
    // No catch-up wait unless a test asks for one: a refusal is what most tests look at.
    { self: guardians.at(index)!, guardians, jobs, keyShare, metrics, logger: silent, noncePoolSize: opts.noncePoolSize ?? 8, catchUpMs: 0, ...opts },
    faults,
    () => {},
  )
  signer.start()
  return { info: guardians.at(index)!, jobs, keyShare, signer, faults, metrics, registry }
}

function memoryTransport(self: number, members: Map<number, Member>, down: Set<number> = new Set()): SignerTransport {
  return {
    reachable: () => [...members.values()].filter((m) => m.info.index !== self && !down.has(m.info.index)).map((m) => m.info),
    request: async (to, request, opts) => {
      const target = members.get(to.index)
      if (target === undefined || down.has(to.index)) throw new Error('not connected')
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), opts.timeoutMs))
      return Promise.race([target.signer.handle(guardians.at(self)!, request), timeout])
    },
  }
}

async function ask(signer: FrostSigner, from: number, request: FrostRequest | Uint8Array): Promise<FrostResponse> {
  return decodeFrostResponse(await signer.handle(guardians.at(from)!, request instanceof Uint8Array ? request : encodeFrostRequest(request)))
}

const xOnly = (): Uint8Array => outputKeyXOnly(dealt.key)

describe('FrostSigner', () => {
  it('keeps a nonce pool ready and refills it after a commit', async () => {
    const m = member(1, { noncePoolSize: 8 })
    await waitFor(() => m.signer.poolSize === 8, 'pool filled')
    const job = jobCoordinatedBy(0, N)
    m.jobs.approve(job, messages(3))
    const response = await ask(m.signer, 0, { type: 'commit', outputKey: xOnly(), attempt: 0, jobs: [job] })
    expect(response).toMatchObject({ type: 'commitments' })
    expect((response as FrostCommitResponse).commitments).toHaveLength(3)
    expect(m.signer.poolSize).toBe(5)
    expect(m.signer.openSessions).toBe(1)
    await waitFor(() => m.signer.poolSize === 8, 'pool refilled')
    expect(await m.registry.getSingleMetricAsString('ubtc_custody_nonce_pool_size')).toContain('ubtc_custody_nonce_pool_size 8')
    m.signer.stop()
    expect(m.signer.poolSize).toBe(0)
    expect(m.signer.openSessions).toBe(0)
  })

  it('refuses a commit request for an attempt that is not current by its clock (one either side is fine)', async () => {
    let now = 1_000_000
    const m = member(1, { now: () => now, attemptMs: 10_000 })
    const job = jobCoordinatedBy(0, N, { attempt: 3 })
    m.jobs.approve(job, messages(1), { signableAtMs: now })
    const commit = { type: 'commit' as const, outputKey: xOnly(), attempt: 3, jobs: [job] }
    expect(await ask(m.signer, 0, commit)).toMatchObject({ type: 'error', code: 'wrong_attempt' }) // attempt 0 here
    now += 25_000 // attempt 2 here
    expect(await ask(m.signer, 0, commit)).toMatchObject({ type: 'commitments' })
    now += 30_000 // attempt 5 here
    expect(await ask(m.signer, 0, commit)).toMatchObject({ type: 'error', code: 'wrong_attempt' })
    m.signer.stop()
  })

  it('waits for its next commit when the coordinator is a block ahead, and refuses once catchUpMs passes without it', async () => {
    const m = member(1, { catchUpMs: 5_000 })
    const job = jobCoordinatedBy(0, N)
    const commit = { type: 'commit' as const, outputKey: xOnly(), attempt: 0, jobs: [job] }
    const answer = ask(m.signer, 0, commit)
    // This guardian commits the approval after the request arrived.
    m.jobs.approve(job, messages(1))
    m.signer.notifyCommit()
    expect(await answer).toMatchObject({ type: 'commitments' })

    const late = member(2, { catchUpMs: 50 })
    const unknown = jobCoordinatedBy(0, N)
    expect(await ask(late.signer, 0, { ...commit, jobs: [unknown] })).toMatchObject({ type: 'error', code: 'not_signable' })
    // Stopping ends a waiting request at once (not after its minute).
    const patient = member(3, { catchUpMs: 60_000 })
    const waiting = ask(patient.signer, 0, { ...commit, jobs: [unknown] })
    await new Promise((resolve) => setImmediate(resolve))
    patient.signer.stop()
    expect(await waiting).toMatchObject({ type: 'error', code: 'unavailable' })
    for (const x of [m, late]) x.signer.stop()
  })

  it('refuses requests it must not serve', async () => {
    const m = member(1)
    const job = jobCoordinatedBy(0, N, { next: 2 })
    const commit = { type: 'commit' as const, outputKey: xOnly(), attempt: 0, jobs: [job] }
    expect(await ask(m.signer, 0, commit)).toMatchObject({ type: 'error', code: 'not_signable' }) // not approved here
    m.jobs.approve(job, messages(1))
    expect(await ask(m.signer, 2, commit)).toMatchObject({ type: 'error', code: 'not_coordinator' })
    expect(await ask(m.signer, 0, { ...commit, attempt: 1 })).toMatchObject({ type: 'error', code: 'not_coordinator' }) // guardian 2 coordinates attempt 1
    expect(await ask(m.signer, 2, { ...commit, attempt: 1 })).toMatchObject({ type: 'commitments' })
    expect(await ask(m.signer, 0, { ...commit, outputKey: new Uint8Array(32) })).toMatchObject({ type: 'error', code: 'wrong_key' })
    expect(await ask(m.signer, 0, new Uint8Array([1, 2, 3]))).toMatchObject({ type: 'error', code: 'bad_request' })
    m.keyShare.enabled = false
    expect(await ask(m.signer, 0, commit)).toMatchObject({ type: 'error', code: 'no_key' })
    m.keyShare.enabled = true
    // a mixed batch: one job it cannot confirm spoils the request
    const other = jobCoordinatedBy(0, N)
    expect(await ask(m.signer, 0, { ...commit, jobs: [job, other] })).toMatchObject({ type: 'error', code: 'not_signable' })
    expect(m.signer.openSessions).toBe(1) // guardian 2's session only
    m.signer.stop()
    expect(await ask(m.signer, 0, commit)).toMatchObject({ type: 'error', code: 'unavailable' })
  })

  it('drops a session once used, on a new commit for the same job, when released, when expired, and when busy refuses more', async () => {
    let now = 1_000_000
    const m = member(1, { now: () => now, nonceTtlMs: 200, maxSessionsPerRequester: 2 })
    const [a, b, c] = [jobCoordinatedBy(0, N), jobCoordinatedBy(0, N), jobCoordinatedBy(0, N)]
    for (const job of [a, b, c]) m.jobs.approve(job, messages(1))
    const commit = (job: SigningJobRef): FrostRequest => ({ type: 'commit', outputKey: xOnly(), attempt: 0, jobs: [job] })
    const first = (await ask(m.signer, 0, commit(a))) as FrostCommitResponse
    const second = (await ask(m.signer, 0, commit(a))) as FrostCommitResponse
    expect(m.signer.openSessions).toBe(1) // the second replaced the first
    const sign = (session: FrostCommitResponse, job: SigningJobRef): FrostSignRequest => ({
      type: 'sign',
      outputKey: xOnly(),
      sessionId: session.sessionId,
      attempt: 0,
      jobs: [job],
      commitments: [[{ signer: 1, ...session.commitments[0]! }]],
    })
    expect(await ask(m.signer, 0, sign(first, a))).toMatchObject({ code: 'unknown_session' })
    await ask(m.signer, 0, commit(b))
    expect(await ask(m.signer, 0, commit(c))).toMatchObject({ code: 'busy' })
    expect(await ask(m.signer, 0, { type: 'release', sessionId: second.sessionId })).toEqual({ type: 'released' })
    expect(m.signer.openSessions).toBe(1)
    // another guardian cannot release or use a session it did not open
    const third = (await ask(m.signer, 0, commit(c))) as FrostCommitResponse
    await ask(m.signer, 2, { type: 'release', sessionId: third.sessionId })
    expect(m.signer.openSessions).toBe(2)
    expect(await ask(m.signer, 2, sign(third, c))).toMatchObject({ code: 'unknown_session' })
    expect(m.signer.openSessions).toBe(2)
    // expiry: refused at sign time, and swept from memory
    now += 201
    expect(await ask(m.signer, 0, sign(third, c))).toMatchObject({ code: 'unknown_session' })
    await waitFor(() => m.signer.openSessions === 0, 'expired sessions swept', 10_000)
    m.signer.stop()
  })

  it('prunes the sessions of jobs the committed state no longer lists (signed meanwhile)', async () => {
    const m = member(1)
    const [a, b] = [jobCoordinatedBy(0, N), jobCoordinatedBy(0, N)]
    for (const job of [a, b]) m.jobs.approve(job, messages(1))
    for (const job of [a, b]) expect(await ask(m.signer, 0, { type: 'commit', outputKey: xOnly(), attempt: 0, jobs: [job] })).toMatchObject({ type: 'commitments' })
    expect(m.signer.openSessions).toBe(2)
    m.jobs.complete(a)
    await m.signer.prune()
    expect(m.signer.openSessions).toBe(1)
    m.jobs.approve(b, messages(1)) // other messages now
    await m.signer.prune()
    expect(m.signer.openSessions).toBe(0)
    m.signer.stop()
  })

  it('checks each commitment list and its own commitment; a refused sign request still burns the session', async () => {
    const m = member(1)
    const job = jobCoordinatedBy(0, N)
    const msgs = messages(2)
    m.jobs.approve(job, msgs)
    const other = [member(0), member(3)]
    for (const o of other) o.jobs.approve(job, msgs)
    const open = async (): Promise<{ mine: FrostCommitResponse; list: (m: number) => FrostSignRequest['commitments'][number] }> => {
      const commitments = await Promise.all([other[0]!, m, other[1]!].map((x) => ask(x.signer, 0, { type: 'commit', outputKey: xOnly(), attempt: 0, jobs: [job] })))
      const [c0, c1, c3] = commitments as FrostCommitResponse[]
      return {
        mine: c1!,
        list: (i) => [
          { signer: 0, ...c0!.commitments[i]! },
          { signer: 1, ...c1!.commitments[i]! },
          { signer: 3, ...c3!.commitments[i]! },
        ],
      }
    }
    const signWith = (mine: FrostCommitResponse, commitments: FrostSignRequest['commitments']): FrostSignRequest => ({ type: 'sign', outputKey: xOnly(), sessionId: mine.sessionId, attempt: 0, jobs: [job], commitments })
    const refusals: Array<(s: Awaited<ReturnType<typeof open>>) => FrostSignRequest['commitments']> = [
      (s) => [s.list(0)], // one list for two messages
      (s) => [s.list(0).slice(0, 2), s.list(1).slice(0, 2)], // fewer than t
      (s) => [s.list(0), s.list(1).filter((c) => c.signer !== 1)].map((l) => (l.length < 3 ? [...l, { ...s.list(1)[0]!, signer: 4 }] : l)), // its own commitment missing
      (s) => [s.list(1), s.list(0)], // commitments swapped between messages
    ]
    for (const lists of refusals) {
      const s = await open()
      const response = await ask(m.signer, 0, signWith(s.mine, lists(s)))
      expect(response).toMatchObject({ type: 'error', code: 'bad_request' })
      // the nonces are gone: the same session cannot be used again, even correctly
      expect(await ask(m.signer, 0, signWith(s.mine, [s.list(0), s.list(1)]))).toMatchObject({ code: 'unknown_session' })
    }
    // an unknown signer (7 of 5) does not even decode: refused, the session is untouched and still works
    const s0 = await open()
    expect(await ask(m.signer, 0, signWith(s0.mine, [s0.list(0), [...s0.list(1), { signer: 7, ...s0.mine.commitments[0]! }]]))).toMatchObject({ code: 'bad_request' })
    expect(await ask(m.signer, 0, signWith(s0.mine, [s0.list(0), s0.list(1)]))).toMatchObject({ type: 'shares' })
    for (const o of other) await ask(o.signer, 0, { type: 'release', sessionId: new Uint8Array(32) })
    // the jobs named must be those of the commit
    const s = await open()
    expect(await ask(m.signer, 0, { ...signWith(s.mine, [s.list(0), s.list(1)]), attempt: 0, jobs: [jobCoordinatedBy(0, N)] })).toMatchObject({ code: 'bad_request' })
    // the committed state changed between the rounds
    const s2 = await open()
    m.jobs.approve(job, messages(2))
    expect(await ask(m.signer, 0, signWith(s2.mine, [s2.list(0), s2.list(1)]))).toMatchObject({ code: 'not_signable' })
    m.jobs.complete(job)
    expect((await open()).mine).toMatchObject({ type: 'error', code: 'not_signable' }) // no longer signable: the commit itself is refused
    expect(m.signer.openSessions).toBe(0)
    for (const x of [m, ...other]) x.signer.stop()
  })

  it('reuses its metrics when a service restarts on the same registry', () => {
    const registry = new Registry()
    const first = new SigningMetrics(registry)
    expect(new SigningMetrics(registry).sessions).toBe(first.sessions)
  })

  it('never shows a nonce in JSON or util.inspect', () => {
    const pair = new NoncePair(dealt.shares[0]!.identifier, dealt.shares[0]!.signingShare)
    const secret = pair.take()!
    const pair2 = new NoncePair(dealt.shares[0]!.identifier, dealt.shares[0]!.signingShare)
    const text = JSON.stringify({ pair2, nested: [pair2] }) + inspect(pair2, { showHidden: true, depth: 10 })
    expect(text).not.toContain(bytesToHex(secret.hiding))
    expect(text).toContain('[nonce pair]')
    expect(pair.take()).toBeUndefined() // handed out once
    pair2.wipe()
    expect(pair2.spent).toBe(true)
  })
})

describe('FrostCoordinator (in memory)', () => {
  function cluster(coordinator: number, opts: { down?: number[] } = {}) {
    const members = new Map<number, Member>()
    for (let i = 0; i < N; i++) members.set(i, member(i))
    const down = new Set(opts.down ?? [])
    const submitted: ThresholdSignatureTx[] = []
    const c = members.get(coordinator)!
    const coord = new FrostCoordinator({
      self: c.info,
      guardians,
      signer: c.signer,
      transport: memoryTransport(coordinator, members, down),
      submit: async (tx) => {
        submitted.push(tx)
        return { ok: true }
      },
      metrics: c.metrics,
      logger: silent,
      commitTimeoutMs: 500,
      signTimeoutMs: 1000,
    })
    const approve = (job: SigningJobRef, msgs: Uint8Array[]): void => {
      for (const m of members.values()) m.jobs.approve(job, msgs)
    }
    const stop = (): void => {
      for (const m of members.values()) m.signer.stop()
    }
    return { members, coord, submitted, approve, stop, down, c }
  }

  it('makes a 3-of-5 BIP-340 signature and measures it', async () => {
    const k = cluster(0)
    const job = jobCoordinatedBy(0, N)
    const msgs = messages(1)
    k.approve(job, msgs)
    await waitFor(() => [...k.members.values()].every((m) => m.signer.poolSize === 8), 'pools filled')
    const outcome = await k.coord.sign([{ ref: job, messages: msgs }], 0, new AbortController().signal)
    expect(outcome).toMatchObject({ outcome: 'signed', rounds: 1 })
    expect(outcome.signers).toHaveLength(T)
    expect(outcome.signers![0]).toBe(0) // itself first
    expect(k.submitted).toHaveLength(1)
    expect(k.submitted[0]).toMatchObject({ type: TxType.ThresholdSignature, job, signers: outcome.signers })
    expect(verifySchnorr(msgs[0]!, xOnly(), k.submitted[0]!.signatures[0]!)).toBe(true)
    await waitFor(() => [...k.members.values()].every((m) => m.signer.openSessions === 0), 'unused commitments released')

    // cost of one signature, in memory (codec included, no network), pools warm
    const runs = 10
    const started = performance.now()
    for (let i = 0; i < runs; i++) {
      const j = jobCoordinatedBy(0, N)
      k.approve(j, msgs)
      await waitFor(() => [...k.members.values()].every((m) => m.signer.poolSize >= 4), 'pools refilled')
      const t0 = performance.now()
      expect((await k.coord.sign([{ ref: j, messages: msgs }], 0, new AbortController().signal)).outcome).toBe('signed')
      ;(k as { total?: number }).total = ((k as { total?: number }).total ?? 0) + performance.now() - t0
    }
    const perSignature = (k as { total?: number }).total! / runs
    console.log(`3-of-5 FROST signature in memory: ${perSignature.toFixed(1)} ms (${((performance.now() - started) / runs).toFixed(1)} ms with pool refill waits)`)
    k.stop()
  })

  it('names the signer of bad shares, remembers it, and completes without it', async () => {
    const k = cluster(0)
    k.members.get(2)!.faults.badShares = true
    // guardian 2 is one of the coordinator's two preferred co-signers
    const job = jobCoordinatedBy(0, N, { prefers: { guardians: [2], within: 2 } })
    const msgs = messages(2)
    k.approve(job, msgs)
    const outcome = await k.coord.sign([{ ref: job, messages: msgs }], 0, new AbortController().signal)
    expect(outcome).toMatchObject({ outcome: 'signed', rounds: 2 })
    expect(outcome.signers).not.toContain(2)
    expect(k.coord.badSigners().map((b) => b.guardian.index)).toEqual([2])
    expect(await k.c.registry.getSingleMetricAsString('ubtc_custody_invalid_shares_total')).toContain(`guardian="${guardians.at(2)!.name}"} 1`)
    for (const [m, msg] of msgs.entries()) expect(verifySchnorr(msg, xOnly(), k.submitted[0]!.signatures[m]!)).toBe(true)
    // remembered: the next session does not ask it at all
    const next = jobCoordinatedBy(0, N)
    k.approve(next, msgs)
    expect(await k.coord.sign([{ ref: next, messages: msgs }], 0, new AbortController().signal)).toMatchObject({ outcome: 'signed', rounds: 1 })
    k.stop()
  })

  it('leaves out signers that refuse or time out, and waits when fewer than t remain', async () => {
    const k = cluster(0, { down: [3, 4] })
    const job = jobCoordinatedBy(0, N)
    const msgs = messages(1)
    k.approve(job, msgs)
    k.members.get(1)!.jobs.complete(job) // guardian 1 does not see the job as signable (a block behind)
    const outcome = await k.coord.sign([{ ref: job, messages: msgs }], 0, new AbortController().signal)
    expect(outcome).toMatchObject({ outcome: 'failed' })
    expect(outcome.detail).toContain('not_signable')
    k.down.add(2)
    expect(await k.coord.sign([{ ref: job, messages: msgs }], 0, new AbortController().signal)).toMatchObject({ outcome: 'insufficient_signers', rounds: 0 })
    // a signer that never answers its sign request is left out; the others complete
    k.down.clear()
    k.members.get(1)!.jobs.approve(job, msgs)
    k.members.get(3)!.faults.commitDelayMs = 50
    k.members.get(4)!.faults.commitDelayMs = 50
    k.members.get(2)!.faults.onSign = () => new Promise(() => {})
    const slow = await k.coord.sign([{ ref: job, messages: msgs }], 0, new AbortController().signal)
    expect(slow).toMatchObject({ outcome: 'signed' })
    expect(slow.signers).not.toContain(2)
    k.stop()
  })

  it('reports no_key without a share, and aborted when stopped', async () => {
    const k = cluster(0)
    const job = jobCoordinatedBy(0, N)
    const msgs = messages(1)
    k.approve(job, msgs)
    k.c.keyShare.enabled = false
    expect(await k.coord.sign([{ ref: job, messages: msgs }], 0, new AbortController().signal)).toMatchObject({ outcome: 'no_key' })
    k.c.keyShare.enabled = true
    const abort = new AbortController()
    abort.abort()
    expect(await k.coord.sign([{ ref: job, messages: msgs }], 0, abort.signal)).toMatchObject({ outcome: 'aborted' })
    expect(await k.c.registry.getSingleMetricAsString('ubtc_custody_signing_sessions_total')).toContain('outcome="no_key"} 1')
    k.stop()
  })
})
