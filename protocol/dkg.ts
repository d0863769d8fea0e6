import { schnorr, schnorr_FROST, secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE, concatBytes, equalBytes } from '@noble/curves/utils.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { decodeCanonical, encodeCanonical, readBytes, readString, readTuple, readUint, type CborValue } from './codec.js'
import {
  dkgSessionId,
  guardianIdentifier,
  POINT_BYTES,
  readReserveKey,
  reserveKeyValue,
  SESSION_ID_BYTES,
  type ReserveKey,
} from './custody.js'
import { decodeEnvelope, encodeEnvelope, MAX_PAYLOAD_BYTES, MessageKind, signEnvelope, verifyEnvelope, type SignedEnvelope } from './envelope.js'
import { CodedError, ProtocolError } from './errors.js'
import { MAX_GUARDIANS, type GuardianInfo, type GuardianSet } from './genesis.js'
import { VOTE_SIGNATURE_BYTES } from './vote-key.js'

/**
 * FROST distributed key generation among the guardians (noble's `schnorr_FROST.DKG`, the
 * frost-secp256k1-tr DKG): the wire format of the `dkg/1` request-response protocol, and the
 * per-message checks that let a guardian name the participant at fault (noble's round2/round3
 * throw without saying who).
 *
 * Every message is pulled: a guardian asks a peer for the peer's round-1 package, for the
 * round-2 share the peer computed for the asker (the responder learns who asks from the
 * authenticated connection), for the peer's signed result, or for every round-1 package the
 * peer holds (its transcript). All are canonical CBOR tuples `[version, tag, …]`.
 *
 * Round-1 packages travel inside signed envelopes of kind {@link MessageKind.DkgRound1}, so a
 * package is attributable to its author wherever it is found: two different packages signed by
 * one guardian for one session are proof of equivocation, and a signed package with a bad proof
 * of knowledge or bad points is proof of misbehaviour.
 */

export const DKG_PROTOCOL_NAME = 'dkg/1'
/** Attempts are numbered like {@link dkgSessionId} numbers them: a u32. */
export const MAX_DKG_ATTEMPT = 2 ** 32 - 1
export const PROOF_OF_KNOWLEDGE_BYTES = 64
export const SIGNING_SHARE_BYTES = 32
export const MAX_DKG_REQUEST_BYTES = 64
/** A transcript holds up to MAX_GUARDIANS round-1 envelopes. */
export const MAX_DKG_RESPONSE_BYTES = MAX_GUARDIANS * (MAX_PAYLOAD_BYTES[MessageKind.DkgRound1] + 256) + 1024
export const MAX_DKG_DETAIL_BYTES = 256

const VERSION = 1

// --- errors ----------------------------------------------------------------------------------------

/** Why a DKG session was aborted; the culprit is the guardian whose message proved it. */
export const DKG_ABORT_REASONS = [
  /** A signed round-1 package that is malformed (wrong identifier, count or points). */
  'bad_package',
  /** A round-1 package whose proof of knowledge does not verify. */
  'bad_proof',
  /** A round-2 share that fails the VSS check against its sender's commitments. */
  'bad_share',
  /** Two different signed round-1 packages for one session. */
  'equivocation',
  /** A result (reserve key) that differs from ours although the transcripts agree. */
  'result_mismatch',
  /** A result whose vote-key signature does not verify. */
  'bad_result_signature',
  /** The guardian could not finish for a local reason (e.g. its share file could not be written). */
  'internal',
] as const
export type DkgAbortReason = (typeof DKG_ABORT_REASONS)[number]

/** Proof that guardian `culprit` broke the protocol: the session must abort. */
export class DkgBlame extends CodedError<DkgAbortReason> {
  constructor(
    readonly culprit: number,
    reason: DkgAbortReason,
    message: string,
  ) {
    super(reason, message)
  }

  get reason(): DkgAbortReason {
    return this.code
  }
}

// --- round-1 package -------------------------------------------------------------------------------

