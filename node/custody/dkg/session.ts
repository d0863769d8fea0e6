import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { equalBytes } from '@noble/curves/utils.js'
import {
  checkDkgRound1,
  decodeDkgRound1,
  DkgBlame,
  dkgSessionId,
  encodeDkgRound1,
  encodeEnvelope,
  encodeReserveKey,
  fromFrostRound1,
  guardianIdentifier,
  openDkgRound1,
  ProtocolError,
  reserveKeyDigest,
  reserveKeyFromDkg,
  signDigest,
  signDkgRound1,
  toFrostRound1,
  TxType,
  verifyDigest,
  verifySigningShare,
  type DkgAbortReason,
  type DkgRound1Package,
  type GuardianInfo,
  type GuardianSet,
  type ReserveKey,
  type ReserveKeyTx,
} from '../../../protocol/index.js'

/** What every session of one guardian shares. */
export interface SessionContext {
  readonly networkId: Uint8Array
  readonly guardians: GuardianSet
  readonly self: GuardianInfo
  readonly votePrivateKey: Uint8Array
  readonly threshold: number
}

export type SessionPhase =
  /** Collecting every guardian's round-1 package. */
  | 'round1'
  /** Round 2 done: serving our shares, collecting the shares for us. */
  | 'shares'
  /** Round 3 done: writing our share to the share file. */
  | 'storing'
  /** Share stored and result signed: collecting every guardian's signature. */
  | 'signatures'
  /** Every guardian signed the same result. */
  | 'complete'
  | 'aborted'
  /** Left for a higher attempt. */
  | 'abandoned'

export interface AbortInfo {
  readonly culprit: number
  readonly reason: DkgAbortReason
  readonly detectedBy: number
  readonly detail: string
}

type FrostSecret = ReturnType<typeof schnorr_FROST.DKG.round1>['secret']

interface HeldPackage {
  readonly pkg: DkgRound1Package
  readonly payload: Uint8Array
  readonly envelope: Uint8Array
}

/**
 * One guardian's state in one DKG attempt: noble's round secret, the packages and shares
 * received (each checked on arrival, so a failure names its sender), the result and the
 * signatures over it. No I/O: the service moves messages in and out.
 *
 * Secrets: the round-1 secret lives here until round 3 (noble wipes its coefficients there)
 * or an abort/abandon (DKG.clean). Our outgoing shares are kept until the receiver signed the
 * result (it then has finished round 3), and wiped then or on abort; incoming shares are wiped
 * after round 3. The final signing share is handed to the caller, never kept.
 */
export class DkgSession {
  readonly sessionId: Uint8Array
  readonly n: number
  readonly startedAt = Date.now()
  phase: SessionPhase
  key: ReserveKey | undefined
  abortInfo: AbortInfo | undefined
  round1Received = 0
  sharesReceived = 0
  readonly signatures = new Map<number, Uint8Array>()
  private secret: FrostSecret | undefined
  private readonly packages = new Map<number, HeldPackage>()
  private outgoing: Map<number, Uint8Array> | undefined
  private readonly incoming = new Map<number, Uint8Array>()

  private constructor(
    private readonly ctx: SessionContext,
    readonly attempt: number,
    /** Resumed from the share file after a restart: round-1 and round-2 state is gone. */
    readonly resumed: boolean,
  ) {
    this.sessionId = dkgSessionId(ctx.networkId, attempt)
    this.n = ctx.guardians.size
    this.phase = resumed ? 'signatures' : 'round1'
  }

  /** A new participation: runs round 1; `publish` sees the package before it is signed. */
  static fresh(ctx: SessionContext, attempt: number, publish: (pkg: DkgRound1Package) => DkgRound1Package): DkgSession {
    const session = new DkgSession(ctx, attempt, false)
    const { self } = ctx
    const round1 = schnorr_FROST.DKG.round1(guardianIdentifier(self.index), { min: ctx.threshold, max: session.n })
    session.secret = round1.secret
    const pkg = publish(fromFrostRound1(ctx.networkId, attempt, self.index, round1.public))
    const envelope = encodeEnvelope(signDkgRound1(ctx.networkId, ctx.guardians, self.index, pkg, ctx.votePrivateKey))
    session.packages.set(self.index, { pkg, payload: encodeDkgRound1(pkg), envelope })
    session.round1Received = 1
    return session
  }

  /** An attempt that peers report aborted, adopted as such (we hold nothing of it). */
  static aborted(ctx: SessionContext, attempt: number, info: AbortInfo): DkgSession {
    const session = new DkgSession(ctx, attempt, false)
    session.abort(info)
    return session
  }

  /** Back in an attempt whose result we had stored before a restart: signs it again. */
  static resume(ctx: SessionContext, attempt: number, key: ReserveKey): DkgSession {
    const session = new DkgSession(ctx, attempt, true)
    session.key = key
    session.round1Received = session.n
    session.sharesReceived = session.n - 1
    session.sign()
    return session
  }

