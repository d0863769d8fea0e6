import { createHash } from 'node:crypto'
import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { pino, type Logger } from 'pino'
import { Registry } from 'prom-client'
import * as tiny from 'tiny-secp256k1'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  decodeDkgResponse,
  decodeTx,
  DKG_PROTOCOL_NAME,
  dkgSessionId,
  encodeCanonical,
  encodeDkgRequest,
  encodeTx,
  frostPublicOf,
  GuardianSet,
  guardianIdentifier,
  MAX_DKG_REQUEST_BYTES,
  MAX_DKG_RESPONSE_BYTES,
  reserveKeyDigest,
  taprootOutputKey,
  TxType,
  verifyDigest,
  type DkgRound1Package,
  type GuardianInfo,
  type ReserveKey,
  type ReserveKeyTx,
} from '../../../protocol/index.js'
import { InProcessNetwork } from '../../../testnet/in-process.js'
import { frostSecretOf, readKeyShare, readKeyShares, TESTNET_KDF } from '../../keystore/index.js'
import { networkProtocol, sendRequest } from '../../network/index.js'
import { DkgService, DkgServiceError, type DkgServiceOptions, type DkgStatus } from './index.js'

const PASS = 'dkg test passphrase'
const GUARDIANS = 5

type ServiceClass = new (opts: DkgServiceOptions) => DkgService

/** Byzantine: every share it serves is off by one bit. */
class CorruptShares extends DkgService {
  protected override outgoingShare(_to: GuardianInfo, share: Uint8Array): Uint8Array {
    const bad = Uint8Array.from(share)
    bad[31]! ^= 1
    return bad
  }
}

/** Byzantine: publishes a proof of knowledge that does not verify. */
class BadProof extends DkgService {
  protected override outgoingRound1(pkg: DkgRound1Package): DkgRound1Package {
    const proof = Uint8Array.from(pkg.proofOfKnowledge)
    proof[63]! ^= 1
    return { ...pkg, proofOfKnowledge: proof }
  }
}

/** Test control, not misbehaviour: holds back its attempt-0 share for guardian-4, so guardian-4 stays mid-session. */
class HoldShareFor4 extends DkgService {
  protected override outgoingShare(to: GuardianInfo, share: Uint8Array, attempt: number): Uint8Array | undefined {
    return attempt === 0 && to.index === 4 ? undefined : share
  }
}

interface LogLine {
  level: number
  msg: string
  culprit?: string
  [key: string]: unknown
}

/** Five in-process guardians and their DKG services, with a simulated chain for submit/committedKey. */
class Harness {
  readonly services = new Map<number, DkgService>()
  readonly registries = new Map<number, Registry>()
  readonly submitted = new Map<number, ReserveKeyTx[]>()
  readonly logs = new Map<number, LogLine[]>()
  committed: ReserveKey | undefined

  private constructor(
    readonly net: InProcessNetwork,
    readonly dir: string,
  ) {}

  /** Other test runs on this machine may take a port between the free-port check and listen: try again then. */
  static async create(start?: number[]): Promise<Harness> {
    for (let attempt = 1; ; attempt++) {
      let net: InProcessNetwork | undefined
      try {
        net = await InProcessNetwork.create({ guardians: GUARDIANS, ...(start === undefined ? {} : { start }) })
        await net.waitConnected()
        return new Harness(net, await mkdtemp(join(tmpdir(), 'ubtc-dkg-')))
      } catch (err) {
        await net?.close()
        if (attempt === 3) throw err
      }
    }
  }

  get genesis(): InProcessNetwork['genesis'] {
    return this.net.genesis
  }

  keystoreFile(index: number): string {
    return join(this.dir, `guardian-${index}.json`)
  }

  sharesFile(index: number): string {
    return join(this.dir, `guardian-${index}.shares.json`)
  }