/** A guardian's public round-1 package for one session. */
export interface DkgRound1Package {
  readonly sessionId: Uint8Array
  readonly attempt: number
  /** FROST identifier as a number: the guardian index + 1. */
  readonly identifier: number
  /** VSS commitments, t compressed points; commitments[0] commits to the guardian's secret. */
  readonly commitments: readonly Uint8Array[]
  /** 64-byte Schnorr proof of knowledge of the secret behind commitments[0] (x-only R ‖ z). */
  readonly proofOfKnowledge: Uint8Array
}

export function encodeDkgRound1(pkg: DkgRound1Package): Uint8Array {
  return encodeCanonical([VERSION, pkg.sessionId, pkg.attempt, pkg.identifier, [...pkg.commitments], pkg.proofOfKnowledge])
}

/** Decodes a round-1 payload: sizes and counts only (points are checked by {@link checkDkgRound1}). */
export function decodeDkgRound1(bytes: Uint8Array): DkgRound1Package {
  const value = decodeCanonical(bytes, MAX_PAYLOAD_BYTES[MessageKind.DkgRound1], 'dkg round1')
  const [sessionId, attempt, identifier, commitments, pok] = readTuple(value, VERSION, 5, 'dkg round1')
  if (!Array.isArray(commitments) || commitments.length < 1 || commitments.length > MAX_GUARDIANS) {
    throw new ProtocolError('malformed', `dkg round1.commitments: expected 1..${MAX_GUARDIANS} points`)
  }
  const id = readUint(identifier, MAX_GUARDIANS, 'dkg round1.identifier')
  if (id < 1) throw new ProtocolError('malformed', 'dkg round1.identifier: identifiers start at 1')
  return {
    sessionId: readBytes(sessionId, 'dkg round1.sessionId', { exact: SESSION_ID_BYTES }),
    attempt: readUint(attempt, MAX_DKG_ATTEMPT, 'dkg round1.attempt'),
    identifier: id,
    commitments: commitments.map((c: unknown, i) => readBytes(c, `dkg round1.commitments[${i}]`, { exact: POINT_BYTES })),
    proofOfKnowledge: readBytes(pok, 'dkg round1.proofOfKnowledge', { exact: PROOF_OF_KNOWLEDGE_BYTES }),
  }
}

/** noble's form of a round-1 package. */
export type FrostRound1 = Parameters<typeof schnorr_FROST.DKG.round2>[1][number]

export function toFrostRound1(pkg: DkgRound1Package): FrostRound1 {
  return { identifier: guardianIdentifier(pkg.identifier - 1), commitment: [...pkg.commitments], proofOfKnowledge: pkg.proofOfKnowledge }
}

/** Our package from noble's round-1 output for guardian `guardianIndex`. */
export function fromFrostRound1(networkId: Uint8Array, attempt: number, guardianIndex: number, pub: FrostRound1): DkgRound1Package {
  if (pub.identifier !== guardianIdentifier(guardianIndex)) throw new RangeError('round-1 package of another identifier')
  return {
    sessionId: dkgSessionId(networkId, attempt),
    attempt,
    identifier: guardianIndex + 1,
    commitments: pub.commitment.map((c) => Uint8Array.from(c)),
    proofOfKnowledge: Uint8Array.from(pub.proofOfKnowledge),
  }
}

export function signDkgRound1(networkId: Uint8Array, guardians: GuardianSet, signer: number, pkg: DkgRound1Package, votePrivateKey: Uint8Array): SignedEnvelope {
  return signEnvelope(networkId, MessageKind.DkgRound1, guardians.index, signer, encodeDkgRound1(pkg), votePrivateKey)
}

/** A round-1 package whose envelope signature verified: `signer` vouches for its bytes. */
export interface SignedDkgRound1 {
  readonly signer: GuardianInfo
  /** The encoded envelope, as received (what peers compare to detect equivocation). */
  readonly envelope: Uint8Array
  readonly payload: Uint8Array
}