  get ownEnvelope(): Uint8Array | undefined {
    return this.packages.get(this.ctx.self.index)?.envelope
  }

  get ownSignature(): Uint8Array | undefined {
    return this.signatures.get(this.ctx.self.index)
  }

  get finished(): boolean {
    return this.phase === 'complete' || this.phase === 'aborted' || this.phase === 'abandoned'
  }

  hasPackage(guardian: number): boolean {
    return this.packages.has(guardian)
  }

  hasShare(guardian: number): boolean {
    return this.incoming.has(guardian) || (this.phase !== 'round1' && this.phase !== 'shares')
  }

  /** Every round-1 envelope held, in guardian order. */
  envelopes(): Uint8Array[] {
    return [...this.packages.entries()].sort(([a], [b]) => a - b).map(([, held]) => held.envelope)
  }

  /**
   * Takes a round-1 envelope that `from` answered with (or a relayed one, `from` undefined).
   * Returns true if it was new. Throws ProtocolError if it cannot be attributed (nobody is
   * blamed), DkgBlame if its signer broke the protocol (bad package, bad proof, equivocation).
   */
  acceptRound1(from: GuardianInfo | undefined, envelopeBytes: Uint8Array): boolean {
    const signed = openDkgRound1(this.ctx.networkId, this.ctx.guardians, envelopeBytes)
    if (from !== undefined && signed.signer.index !== from.index) {
      throw new ProtocolError('unknown_signer', `${from.name} answered with the round-1 package of ${signed.signer.name}`)
    }
    const pkg = checkDkgRound1(signed, { sessionId: this.sessionId, attempt: this.attempt, threshold: this.ctx.threshold })
    if (pkg === undefined) throw new ProtocolError('malformed', `round-1 package of ${signed.signer.name} is for another session`)
    const held = this.packages.get(signed.signer.index)
    if (held !== undefined) {
      if (equalBytes(held.payload, signed.payload)) return false
      throw new DkgBlame(signed.signer.index, 'equivocation', `${signed.signer.name} signed two different round-1 packages for attempt ${this.attempt}`)
    }
    if (this.phase !== 'round1') return false
    this.packages.set(signed.signer.index, { pkg, payload: signed.payload, envelope: signed.envelope })
    this.round1Received = this.packages.size
    return true
  }

  /** Compares a peer's transcript with ours: a guardian with two signed packages is blamed. */
  findEquivocation(envelopes: readonly Uint8Array[]): DkgBlame | undefined {
    for (const bytes of envelopes) {
      try {
        const signed = openDkgRound1(this.ctx.networkId, this.ctx.guardians, bytes)
        const held = this.packages.get(signed.signer.index)
        if (held === undefined || equalBytes(held.payload, signed.payload)) continue
        const pkg = checkDkgRound1(signed, { sessionId: this.sessionId, attempt: this.attempt, threshold: this.ctx.threshold })
        if (pkg !== undefined) return new DkgBlame(signed.signer.index, 'equivocation', `${signed.signer.name} signed two different round-1 packages for attempt ${this.attempt}`)
      } catch (err) {
        if (err instanceof DkgBlame) return err
        // unattributable bytes prove nothing
      }
    }
    return undefined
  }

  get readyForRound2(): boolean {
    return this.phase === 'round1' && this.packages.size === this.n
  }

  /** Round 2: our share for every other guardian. Every package was checked on arrival. */
  runRound2(): void {
    const secret = this.requireSecret()
    const shares = schnorr_FROST.DKG.round2(secret, this.othersRound1())
    this.outgoing = new Map()
    for (const g of this.ctx.guardians.guardians) {
      if (g.index === this.ctx.self.index) continue
      const share = shares[guardianIdentifier(g.index)]
      if (share === undefined) throw new Error(`round 2 produced no share for ${g.name}`)
      this.outgoing.set(g.index, Uint8Array.from(share.signingShare))
      share.signingShare.fill(0)
    }
    this.phase = 'shares'
  }

  /** Our round-2 share for guardian `to`, once round 2 ran and until it signed the result. */
  shareFor(to: number): Uint8Array | undefined {
    return this.outgoing?.get(to)
  }

  /** Takes the share `from` computed for us; DkgBlame if it fails the VSS check. True if new. */
  acceptShare(from: GuardianInfo, sessionId: Uint8Array, share: Uint8Array): boolean {
    if (!equalBytes(sessionId, this.sessionId)) throw new ProtocolError('malformed', `${from.name} answered with a share of another session`)
    if (this.phase !== 'shares' || this.incoming.has(from.index)) return false
    const held = this.packages.get(from.index)
    if (held === undefined) return false
    if (!verifySigningShare(this.ctx.self.index, held.pkg.commitments, share, this.n)) {
      throw new DkgBlame(from.index, 'bad_share', `the round-2 share of ${from.name} fails the VSS check against its commitments`)
    }
    this.incoming.set(from.index, Uint8Array.from(share))
    this.sharesReceived = this.incoming.size
    return true
  }

  get readyForRound3(): boolean {
    return this.phase === 'shares' && this.incoming.size === this.n - 1
  }

