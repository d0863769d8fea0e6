import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { hexToBytes } from '@noble/hashes/utils.js'
import { verifySchnorr } from 'tiny-secp256k1'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  decodeFrostResponse,
  decodeTx,
  encodeFrostRequest,
  encodeTx,
  FROST_SIGN_PROTOCOL_NAME,
  guardianIdentifier,
  outputKeyXOnly,
  signingJobKey,
  type FrostCommitResponse,
  type FrostRequest,
  type FrostResponse,
  type FrostSignResponse,
  type SignerCommitment,
  type SigningJobRef,
  type ThresholdSignatureTx,
} from '../../../protocol/index.js'
import { networkProtocol, sendRequest } from '../../network/index.js'
import { jobCoordinatedBy, messages, waitFor } from './test-helpers/fixtures.js'
import { SigningTestbed } from './test-helpers/testbed.js'

/**
 * FROST signing among 5 real libp2p guardians (InProcessNetwork, LevelDB stores) holding a
 * 3-of-5 key from an in-process DKG. Tests run in order on one network.
 */

const N = 5
const T = 3
let bed: SigningTestbed
let protocol: string

beforeAll(async () => {
  bed = await SigningTestbed.create({ n: N, t: T })
  protocol = networkProtocol(bed.net.genesis.hash, FROST_SIGN_PROTOCOL_NAME)
}, 120_000)

afterAll(async () => {
  await bed?.close()
})

const xOnly = (): Uint8Array => outputKeyXOnly(bed.dealt.key)
const name = (index: number): string => bed.net.genesis.guardians[index]!.name

function expectValid(tx: ThresholdSignatureTx, msgs: readonly Uint8Array[]): void {
  expect(tx.signatures).toHaveLength(msgs.length)
  for (const [m, msg] of msgs.entries()) expect(verifySchnorr(msg, xOnly(), tx.signatures[m]!)).toBe(true)
  expect(tx.signers).toHaveLength(T)
  expect([...tx.signers].sort((a, b) => a - b)).toEqual(tx.signers)
  expect(decodeTx(encodeTx(tx))).toEqual(tx)
}

async function counter(index: number, metric: string, labels: Record<string, string>): Promise<number> {
  const found = bed.nodes[index]!.registry.getSingleMetric(metric)
  if (found === undefined) return 0
  const { values } = await found.get()
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0)
}

async function ask(from: number, to: number, request: FrostRequest | Uint8Array): Promise<FrostResponse> {
  const bytes = request instanceof Uint8Array ? request : encodeFrostRequest(request)
  return decodeFrostResponse(await sendRequest(bed.net.guardians.get(from)!.network, bed.net.genesis.guardians[to]!, protocol, bytes, { timeoutMs: 5_000 }))
}

/** Makes `favoured` answer commit requests before `others` (they wait for it, then 100 ms more): the coordinator picks it. */
function favour(favoured: number, others: readonly number[]): void {
  let answered!: () => void
  const gate = new Promise<void>((resolve) => (answered = resolve))
  bed.nodes[favoured]!.faults.onCommitted = answered
  for (const i of others) {
    bed.nodes[i]!.faults.commitAfter = gate
    bed.nodes[i]!.faults.commitDelayMs = 100
  }
}

function unfavour(): void {
  for (const node of bed.nodes) Object.assign(node.faults, { commitAfter: undefined, commitDelayMs: 0, onCommitted: undefined })
}

function allSignersIdle(): boolean {
  return bed.running().every((n) => n.service!.signer.openSessions === 0)
}