/**
 * Authenticates an encoded round-1 envelope: kind, guardian set and signature. Throws a
 * ProtocolError if it cannot be attributed to a guardian (nobody can be blamed for it).
 */
export function openDkgRound1(networkId: Uint8Array, guardians: GuardianSet, envelopeBytes: Uint8Array): SignedDkgRound1 {
  const envelope = decodeEnvelope(envelopeBytes)
  if (envelope.kind !== MessageKind.DkgRound1) throw new ProtocolError('wrong_kind', `dkg: expected a round-1 envelope, got kind ${envelope.kind}`)
  const signer = verifyEnvelope(networkId, guardians, envelope)
  return { signer, envelope: encodeEnvelope(envelope), payload: envelope.payload }
}

/**
 * Checks a package that `signer` signed, for the expected session, attempt and threshold:
 * the identifier is the signer's own, the points are valid non-identity curve points, and the
 * proof of knowledge verifies. Anything wrong is the signer's fault: throws {@link DkgBlame}.
 * A package of another session is not a fault (it may be an old one): returns undefined.
 */
export function checkDkgRound1(signed: SignedDkgRound1, expected: { readonly sessionId: Uint8Array; readonly attempt: number; readonly threshold: number }): DkgRound1Package | undefined {
  const { sessionId, attempt, threshold } = expected
  const who = signed.signer
  let pkg: DkgRound1Package
  try {
    pkg = decodeDkgRound1(signed.payload)
  } catch (err) {
    throw new DkgBlame(who.index, 'bad_package', `round-1 package signed by ${who.name} is malformed: ${(err as Error).message}`)
  }
  if (!equalBytes(pkg.sessionId, sessionId)) return undefined
  if (pkg.attempt !== attempt) {
    throw new DkgBlame(who.index, 'bad_package', `round-1 package signed by ${who.name} names attempt ${pkg.attempt} in the session of attempt ${attempt}`)
  }
  if (pkg.identifier !== who.index + 1) {
    throw new DkgBlame(who.index, 'bad_package', `round-1 package signed by ${who.name} claims identifier ${pkg.identifier} (expected ${who.index + 1})`)
  }
  if (pkg.commitments.length !== threshold) {
    throw new DkgBlame(who.index, 'bad_package', `round-1 package of ${who.name} has ${pkg.commitments.length} commitments (threshold ${threshold})`)
  }
  pkg.commitments.forEach((c, i) => {
    const problem = pointProblem(c)
    if (problem !== undefined) throw new DkgBlame(who.index, 'bad_package', `round-1 package of ${who.name}: commitments[${i}] ${problem}`)
  })
  if (!verifyProofOfKnowledge(pkg.identifier, pkg.commitments[0]!, pkg.proofOfKnowledge)) {
    throw new DkgBlame(who.index, 'bad_proof', `round-1 package of ${who.name}: proof of knowledge does not verify`)
  }
  return pkg
}

/** Why `bytes` is not a valid non-identity compressed secp256k1 point, or undefined. */
export function pointProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length !== POINT_BYTES || (bytes[0] !== 2 && bytes[0] !== 3)) return 'is not a compressed point'
  try {
    const p = secp256k1.Point.fromBytes(bytes)
    p.assertValidity()
    if (p.is0()) return 'is the identity point'
  } catch {
    return 'is not on the curve'
  }
  return undefined
}

const HDKG_DST = utf8ToBytes('FROST-secp256k1-SHA256-TR-v1dkg')

/**
 * Verifies the round-1 proof of knowledge of participant `identifier` (a number ≥ 1) for the
 * constant-term commitment `commitment0`, exactly as noble's DKG round 2 does: the 64-byte
 * proof is x(R) ‖ z with R of even y, c = H_dkg(id ‖ commitment0 ‖ R), and R = z·G − c·commitment0.
 */