  /** Round 3: the reserve key and our signing share (the caller stores it, then wipes it). */
  runRound3(): { key: ReserveKey; signingShare: Uint8Array } {
    const secret = this.requireSecret()
    const others = this.othersRound1()
    const round2 = others.map((p) => ({ identifier: p.identifier, signingShare: this.incoming.get(this.indexOf(p.identifier))! }))
    const out = schnorr_FROST.DKG.round3(secret, others, round2)
    this.secret = undefined
    this.wipeIncoming()
    const commitments0 = this.ctx.guardians.guardians.map((g) => this.packages.get(g.index)!.pkg.commitments[0]!)
    this.key = reserveKeyFromDkg(this.sessionId, out, commitments0)
    this.phase = 'storing'
    return { key: this.key, signingShare: out.secret.signingShare }
  }

  /** After the share is stored: signs reserveKeyDigest with the vote key. */
  sign(): void {
    const key = this.requireKey()
    this.signatures.set(this.ctx.self.index, signDigest(reserveKeyDigest(this.ctx.networkId, key), this.ctx.votePrivateKey))
    this.phase = 'signatures'
  }

  /**
   * Takes `from`'s result. 'mismatch' if its key differs from ours (the caller finds out whose
   * fault it is); DkgBlame if the signature is not its vote key's.
   */
  acceptResult(from: GuardianInfo, key: ReserveKey, signature: Uint8Array): 'new' | 'known' | 'mismatch' {
    if (this.phase !== 'signatures' || this.signatures.has(from.index)) return 'known'
    const ours = this.requireKey()
    if (!equalBytes(encodeReserveKey(key), encodeReserveKey(ours))) return 'mismatch'
    if (!verifyDigest(reserveKeyDigest(this.ctx.networkId, ours), signature, from.votePublicKey)) {
      throw new DkgBlame(from.index, 'bad_result_signature', `the result signature of ${from.name} does not verify with its vote key`)
    }
    this.signatures.set(from.index, Uint8Array.from(signature))
    // It finished round 3: our share for it is no longer needed.
    this.outgoing?.get(from.index)?.fill(0)
    this.outgoing?.delete(from.index)
    if (this.signatures.size === this.n) {
      this.phase = 'complete'
      this.wipe()
    }
    return 'new'
  }

  /** The transaction that commits the key: every guardian's signature, in guardian order. */
  transaction(): ReserveKeyTx {
    const key = this.requireKey()
    const signatures = this.ctx.guardians.guardians.map((g) => {
      const signature = this.signatures.get(g.index)
      if (signature === undefined) throw new Error(`no result signature of ${g.name}`)
      return { guardian: g.index, signature }
    })
    return { type: TxType.ReserveKey, key, signatures }
  }

  abort(info: AbortInfo): void {
    this.abortInfo = info
    this.phase = 'aborted'
    this.wipe()
  }

  abandon(): void {
    if (!this.finished) this.phase = 'abandoned'
    this.wipe()
  }

  /** Best-effort erasure of every secret this session holds. */
  wipe(): void {
    if (this.secret !== undefined) {
      try {
        schnorr_FROST.DKG.clean(this.secret)
      } catch {
        // already consumed
      }
      this.secret = undefined
    }
    for (const share of this.outgoing?.values() ?? []) share.fill(0)
    this.outgoing = undefined
    this.wipeIncoming()
  }

  private wipeIncoming(): void {
    for (const share of this.incoming.values()) share.fill(0)
    this.incoming.clear()
  }

  private othersRound1(): ReturnType<typeof toFrostRound1>[] {
    return [...this.packages.entries()]
      .filter(([index]) => index !== this.ctx.self.index)
      .sort(([a], [b]) => a - b)
      .map(([, held]) => toFrostRound1(held.pkg))
  }

  private indexOf(identifier: string): number {
    const g = this.ctx.guardians.guardians.find((x) => guardianIdentifier(x.index) === identifier)
    if (g === undefined) throw new Error(`unknown identifier ${identifier}`)
    return g.index
  }

  private requireSecret(): FrostSecret {
    if (this.secret === undefined) throw new Error(`DKG attempt ${this.attempt}: the round secret is gone`)
    return this.secret
  }

  private requireKey(): ReserveKey {
    if (this.key === undefined) throw new Error(`DKG attempt ${this.attempt}: no result yet`)
    return this.key
  }
}

/** Whether `envelopes` hold a round-1 package signed by `guardian` for `sessionId`. */
export function holdsPackageOf(ctx: SessionContext, envelopes: readonly Uint8Array[], guardian: number, sessionId: Uint8Array): boolean {
  for (const bytes of envelopes) {
    try {
      const signed = openDkgRound1(ctx.networkId, ctx.guardians, bytes)
      if (signed.signer.index === guardian && equalBytes(decodeDkgRound1(signed.payload).sessionId, sessionId)) return true
    } catch {
      // not attributable, or not a package: proves nothing
    }
  }
  return false
}