describe('FROST signing sessions among 5 guardians (3-of-5)', () => {
  it('signs a job: BIP-340 signatures by x(Q), submitted once by the coordinator; no signer keeps nonces after', async () => {
    const job = jobCoordinatedBy(1, N)
    const msgs = messages(1)
    bed.approve(job, msgs)
    await waitFor(() => bed.submissionsOf(job).length > 0, 'signature submitted')
    const [submission] = bed.submissionsOf(job)
    expect(submission!.by).toBe(1)
    expect(submission!.tx.job).toEqual(job)
    expect(submission!.tx.signers).toContain(1)
    expectValid(submission!.tx, msgs)
    await waitFor(allSignersIdle, 'every signer to forget its sessions (used, or released by the coordinator)')
    expect(bed.submissionsOf(job)).toHaveLength(1)
    expect(await counter(1, 'ubtc_custody_signing_sessions_total', { outcome: 'signed' })).toBe(1)

    // the cost of one signature, from approval to submission, over libp2p (sequential jobs)
    const runs = 10
    const started = performance.now()
    for (let i = 0; i < runs; i++) {
      const next = jobCoordinatedBy(i % N, N)
      const m = messages(1)
      bed.approve(next, m)
      await waitFor(() => bed.submissionsOf(next).length > 0, 'signature submitted')
      expectValid(bed.submissionsOf(next)[0]!.tx, m)
    }
    console.log(`3-of-5 FROST signature over libp2p (in-process), approval to submission: ${((performance.now() - started) / runs).toFixed(1)} ms`)
  })

  it('batches jobs of one attempt into one session, a multi-message PSBT job included', async () => {
    const jobs = [jobCoordinatedBy(2, N), jobCoordinatedBy(2, N), jobCoordinatedBy(2, N, { kind: 'psbt' })]
    const msgs = [messages(1), messages(1), messages(3)]
    const before = await counter(2, 'ubtc_custody_signing_sessions_total', { outcome: 'signed' })
    jobs.forEach((job, i) => bed.approve(job, msgs[i]!)) // one synchronous block: one tick sees all three
    await waitFor(() => jobs.every((job) => bed.submissionsOf(job).length === 1), 'all three submitted')
    jobs.forEach((job, i) => expectValid(bed.submissionsOf(job)[0]!.tx, msgs[i]!))
    expect(await counter(2, 'ubtc_custody_signing_sessions_total', { outcome: 'signed' })).toBe(before + 1)
    expect(new Set(jobs.map((job) => bed.submissionsOf(job)[0]!.tx.signers.join()))).toHaveProperty('size', 1)
  })

  it('does not sign a submitted job again in its attempt; the next attempt has its own coordinator', async () => {
    const job = jobCoordinatedBy(3, N, { next: 4 })
    bed.held.add(signingJobKey(job)) // submitted but never committed
    const msgs = messages(1)
    const attemptMs = 60_000 // the testbed's sessionTimeoutMs
    const nextAttemptAt = Date.now() + 2_000
    bed.approve(job, msgs, { signableAtMs: nextAttemptAt - attemptMs })
    await waitFor(() => bed.submissionsOf(job).length >= 2, 'a signature in attempt 1', 15_000)
    const [first, second] = bed.submissionsOf(job)
    expect(first!.by).toBe(3)
    expect(second!.by).toBe(4)
    expect(second!.atMs).toBeGreaterThanOrEqual(nextAttemptAt)
    expectValid(second!.tx, msgs)
    bed.held.delete(signingJobKey(job))
    bed.commit(job)
    // ticks went on meanwhile (every 100 ms), yet guardian 3 submitted once
    expect(bed.submissionsOf(job).filter((s) => s.by === 3)).toHaveLength(1)
  })

  it('does not sign a job again in the next attempt while its signature is on its way to the log', async () => {
    const job = jobCoordinatedBy(3, N, { next: 4 })
    bed.held.add(signingJobKey(job)) // submitted but not committed yet
    const msgs = messages(1)
    const nextAttemptAt = Date.now() + 1_500
    bed.approve(job, msgs, { signableAtMs: nextAttemptAt - 60_000 })
    await waitFor(() => bed.submissionsOf(job).length >= 1, 'a signature in attempt 0', 15_000)
    // guardian 4, next attempt's coordinator, admits the gossiped signature transaction
    bed.nodes[4]!.service!.noteSignature(job)
    await waitFor(async () => Date.now() > nextAttemptAt + 1_000, 'attempt 1 under way', 5_000)
    expect(bed.submissionsOf(job).map((s) => s.by)).toEqual([3])
    bed.held.delete(signingJobKey(job))
    bed.commit(job)
  })

  it('a signer is no signing oracle: it refuses jobs its own state does not list, requesters that do not coordinate, other keys and garbage', async () => {
    const unknown = jobCoordinatedBy(0, N)
    bed.approve(unknown, messages(1), { listed: false, except: [1] }) // every guardian but 1 would sign it
    const commit = (job: SigningJobRef): FrostRequest => ({ type: 'commit', outputKey: xOnly(), attempt: 0, jobs: [job] })
    expect(await ask(0, 1, commit(unknown))).toMatchObject({ type: 'error', code: 'not_signable' })
    const elsewhere = await ask(0, 2, commit(unknown))
    expect(elsewhere).toMatchObject({ type: 'commitments' })
    await ask(0, 2, { type: 'release', sessionId: (elsewhere as FrostCommitResponse).sessionId })

    const job = jobCoordinatedBy(0, N)
    bed.approve(job, messages(1), { listed: false })
    const notCoordinator = await ask(2, 1, commit(job))
    expect(notCoordinator).toMatchObject({ type: 'error', code: 'not_coordinator' })
    expect((notCoordinator as { message: string }).message).toContain(name(0))
    expect(await ask(0, 1, { type: 'commit', outputKey: new Uint8Array(32).fill(1), attempt: 0, jobs: [job] })).toMatchObject({ type: 'error', code: 'wrong_key' })
    expect(await ask(0, 1, new Uint8Array([0xde, 0xad, 0xbe, 0xef]))).toMatchObject({ type: 'error', code: 'bad_request' })
    expect(await ask(0, 1, encodeFrostRequest({ type: 'commit', outputKey: xOnly(), attempt: 0, jobs: [job] }).subarray(0, 20))).toMatchObject({ type: 'error', code: 'bad_request' })
    await expect(sendRequest(bed.net.guardians.get(0)!.network, bed.net.genesis.guardians[1]!, protocol, new Uint8Array(400 * 1024), { timeoutMs: 3_000 })).rejects.toThrow()
    // still serving, and nothing was opened by the refused requests
    const opened = await ask(0, 1, commit(job))
    expect(opened).toMatchObject({ type: 'commitments' })
    expect(await ask(0, 1, { type: 'release', sessionId: (opened as FrostCommitResponse).sessionId })).toEqual({ type: 'released' })
    expect(await ask(0, 2, { type: 'release', sessionId: new Uint8Array(32) })).toEqual({ type: 'released' })
    await waitFor(allSignersIdle, 'no open session')
    expect(await counter(1, 'ubtc_custody_signer_refusals_total', { code: 'not_coordinator' })).toBeGreaterThanOrEqual(1)
    bed.commit(unknown)
    bed.commit(job)
  })

  it('uses each nonce once: a replayed or tampered sign request is refused and the session is gone', async () => {
    const job = jobCoordinatedBy(0, N)
    const msgs = messages(2)
    bed.approve(job, msgs, { listed: false })
    const signers = [1, 2, 3]
    const open = async (): Promise<FrostCommitResponse[]> => {
      const answers = await Promise.all(signers.map((s) => ask(0, s, { type: 'commit', outputKey: xOnly(), attempt: 0, jobs: [job] })))
      for (const a of answers) expect(a).toMatchObject({ type: 'commitments' })
      return answers as FrostCommitResponse[]
    }
    const listsOf = (commits: FrostCommitResponse[]): SignerCommitment[][] => msgs.map((_, m) => signers.map((s, i) => ({ signer: s, ...commits[i]!.commitments[m]! })))
    const signRequest = (commits: FrostCommitResponse[], i: number, lists: SignerCommitment[][]): FrostRequest => ({
      type: 'sign',
      outputKey: xOnly(),
      sessionId: commits[i]!.sessionId,
      attempt: 0,
      jobs: [job],
      commitments: lists,
    })

    // an outside coordinator (guardian 0 by hand) gets valid shares that aggregate into valid signatures
    const commits = await open()
    const lists = listsOf(commits)
    const answers = await Promise.all(signers.map((s, i) => ask(0, s, signRequest(commits, i, lists))))
    for (const a of answers) expect(a).toMatchObject({ type: 'shares' })
    const pub = { signers: { min: T, max: N }, commitments: [...bed.dealt.key.commitments], verifyingShares: Object.fromEntries(bed.dealt.key.verifyingShares.map((v, i) => [guardianIdentifier(i), v])) }
    for (const [m, msg] of msgs.entries()) {
      const list = lists[m]!.map((c) => ({ identifier: guardianIdentifier(c.signer), hiding: c.hiding, binding: c.binding }))
      const shares = Object.fromEntries(signers.map((s, i) => [guardianIdentifier(s), (answers[i] as FrostSignResponse).shares[m]!]))
      expect(verifySchnorr(msg, xOnly(), schnorr_FROST.aggregate(pub, list, msg, shares))).toBe(true)
    }
    // replay: refused, nothing signed twice with the same nonces
    expect(await ask(0, 1, signRequest(commits, 0, lists))).toMatchObject({ type: 'error', code: 'unknown_session' })
    await waitFor(allSignersIdle, 'no open session')

    // tampered: guardian 1's commitment replaced by guardian 2's → refused, and the session is burnt
    const fresh = await open()
    const freshLists = listsOf(fresh)
    const tampered = freshLists.map((list) => list.map((c) => (c.signer === 1 ? { ...c, hiding: list[1]!.hiding } : c)))
    expect(await ask(0, 1, signRequest(fresh, 0, tampered))).toMatchObject({ type: 'error', code: 'bad_request' })
    expect(await ask(0, 1, signRequest(fresh, 0, freshLists))).toMatchObject({ type: 'error', code: 'unknown_session' })
    // a point off the curve does not decode: refused with a clear message
    const offCurve = hexToBytes('02' + '00'.repeat(31) + '05')
    const bad = await ask(0, 2, signRequest(fresh, 1, freshLists.map((list) => list.map((c) => (c.signer === 3 ? { ...c, binding: offCurve } : c)))))
    expect(bad).toMatchObject({ type: 'error', code: 'bad_request' })
    expect((bad as { message: string }).message).toContain('not a point of secp256k1')
    for (const [i, s] of signers.entries()) await ask(0, s, { type: 'release', sessionId: fresh[i]!.sessionId })
    await waitFor(allSignersIdle, 'no open session')
    bed.commit(job)
  })

  it('names a guardian whose shares are bad (log and metric) and completes without it', async () => {
    const cheater = 2
    favour(cheater, [1, 3, 4])
    bed.nodes[cheater]!.faults.badShares = true
    try {
      const job = jobCoordinatedBy(0, N, { prefers: { guardians: [cheater], within: 2 } })
      const msgs = messages(2)
      bed.approve(job, msgs)
      await waitFor(() => bed.submissionsOf(job).length > 0, 'signature submitted')
      const { tx, by } = bed.submissionsOf(job)[0]!
      expect(by).toBe(0)
      expectValid(tx, msgs)
      expect(tx.signers).not.toContain(cheater)
      expect(await counter(0, 'ubtc_custody_invalid_shares_total', { guardian: name(cheater) })).toBe(1)
      const logged = bed.logLines.map((l) => JSON.parse(l)).find((l) => l.level === 50 && l.guardian === name(cheater) && l.msg.includes('invalid signature share'))
      expect(logged).toBeDefined()
      expect(logged.jobs).toEqual([signingJobKey(job)])
      expect(bed.nodes[0]!.service!.coordinator.badSigners().map((b) => b.guardian.index)).toEqual([cheater])
    } finally {
      unfavour()
      bed.nodes[cheater]!.faults.badShares = false
    }
  })

  it('a signer that loses its memory mid-session (restart) makes the coordinator start over with fresh nonces', async () => {
    const coordinator = 3
    const crashing = 1
    favour(crashing, [0, 2, 4])
    let restarted = false
    bed.nodes[crashing]!.faults.onSign = async (from, request) => {
      bed.nodes[crashing]!.faults.onSign = undefined
      await bed.stopService(crashing) // memory lost: pool and sessions wiped
      const fresh = await bed.startService(crashing)
      restarted = true
      return fresh.signer.sign(from, request) // the request reaches the new instance
    }
    try {
      const job = jobCoordinatedBy(coordinator, N, { prefers: { guardians: [crashing], within: 2 } })
      const msgs = messages(1)
      bed.approve(job, msgs)
      await waitFor(() => bed.submissionsOf(job).length > 0, 'signature submitted')
      expect(restarted).toBe(true)
      const { tx, by } = bed.submissionsOf(job)[0]!
      expect(by).toBe(coordinator)
      expectValid(tx, msgs)
      expect(tx.signers).not.toContain(crashing) // left out for the rest of the session
      const refusal = bed.logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'signer refused' && l.guardian === name(crashing) && l.code === 'unknown_session')
      expect(refusal).toBeDefined()
      await waitFor(allSignersIdle, 'no open session')
    } finally {
      unfavour()
    }
  })

  it('stop() aborts the sessions in flight and wipes the nonces', async () => {
    const coordinator = 0
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    for (const node of bed.nodes) if (node.index !== coordinator) node.faults.onSign = async () => gate.then(() => undefined) // sign requests hang
    try {
      const job = jobCoordinatedBy(coordinator, N)
      const served = await counter(coordinator, 'ubtc_custody_shares_served_total', {})
      bed.approve(job, messages(1))
      await waitFor(async () => (await counter(coordinator, 'ubtc_custody_shares_served_total', {})) > served, 'the coordinator to compute its own share')
      const abortedBefore = await counter(coordinator, 'ubtc_custody_signing_sessions_total', { outcome: 'aborted' })
      const signer = bed.signer(coordinator)
      const started = Date.now()
      await bed.stopService(coordinator)
      expect(Date.now() - started).toBeLessThan(2_000) // not the 5 s sign timeout
      expect(await counter(coordinator, 'ubtc_custody_signing_sessions_total', { outcome: 'aborted' })).toBe(abortedBefore + 1)
      expect(signer.openSessions).toBe(0)
      expect(signer.poolSize).toBe(0)
      expect(bed.submissionsOf(job)).toHaveLength(0)
      bed.commit(job)
    } finally {
      for (const node of bed.nodes) node.faults.onSign = undefined
      open() // the held sign requests go on: their sessions are used up
    }
    await bed.startService(coordinator)
    await waitFor(allSignersIdle, 'no open session')
  })

  it('signs with 2 guardians stopped; with 3 stopped nothing is signed until one returns', async () => {
    const coordinator = 1
    await bed.stopGuardian(3)
    await bed.stopGuardian(4)
    const job = jobCoordinatedBy(coordinator, N)
    const msgs = messages(1)
    bed.approve(job, msgs)
    await waitFor(() => bed.submissionsOf(job).length > 0, 'signature with 3 guardians', 20_000)
    expectValid(bed.submissionsOf(job)[0]!.tx, msgs)
    expect(bed.submissionsOf(job)[0]!.tx.signers).toEqual([0, 1, 2])

    await bed.stopGuardian(2)
    const waiting = jobCoordinatedBy(coordinator, N)
    const waitingMsgs = messages(1)
    const insufficientBefore = await counter(coordinator, 'ubtc_custody_signing_sessions_total', { outcome: 'insufficient_signers' })
    const waitingSince = Date.now()
    bed.approve(waiting, waitingMsgs)
    await waitFor(async () => (await counter(coordinator, 'ubtc_custody_signing_sessions_total', { outcome: 'insufficient_signers' })) >= insufficientBefore + 5, 'the job to wait several ticks')
    expect(bed.submissionsOf(waiting)).toHaveLength(0)
    expect(Date.now() - waitingSince).toBeGreaterThanOrEqual(300) // tried once per tick (100 ms), not in a loop

    await bed.restartGuardian(2)
    await waitFor(() => bed.submissionsOf(waiting).length > 0, 'signature once guardian 2 is back', 30_000)
    expectValid(bed.submissionsOf(waiting)[0]!.tx, waitingMsgs)
    expect(bed.submissionsOf(waiting)[0]!.tx.signers).toEqual([0, 1, 2])
  })

  it('keeps nonces in memory only: none in the LevelDB files or the log, none used twice, all wiped on stop', async () => {
    await waitFor(allSignersIdle, 'no open session')
    const nonces = bed.usedNonces
    expect(nonces.length).toBeGreaterThan(50)
    expect(new Set(nonces).size).toBe(nonces.length)

    const log = bed.logLines.join('')
    expect(log).toContain('threshold signature made')
    for (const hex of nonces) {
      expect(log.includes(hex)).toBe(false)
      expect(log.includes(Buffer.from(hex, 'hex').toString('base64'))).toBe(false)
    }

    const files: string[] = []
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) await walk(path)
        else files.push(path)
      }
    }
    await walk(bed.storeDir)
    expect(files.some((f) => f.endsWith('.log') || f.endsWith('.ldb'))).toBe(true)
    for (const file of files) {
      const content = await readFile(file)
      for (const hex of nonces) {
        expect(content.indexOf(Buffer.from(hex, 'hex'))).toBe(-1)
        expect(content.indexOf(Buffer.from(hex, 'latin1'))).toBe(-1)
      }
    }

    const node = bed.running()[0]!
    const signer = node.service!.signer
    expect(signer.poolSize).toBeGreaterThan(0)
    await bed.stopService(node.index)
    expect(signer.poolSize).toBe(0)
    expect(signer.openSessions).toBe(0)
  })
})