export function verifyProofOfKnowledge(identifier: number, commitment0: Uint8Array, proof: Uint8Array): boolean {
  if (proof.length !== PROOF_OF_KNOWLEDGE_BYTES || !Number.isSafeInteger(identifier) || identifier < 1) return false
  try {
    const { Point } = secp256k1
    const Fn = Point.Fn
    const phi = Point.fromBytes(commitment0)
    phi.assertValidity()
    if (phi.is0()) return false
    const R = Point.fromBytes(concatBytes(Uint8Array.of(2), proof.subarray(0, 32)))
    const z = bytesToNumberBE(proof.subarray(32))
    if (z >= Fn.ORDER) return false
    const c = secp256k1_hasher.hashToScalar(concatBytes(Fn.toBytes(BigInt(identifier)), phi.toBytes(true), R.toBytes(true)), { DST: HDKG_DST })
    const zG = z === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(z)
    const cPhi = c === 0n ? Point.ZERO : phi.multiplyUnsafe(c)
    return R.equals(zG.subtract(cPhi))
  } catch {
    return false
  }
}

/**
 * The VSS check of a round-2 share: `share`·G equals the sender's commitment polynomial
 * evaluated at the receiver's identifier. False for a malformed share too.
 */
export function verifySigningShare(receiverIndex: number, senderCommitments: readonly Uint8Array[], share: Uint8Array, n: number): boolean {
  if (share.length !== SIGNING_SHARE_BYTES) return false
  try {
    schnorr_FROST.validateSecret(
      { identifier: guardianIdentifier(receiverIndex), signingShare: share },
      { signers: { min: senderCommitments.length, max: Math.max(n, senderCommitments.length) }, commitments: [...senderCommitments], verifyingShares: {} },
    )
    return true
  } catch {
    return false
  }
}

// --- keys ------------------------------------------------------------------------------------------

/** P: the sum of the participants' constant-term commitments (compressed). */
export function dkgInternalKey(commitments0: readonly Uint8Array[]): Uint8Array {
  let sum = secp256k1.Point.ZERO
  for (const c of commitments0) sum = sum.add(secp256k1.Point.fromBytes(c))
  return sum.toBytes(true)
}

/** Q = lift_x(x(P)) + int(hash_TapTweak(x(P)))·G: the BIP-341 output key of P with no script tree. */
export function taprootOutputKey(internalKey: Uint8Array): Uint8Array {
  const x = internalKey.length === 33 ? internalKey.subarray(1) : internalKey
  const P = schnorr.utils.lift_x(bytesToNumberBE(x))
  const t = bytesToNumberBE(schnorr.utils.taggedHash('TapTweak', x))
  if (t >= secp256k1.Point.Fn.ORDER) throw new RangeError('TapTweak hash out of range')
  return P.add(secp256k1.Point.BASE.multiply(t)).toBytes(true)
}

/** noble's DKG output key package. */
export type FrostKey = ReturnType<typeof schnorr_FROST.DKG.round3>

/**
 * The ReserveKey of a finished DKG: `key` is noble's round-3 output (already TapTweaked),
 * `commitments0` the round-1 constant terms of all n participants. Throws if the output key is
 * not the taproot tweak of the internal key (it always is, unless noble changes its DKG).
 */
export function reserveKeyFromDkg(sessionId: Uint8Array, key: FrostKey, commitments0: readonly Uint8Array[]): ReserveKey {
  const n = commitments0.length
  const internalKey = dkgInternalKey(commitments0)
  const groupKey = Uint8Array.from(key.public.commitments[0]!)
  if (!equalBytes(taprootOutputKey(internalKey), groupKey)) throw new RangeError('DKG output key is not the TapTweak of the internal key')
  const verifyingShares: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const share = key.public.verifyingShares[guardianIdentifier(i)]
    if (share === undefined) throw new RangeError(`DKG output lacks the verifying share of identifier ${i + 1}`)
    verifyingShares.push(Uint8Array.from(share))
  }
  return {
    sessionId: Uint8Array.from(sessionId),
    threshold: key.public.signers.min,
    internalKey,
    groupKey,
    commitments: key.public.commitments.map((c) => Uint8Array.from(c)),
    verifyingShares,
  }
}

