import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { signerRank, signingCoordinator, signingJobKey, type GuardianInfo, type ReserveKey, type SigningJobKind, type SigningJobRef } from '../../../../protocol/index.js'
import type { FrostSignResponse, FrostErrorResponse, FrostSignRequest, FrostCommitRequest, FrostCommitResponse } from '../../../../protocol/index.js'
import { frostDkg } from '../../../../testnet/local-frost.js'
import { FrostSigner, type FrostCommitmentList, type FrostNonces, type FrostPublic, type FrostSecret, type FrostSignerOptions } from '../signer.js'
import type { KeyShareSource, SigningJobSource } from '../types.js'

export interface DealtKey {
  readonly key: ReserveKey
  /** Guardian i's secret share (identifier = guardianIdentifier(i)). */
  readonly shares: ReadonlyArray<{ readonly identifier: string; readonly signingShare: Uint8Array }>
}

/** A t-of-n reserve key from an in-process run of noble's DKG (rounds 1-3), verifying shares in guardian order. */
export function dkgReserveKey(n: number, t: number): DealtKey {
  const group = frostDkg(t, n)
  const pub = group.keys[0]!.public
  const key: ReserveKey = {
    sessionId: randomBytes(32),
    threshold: t,
    internalKey: group.internalKey,
    groupKey: group.outputKey,
    commitments: pub.commitments,
    verifyingShares: group.ids.map((id) => pub.verifyingShares[id]!),
  }
  return { key, shares: group.keys.map((k) => ({ identifier: k.secret.identifier, signingShare: k.secret.signingShare })) }
}

/** A key share source that can be switched off (a guardian without its share). */
export class StaticKeyShare implements KeyShareSource {
  enabled = true
  constructor(
    private readonly key: ReserveKey,
    private readonly share: { readonly identifier: string; readonly signingShare: Uint8Array },
  ) {}

  current(): { key: ReserveKey; identifier: string; signingShare: Uint8Array } | undefined {
    return this.enabled ? { key: this.key, identifier: this.share.identifier, signingShare: this.share.signingShare } : undefined
  }
}

interface FixtureJob {
  readonly ref: SigningJobRef
  readonly messages: readonly Uint8Array[]
  readonly signableAtMs: number
  readonly listed: boolean
}

/** A guardian's committed state as far as signing goes: a map of approved jobs and their messages. */
export class FixtureJobs implements SigningJobSource {
  private readonly jobs = new Map<string, FixtureJob>()

  /** Approves `ref`; `listed: false` keeps it out of pendingJobs (no service signs it on its own). */
  approve(ref: SigningJobRef, messages: readonly Uint8Array[], opts: { listed?: boolean; signableAtMs?: number } = {}): void {
    this.jobs.set(signingJobKey(ref), { ref, messages: messages.map((m) => m.slice()), signableAtMs: opts.signableAtMs ?? Date.now(), listed: opts.listed ?? true })
  }

  /** The job's signature is committed: it no longer awaits one. */
  complete(ref: SigningJobRef): void {
    this.jobs.delete(signingJobKey(ref))
  }

  async jobMessages(ref: SigningJobRef): Promise<Uint8Array[] | undefined> {
    return this.jobs.get(signingJobKey(ref))?.messages.map((m) => m.slice())
  }

  async pendingJobs(limit: number): Promise<Array<{ ref: SigningJobRef; signableAtMs: number }>> {
    return [...this.jobs.values()]
      .filter((j) => j.listed)
      .sort((a, b) => a.signableAtMs - b.signableAtMs)
      .slice(0, limit)
      .map((j) => ({ ref: j.ref, signableAtMs: j.signableAtMs }))
  }
}

let jobSeed = 0

/** A fresh job whose coordinator of attempt `attempt` (and of attempt `attempt + 1`, if `next` is given) among `n` guardians is `coordinator`. */
export function jobCoordinatedBy(
  coordinator: number,
  n: number,
  opts: { kind?: SigningJobKind; attempt?: number; next?: number; prefers?: { readonly guardians: readonly number[]; readonly within: number } } = {},
): SigningJobRef {
  const attempt = opts.attempt ?? 0
  for (;;) {
    const ref: SigningJobRef = { kind: opts.kind ?? 'validation', id: bytesToHex(sha256(utf8ToBytes(`job-${process.pid}-${jobSeed++}`))) }
    if (signingCoordinator(ref, attempt, n) !== coordinator) continue
    if (opts.next !== undefined && signingCoordinator(ref, attempt + 1, n) !== opts.next) continue
    if (opts.prefers !== undefined) {
      // The coordinator's preferred co-signers (protocol signerRank) must include these guardians.
      const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== coordinator)
      const preferred = others.sort((a, b) => signerRank(ref, attempt, a) - signerRank(ref, attempt, b)).slice(0, opts.prefers.within)
      if (!opts.prefers.guardians.every((g) => preferred.includes(g))) continue
    }
    return ref
  }
}

/** Random 32-byte messages (stand-ins for sighashes). */
export function messages(count: number): Uint8Array[] {
  return Array.from({ length: count }, () => randomBytes(32))
}

/** What a test signer does wrong. */
export interface SignerFaults {
  /** Every share it computes is off by one. */
  badShares: boolean
  /** Answers other coordinators' commit requests this much later… */
  commitDelayMs: number
  /** …and not before this settles. */
  commitAfter: Promise<void> | undefined
  /** Called once it has answered another coordinator's commit request. */
  onCommitted: (() => void) | undefined
  /** Called on other coordinators' sign requests; an answer replaces the signer's own. */
  onSign: ((from: GuardianInfo, request: FrostSignRequest) => Promise<FrostSignResponse | FrostErrorResponse | undefined>) | undefined
}

export function noFaults(): SignerFaults {
  return { badShares: false, commitDelayMs: 0, commitAfter: undefined, onCommitted: undefined, onSign: undefined }
}

/**
 * The fault-injection signer: a FrostSigner whose computeShare can return bad shares, and that
 * records (hex) every nonce it used, for the tests that look for nonces where none may be.
 */
export class TestSigner extends FrostSigner {
  constructor(
    opts: FrostSignerOptions,
    readonly faults: SignerFaults,
    private readonly recordNonce: (hex: string) => void,
  ) {
    super(opts)
  }

  override async commit(from: GuardianInfo, request: FrostCommitRequest): Promise<FrostCommitResponse | FrostErrorResponse> {
    const remote = from.index !== this.opts.self.index
    if (remote && this.faults.commitAfter !== undefined) await this.faults.commitAfter
    if (remote && this.faults.commitDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.commitDelayMs))
    const response = await super.commit(from, request)
    if (remote) this.faults.onCommitted?.()
    return response
  }

  override async sign(from: GuardianInfo, request: FrostSignRequest): Promise<FrostSignResponse | FrostErrorResponse> {
    const hook = this.faults.onSign
    if (hook !== undefined && from.index !== this.opts.self.index) {
      const answer = await hook(from, request)
      if (answer !== undefined) return answer
    }
    return super.sign(from, request)
  }

  protected override computeShare(secret: FrostSecret, pub: FrostPublic, nonces: FrostNonces, commitmentList: FrostCommitmentList, message: Uint8Array): Uint8Array {
    this.recordNonce(bytesToHex(nonces.hiding))
    this.recordNonce(bytesToHex(nonces.binding))
    const share = super.computeShare(secret, pub, nonces, commitmentList, message)
    if (!this.faults.badShares) return share
    const Fn = schnorr_FROST.utils.Fn
    return Fn.toBytes(Fn.add(Fn.fromBytes(share), 1n))
  }
}

/** Polls `condition` until it holds, or fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