  service(index: number, Class: ServiceClass = DkgService): DkgService {
    const g = this.net.guardians.get(index)!
    const guardians = new GuardianSet(this.genesis)
    const lines: LogLine[] = this.logs.get(index) ?? []
    this.logs.set(index, lines)
    const logger: Logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) })
    const registry = new Registry()
    this.registries.set(index, registry)
    const service = new Class({
      genesis: this.genesis,
      guardians,
      self: guardians.at(index)!,
      votePrivateKey: g.keys.votePrivateKey,
      network: g.network,
      keystoreFile: this.keystoreFile(index),
      passphrase: PASS,
      kdf: TESTNET_KDF,
      committedKey: async () => this.committed,
      submit: async (tx) => {
        this.submitted.set(index, [...(this.submitted.get(index) ?? []), tx])
      },
      registry,
      logger,
      pollIntervalMs: 50,
      requestTimeoutMs: 3000,
      joinWindowMs: 1500,
    })
    this.services.set(index, service)
    return service
  }

  status(index: number): DkgStatus {
    return this.services.get(index)!.status()
  }

  async close(): Promise<void> {
    await Promise.all([...this.services.values()].map((s) => s.stop()))
    await this.net.close()
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Polls `condition` until it holds; fails with `what` and the last statuses after `timeoutMs`. */
async function waitFor(h: Harness, what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) {
      const statuses = [...h.services.entries()].map(([i, s]) => `${i}: ${JSON.stringify(s.status())}`).join('\n')
      throw new Error(`timed out waiting for ${what}\n${statuses}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const all = (indexes: number[], h: Harness, pred: (s: DkgStatus) => boolean): boolean => indexes.every((i) => h.services.has(i) && pred(h.status(i)))
const HONEST = (bad: number): number[] => [0, 1, 2, 3, 4].filter((i) => i !== bad)

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}

function taggedSha256(tag: string, data: Uint8Array): Uint8Array {
  const t = createHash('sha256').update(tag).digest()
  return new Uint8Array(createHash('sha256').update(t).update(t).update(data).digest())
}

/** The key every guardian agreed on (and checks that they did). */
function agreedKey(h: Harness, indexes: number[]): ReserveKey {
  const txs = indexes.map((i) => h.submitted.get(i)?.[0])
  for (const tx of txs) expect(tx).toBeDefined()
  const key = txs[0]!.key
  for (const tx of txs) expect(bytesToHex(encodeTx(tx!))).toBe(bytesToHex(encodeTx(txs[0]!)))
  return key
}

describe('DKG on 5 in-process guardians, one starting late', () => {
  let h: Harness
  beforeAll(async () => {
    h = await Harness.create([0, 1, 2, 3])
  }, 120_000)
  afterAll(async () => {
    await h?.close()
  })

  it('the four early guardians hold each other’s packages and wait for the fifth', async () => {
    await Promise.all([0, 1, 2, 3].map((i) => h.service(i).start()))
    await waitFor(h, 'four round-1 packages each', () => all([0, 1, 2, 3], h, (s) => s.phase === 'round1' && s.round1 === 4))
    expect(h.status(0)).toMatchObject({ state: 'running', attempt: 0, participants: 5, threshold: 3, sessionId: bytesToHex(dkgSessionId(h.genesis.hash, 0)) })
  })

  it('the late guardian joins attempt 0 and every guardian ends with the same signed reserve key', async () => {
    await h.net.startGuardian(4)
    await h.net.waitConnected()
    await h.service(4).start()
    await waitFor(h, 'all complete', () => all([0, 1, 2, 3, 4], h, (s) => s.state === 'complete'))
    for (const i of [0, 1, 2, 3, 4]) expect(h.status(i)).toMatchObject({ phase: 'submitted', attempt: 0, round1: 5, shares: 4, signatures: 5, culprit: null })

    const key = agreedKey(h, [0, 1, 2, 3, 4])
    const tx = h.submitted.get(0)![0]!
    expect(decodeTx(encodeTx(tx))).toEqual(tx)
    expect(tx.type).toBe(TxType.ReserveKey)
    expect(bytesToHex(key.sessionId)).toBe(bytesToHex(dkgSessionId(h.genesis.hash, 0)))
    expect(key.threshold).toBe(3)
    expect(key.commitments).toHaveLength(3)
    expect(key.verifyingShares).toHaveLength(5)
    expect(tx.signatures.map((s) => s.guardian)).toEqual([0, 1, 2, 3, 4])
    const digest = reserveKeyDigest(h.genesis.hash, key)
    for (const s of tx.signatures) expect(verifyDigest(digest, s.signature, h.genesis.guardians[s.guardian]!.votePublicKey)).toBe(true)
    for (const i of [0, 1, 2, 3, 4]) expect(h.status(i).groupKey).toBe(bytesToHex(key.groupKey))

    // Q is the BIP-341 tweak of P with no script tree (checked with libsecp256k1 too).
    expect(bytesToHex(taprootOutputKey(key.internalKey))).toBe(bytesToHex(key.groupKey))
    const xP = key.internalKey.subarray(1)
    const tweaked = tiny.xOnlyPointAddTweak(xP, taggedSha256('TapTweak', xP))!
    expect(bytesToHex(tweaked.xOnlyPubkey)).toBe(bytesToHex(key.groupKey.subarray(1)))
    expect(tweaked.parity).toBe(key.groupKey[0] === 3 ? 1 : 0)

    // Each share file decrypts to a share that is valid for the key…
    const pub = frostPublicOf(key)
    const entries = await Promise.all([0, 1, 2, 3, 4].map((i) => readKeyShares(h.sharesFile(i), PASS)))
    entries.forEach((list, i) => {
      expect(list).toHaveLength(1)
      expect(list[0]!.identifier).toBe(i + 1)
      expect(bytesToHex(list[0]!.sessionId)).toBe(bytesToHex(key.sessionId))
      expect(encodeTx({ ...tx, key: list[0]!.key })).toEqual(encodeTx(tx))
      expect(() => schnorr_FROST.validateSecret(frostSecretOf(list[0]!), pub)).not.toThrow()
    })
    // …and any three of them make a BIP-340 signature by x(Q).
    const signers = [0, 2, 4].map((i) => frostSecretOf(entries[i]![0]!))
    const msg = new Uint8Array(createHash('sha256').update('proof of reserves').digest())
    const nonces = signers.map((s) => schnorr_FROST.commit(s))
    const commitments = nonces.map((n) => n.commitments)
    const sigShares: Record<string, Uint8Array> = {}
    signers.forEach((s, i) => (sigShares[s.identifier] = schnorr_FROST.signShare(s, pub, nonces[i]!.nonces, commitments, msg)))
    const sig = schnorr_FROST.aggregate(pub, commitments, msg, sigShares)
    expect(tiny.verifySchnorr(msg, key.groupKey.subarray(1), sig)).toBe(true)
    expect(Object.keys(sigShares)).toEqual([0, 2, 4].map(guardianIdentifier))

    const metrics = await h.registries.get(4)!.getSingleMetricAsString('ubtc_dkg_runs_total')
    expect(metrics).toContain('outcome="complete"} 1')
  })

  it('answers malformed or oversize requests with an error, logs the guardian, and keeps serving', async () => {
    const protocol = networkProtocol(h.genesis.hash, DKG_PROTOCOL_NAME)
    const client = h.net.guardians.get(1)!.network
    const server = h.genesis.guardians[0]!
    await expect(sendRequest(client, server, protocol, new Uint8Array([0xde, 0xad]), { timeoutMs: 3000 })).rejects.toThrow()
    await expect(sendRequest(client, server, protocol, encodeCanonical([1, 9, 0]), { timeoutMs: 3000 })).rejects.toThrow()
    await expect(sendRequest(client, server, protocol, new Uint8Array(MAX_DKG_REQUEST_BYTES + 1), { timeoutMs: 3000 })).rejects.toThrow()
    const answer = decodeDkgResponse(await sendRequest(client, server, protocol, encodeDkgRequest({ type: 'result', attempt: 0 }), { maxResponseBytes: MAX_DKG_RESPONSE_BYTES }))
    expect(answer.type).toBe('result')
    expect(decodeDkgResponse(await sendRequest(client, server, protocol, encodeDkgRequest({ type: 'share', attempt: 7 }))).type).toBe('other_attempt')
    expect(h.logs.get(0)!.filter((l) => l.msg === 'DKG: bad request from guardian-1')).toHaveLength(2)
    expect(await h.registries.get(0)!.getSingleMetricAsString('ubtc_dkg_bad_messages_total')).toContain('guardian="guardian-1"} 2')
    // a complete guardian does not follow a higher attempt
    expect(h.status(0)).toMatchObject({ state: 'complete', attempt: 0 })
  })

  it('stops once the key is committed and refuses to start again', async () => {
    await expect(h.services.get(3)!.startNewAttempt()).rejects.toMatchObject({ code: 'pending_commit' })
    h.committed = h.submitted.get(0)![0]!.key
    await waitFor(h, 'committed everywhere', () => all([0, 1, 2, 3, 4], h, (s) => s.phase === 'committed'))
    await expect(h.services.get(1)!.start()).rejects.toBeInstanceOf(DkgServiceError)
    await expect(h.services.get(1)!.startNewAttempt()).rejects.toMatchObject({ code: 'already_committed' })
  })
})

/** Runs a DKG with a Byzantine guardian `bad` and checks that every honest guardian names it. */
async function expectBlame(bad: number, Class: ServiceClass, reason: string): Promise<void> {
  const h = await Harness.create()
  try {
    await Promise.all([0, 1, 2, 3, 4].map((i) => h.service(i, i === bad ? Class : DkgService).start()))
    const honest = HONEST(bad)
    await waitFor(h, 'honest guardians aborted', () => all(honest, h, (s) => s.state === 'aborted'))
    const culprit = `guardian-${bad}`
    for (const i of honest) {
      expect(h.status(i)).toMatchObject({ state: 'aborted', phase: 'aborted', attempt: 0, culprit, culpritIndex: bad, reason })
      expect(h.status(i).detectedBy).toMatch(/^guardian-\d$/)
      // nothing persisted, nothing signed or submitted
      expect(await exists(h.sharesFile(i))).toBe(false)
      expect(h.status(i).signatures).toBe(0)
      expect(h.submitted.get(i)).toBeUndefined()
      // an error log names the culprit
      const errors = h.logs.get(i)!.filter((l) => l.level >= 50)
      expect(errors.some((l) => l.culprit === culprit && l.msg.includes(culprit))).toBe(true)
      expect(await h.registries.get(i)!.getSingleMetricAsString('ubtc_dkg_aborts_total')).toContain(`ubtc_dkg_aborts_total{culprit="${culprit}",reason="${reason}"} 1`)
    }
    // at least one honest guardian found the fault itself; the others may have learnt it by polling
    expect(honest.some((i) => h.status(i).detectedBy === `guardian-${i}`)).toBe(true)
    // No automatic retry: a guardian that starts again adopts the abort of its peers…
    const again = honest[0]!
    await h.services.get(again)!.start()
    await waitFor(h, 'the abort adopted again', () => h.status(again).phase === 'aborted')
    expect(h.status(again)).toMatchObject({ attempt: 0, culprit, reason })
    // …an operator opens the next attempt on one guardian, and everybody follows it.
    const opened = await h.services.get(honest[1]!)!.startNewAttempt()
    expect(opened.state).toBe('running')
    await waitFor(h, 'attempt 1 aborted everywhere', () => all(honest, h, (s) => s.attempt === 1 && s.state === 'aborted'))
    for (const i of honest) expect(h.status(i)).toMatchObject({ culprit, reason })
  } finally {
    await h.close()
  }
}

describe('blame', () => {
  it('a guardian that serves bad shares is named by the others and the attempt aborts', async () => {
    await expectBlame(2, CorruptShares, 'bad_share')
  }, 120_000)

  it('a guardian with a bad proof of knowledge is named by the others and the attempt aborts', async () => {
    await expectBlame(3, BadProof, 'bad_proof')
  }, 120_000)
})

describe('restart mid-session', () => {
  let h: Harness
  beforeAll(async () => {
    h = await Harness.create()
  }, 120_000)
  afterAll(async () => {
    await h?.close()
  })

  it('a guardian restarted mid-session opens attempt 1, everyone follows and completes', async () => {
    await Promise.all([0, 1, 2, 3, 4].map((i) => h.service(i, i === 4 ? DkgService : HoldShareFor4).start()))
    // 0-3 finish round 3 of attempt 0 (and store their shares); guardian-4 waits for shares held back.
    await waitFor(h, 'attempt 0 stuck on guardian-4', () => all([0, 1, 2, 3], h, (s) => s.phase === 'signatures' && s.signatures === 4) && h.status(4).phase === 'shares')
    await h.services.get(4)!.stop()
    await h.net.stopGuardian(4)
    await h.net.startGuardian(4)
    await h.net.waitConnected()
    await h.service(4).start()

    await waitFor(h, 'all complete', () => all([0, 1, 2, 3, 4], h, (s) => s.state === 'complete'))
    for (const i of [0, 1, 2, 3, 4]) expect(h.status(i)).toMatchObject({ attempt: 1, signatures: 5 })
    const key = agreedKey(h, [0, 1, 2, 3, 4])
    expect(bytesToHex(key.sessionId)).toBe(bytesToHex(dkgSessionId(h.genesis.hash, 1)))
    const pub = frostPublicOf(key)
    for (const i of [0, 1, 2, 3, 4]) {
      const entry = await readKeyShare(h.sharesFile(i), PASS, key.sessionId)
      expect(() => schnorr_FROST.validateSecret(frostSecretOf(entry!), pub)).not.toThrow()
    }
    // prior sessions are kept: 0-3 stored attempt 0 too; guardian-4 never finished it
    expect((await readKeyShares(h.sharesFile(0), PASS)).map((e) => bytesToHex(e.sessionId))).toEqual([0, 1].map((a) => bytesToHex(dkgSessionId(h.genesis.hash, a))))
    expect(await readKeyShares(h.sharesFile(4), PASS)).toHaveLength(1)
    expect(h.logs.get(4)!.some((l) => l.msg.includes('opening attempt 1'))).toBe(true)
  })

  it('a guardian restarted after storing its share resumes the same attempt from its share file', async () => {
    const key = h.submitted.get(2)![0]!.key
    await h.services.get(2)!.stop()
    await h.net.stopGuardian(2)
    h.submitted.delete(2)
    await h.net.startGuardian(2)
    await h.net.waitConnected()
    await h.service(2).start()
    await waitFor(h, 'guardian-2 complete again', () => h.status(2).state === 'complete')
    expect(h.status(2)).toMatchObject({ attempt: 1, signatures: 5, groupKey: bytesToHex(key.groupKey) })
    expect(encodeTx(h.submitted.get(2)![0]!)).toEqual(encodeTx(h.submitted.get(0)![0]!))
    expect(h.logs.get(2)!.some((l) => l.msg === 'DKG: resuming attempt 1 from the share file')).toBe(true)
    for (const i of [0, 1, 3, 4]) expect(h.status(i)).toMatchObject({ state: 'complete', attempt: 1 })
  })
})