// --- requests --------------------------------------------------------------------------------------

export const DKG_REQUEST_TYPES = ['round1', 'share', 'result', 'transcript'] as const
export type DkgRequestType = (typeof DKG_REQUEST_TYPES)[number]

/** What a guardian asks a peer for, in the asker's attempt. */
export interface DkgRequest {
  readonly type: DkgRequestType
  readonly attempt: number
}

export function encodeDkgRequest(r: DkgRequest): Uint8Array {
  return encodeCanonical([VERSION, DKG_REQUEST_TYPES.indexOf(r.type) + 1, r.attempt])
}

export function decodeDkgRequest(bytes: Uint8Array): DkgRequest {
  const [type, attempt] = readTuple(decodeCanonical(bytes, MAX_DKG_REQUEST_BYTES, 'dkg request'), VERSION, 2, 'dkg request')
  const t = readUint(type, DKG_REQUEST_TYPES.length, 'dkg request.type')
  if (t < 1) throw new ProtocolError('malformed', 'dkg request.type: unknown type 0')
  return { type: DKG_REQUEST_TYPES[t - 1]!, attempt: readUint(attempt, MAX_DKG_ATTEMPT, 'dkg request.attempt') }
}

// --- responses -------------------------------------------------------------------------------------

export type DkgResponse =
  /** The responder's own round-1 package (an encoded DkgRound1 envelope). */
  | { readonly type: 'round1'; readonly envelope: Uint8Array }
  /** The responder's round-2 share for the asker: private, only sent over the encrypted stream. */
  | { readonly type: 'share'; readonly sessionId: Uint8Array; readonly signingShare: Uint8Array }
  /** The responder's reserve key and its vote-key signature over reserveKeyDigest. */
  | { readonly type: 'result'; readonly key: ReserveKey; readonly signature: Uint8Array }
  /** Every round-1 envelope the responder holds for `attempt` (its own included). */
  | { readonly type: 'transcript'; readonly attempt: number; readonly envelopes: readonly Uint8Array[] }
  /** The responder is in that attempt but has not got there yet (or is idle: attempt null). */
  | { readonly type: 'not_ready'; readonly attempt: number | null }
  /** The responder is in another attempt. */
  | { readonly type: 'other_attempt'; readonly attempt: number }
  /** The attempt was aborted: `culprit` broke the protocol, `detectedBy` noticed first. */
  | {
      readonly type: 'aborted'
      readonly attempt: number
      readonly culprit: number
      readonly reason: DkgAbortReason
      readonly detectedBy: number
      readonly detail: string
    }

const RESPONSE_TAGS = { round1: 1, share: 2, result: 3, transcript: 4, not_ready: 10, other_attempt: 11, aborted: 12 } as const
const RESPONSE_ARITY: Readonly<Record<DkgResponse['type'], number>> = { round1: 1, share: 2, result: 2, transcript: 2, not_ready: 1, other_attempt: 1, aborted: 5 }
const MAX_ENVELOPE = MAX_PAYLOAD_BYTES[MessageKind.DkgRound1] + 256

export function encodeDkgResponse(r: DkgResponse): Uint8Array {
  const tag = RESPONSE_TAGS[r.type]
  let fields: CborValue[]
  switch (r.type) {
    case 'round1':
      fields = [r.envelope]
      break
    case 'share':
      fields = [r.sessionId, r.signingShare]
      break
    case 'result':
      fields = [reserveKeyValue(r.key), r.signature]
      break
    case 'transcript':
      fields = [r.attempt, [...r.envelopes]]
      break
    case 'not_ready':
      fields = [r.attempt]
      break
    case 'other_attempt':
      fields = [r.attempt]
      break
    case 'aborted':
      fields = [r.attempt, r.culprit, DKG_ABORT_REASONS.indexOf(r.reason) + 1, r.detectedBy, r.detail]
      break
  }
  return encodeCanonical([VERSION, tag, ...fields])
}

export function decodeDkgResponse(bytes: Uint8Array): DkgResponse {
  const value = decodeCanonical(bytes, MAX_DKG_RESPONSE_BYTES, 'dkg response')
  if (!Array.isArray(value)) throw new ProtocolError('malformed', 'dkg response: expected an array')
  if (value[0] !== VERSION) throw new ProtocolError('unsupported_version', `dkg response: unsupported version ${String(value[0])}`)
  const tag = readUint(value[1], 255, 'dkg response.tag')
  const type = (Object.keys(RESPONSE_TAGS) as DkgResponse['type'][]).find((k) => RESPONSE_TAGS[k] === tag)
  if (type === undefined) throw new ProtocolError('malformed', `dkg response: unknown tag ${tag}`)
  if (value.length !== RESPONSE_ARITY[type] + 2) throw new ProtocolError('malformed', `dkg response ${type}: expected ${RESPONSE_ARITY[type]} fields, got ${value.length - 2}`)
  const f = value.slice(2) as unknown[]
  switch (type) {
    case 'round1':
      return { type, envelope: readBytes(f[0], 'dkg response.envelope', { max: MAX_ENVELOPE }) }
    case 'share':
      return {
        type,
        sessionId: readBytes(f[0], 'dkg response.sessionId', { exact: SESSION_ID_BYTES }),
        signingShare: readBytes(f[1], 'dkg response.signingShare', { exact: SIGNING_SHARE_BYTES }),
      }
    case 'result':
      return { type, key: readReserveKey(f[0], 'dkg response.key'), signature: readBytes(f[1], 'dkg response.signature', { exact: VOTE_SIGNATURE_BYTES }) }
    case 'transcript': {
      const envelopes = f[1]
      if (!Array.isArray(envelopes) || envelopes.length > MAX_GUARDIANS) throw new ProtocolError('malformed', `dkg response.envelopes: expected at most ${MAX_GUARDIANS}`)
      return {
        type,
        attempt: readUint(f[0], MAX_DKG_ATTEMPT, 'dkg response.attempt'),
        envelopes: envelopes.map((e: unknown, i) => readBytes(e, `dkg response.envelopes[${i}]`, { max: MAX_ENVELOPE })),
      }
    }
    case 'not_ready':
      return { type, attempt: f[0] === null ? null : readUint(f[0], MAX_DKG_ATTEMPT, 'dkg response.attempt') }
    case 'other_attempt':
      return { type, attempt: readUint(f[0], MAX_DKG_ATTEMPT, 'dkg response.attempt') }
    case 'aborted': {
      const reason = readUint(f[2], DKG_ABORT_REASONS.length, 'dkg response.reason')
      if (reason < 1) throw new ProtocolError('malformed', 'dkg response.reason: unknown reason 0')
      return {
        type,
        attempt: readUint(f[0], MAX_DKG_ATTEMPT, 'dkg response.attempt'),
        culprit: readUint(f[1], MAX_GUARDIANS - 1, 'dkg response.culprit'),
        reason: DKG_ABORT_REASONS[reason - 1]!,
        detectedBy: readUint(f[3], MAX_GUARDIANS - 1, 'dkg response.detectedBy'),
        detail: readString(f[4], 'dkg response.detail', MAX_DKG_DETAIL_BYTES),
      }
    }
  }
}

/** Cuts `text` to at most MAX_DKG_DETAIL_BYTES of UTF-8 (on a character boundary). */
export function dkgDetail(text: string): string {
  if (Buffer.byteLength(text, 'utf8') <= MAX_DKG_DETAIL_BYTES) return text
  let out = ''
  for (const ch of text) {
    if (Buffer.byteLength(out + ch, 'utf8') > MAX_DKG_DETAIL_BYTES) break
    out += ch
  }
  return out
}

