import { schnorr_FROST } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { encodeCanonical, readBytes, readTuple, readUint, type CborValue } from './codec.js'
import { ProtocolError } from './errors.js'
import { MAX_GUARDIANS } from './genesis.js'
import { keccak256, taggedKeccak256, u32be } from './hash.js'

/**
 * Threshold custody of the reserve: the public result of a FROST DKG among the guardians, and
 * the references of the signing jobs the state machine hands to FROST signing sessions.
 *
 * FROST identifiers are the guardian index + 1 (identifier 0 is not a valid FROST identifier).
 * The DKG of noble's `schnorr_FROST` tweaks its output with the BIP-341 TapTweak of an empty
 * script tree: `groupKey` is the taproot OUTPUT key Q = P + int(hashTapTweak(x(P)))·G (with P
 * lifted to even y), `internalKey` is P, the sum of the participants' constant-term
 * commitments. Commitments and verifying shares are the tweaked ones, so signature shares
 * verify against them and the aggregate is a BIP-340 signature by x(Q).
 */

export const POINT_BYTES = 33
export const X_ONLY_BYTES = 32
export const SCHNORR_SIGNATURE_BYTES = 64
export const SESSION_ID_BYTES = 32

export interface ReserveKey {
  /** The DKG session that produced the key. */
  readonly sessionId: Uint8Array
  /** Signers needed (t of n). */
  readonly threshold: number
  /** P: the untweaked group key (compressed point). */
  readonly internalKey: Uint8Array
  /** Q: the taproot output key (compressed point; only its x coordinate, the BIP-340 key, matters). */
  readonly groupKey: Uint8Array
  /** The group's VSS commitments (t points, tweaked); commitments[0] = groupKey. */
  readonly commitments: readonly Uint8Array[]
  /** Verifying share of each guardian, in guardian-index order (tweaked). */
  readonly verifyingShares: readonly Uint8Array[]
}

/** One guardian's signature over {@link reserveKeyDigest}. */
export interface DkgSignature {
  readonly guardian: number
  /** Vote-key signature r ‖ s ‖ v (65 bytes). */
  readonly signature: Uint8Array
}

/** The FROST identifier of guardian `index`. */
export function guardianIdentifier(index: number): string {
  return schnorr_FROST.Identifier.fromNumber(index + 1)
}

/** The guardian index behind a FROST identifier, or undefined if it is none of `n` guardians. */
export function guardianOfIdentifier(identifier: string, n: number): number | undefined {
  for (let i = 0; i < n; i++) if (guardianIdentifier(i) === identifier) return i
  return undefined
}

/** The x-only (BIP-340) form of the taproot output key. */
export function outputKeyXOnly(key: ReserveKey): Uint8Array {
  return key.groupKey.subarray(1)
}

/** noble's public FROST package, as its signing functions take it. */
export type FrostPublicPackage = Parameters<typeof schnorr_FROST.signShare>[1]

/** noble's public FROST package for `key`. */
export function frostPublicOf(key: ReserveKey): FrostPublicPackage {
  const verifyingShares: Record<string, Uint8Array> = {}
  key.verifyingShares.forEach((share, i) => {
    verifyingShares[guardianIdentifier(i)] = share
  })
  return { signers: { min: key.threshold, max: key.verifyingShares.length }, commitments: [...key.commitments], verifyingShares }
}

const RESERVE_KEY_VERSION = 1

export function encodeReserveKey(key: ReserveKey): Uint8Array {
  return encodeCanonical(reserveKeyValue(key))
}

export function reserveKeyValue(key: ReserveKey): CborValue[] {
  return [RESERVE_KEY_VERSION, key.sessionId, key.threshold, key.internalKey, key.groupKey, [...key.commitments], [...key.verifyingShares]]
}

/** Reads a decoded reserve key; checks sizes and counts, not the curve (see {@link checkReserveKeyPoints}). */
export function readReserveKey(value: unknown, what: string): ReserveKey {
  const [sessionId, threshold, internalKey, groupKey, commitments, verifyingShares] = readTuple(value, RESERVE_KEY_VERSION, 6, what)
  if (!Array.isArray(commitments) || !Array.isArray(verifyingShares)) throw new ProtocolError('malformed', `${what}: expected arrays of points`)
  const n = verifyingShares.length
  if (n < 1 || n > MAX_GUARDIANS) throw new ProtocolError('malformed', `${what}.verifyingShares: expected 1..${MAX_GUARDIANS} points`)
  const t = readUint(threshold, n, `${what}.threshold`)
  if (t < 1) throw new ProtocolError('malformed', `${what}.threshold: expected at least 1`)
  if (commitments.length !== t) throw new ProtocolError('malformed', `${what}.commitments: expected ${t} points (the threshold), got ${commitments.length}`)
  const key: ReserveKey = {
    sessionId: readBytes(sessionId, `${what}.sessionId`, { exact: SESSION_ID_BYTES }),
    threshold: t,
    internalKey: readBytes(internalKey, `${what}.internalKey`, { exact: POINT_BYTES }),
    groupKey: readBytes(groupKey, `${what}.groupKey`, { exact: POINT_BYTES }),
    commitments: commitments.map((c, i) => readBytes(c, `${what}.commitments[${i}]`, { exact: POINT_BYTES })),
    verifyingShares: verifyingShares.map((s, i) => readBytes(s, `${what}.verifyingShares[${i}]`, { exact: POINT_BYTES })),
  }
  if (bytesToHex(key.groupKey) !== bytesToHex(key.commitments[0]!)) throw new ProtocolError('malformed', `${what}: groupKey must equal commitments[0]`)
  return key
}

/** The digest every DKG participant signs to vouch for the result: bound to the network. */
export function reserveKeyDigest(networkId: Uint8Array, key: ReserveKey): Uint8Array {
  return taggedKeccak256('UBTC/reserve-key/v1', networkId, encodeReserveKey(key))
}

/** The DKG session id of attempt `attempt` on network `networkId`. */
export function dkgSessionId(networkId: Uint8Array, attempt: number): Uint8Array {
  return taggedKeccak256('UBTC/dkg-session/v1', networkId, u32be(attempt))
}

/** What a signing job signs: a validation's BIP-322 proof, or the reserve inputs of an approved PSBT. */
export const SIGNING_JOB_KINDS = ['validation', 'psbt'] as const
export type SigningJobKind = (typeof SIGNING_JOB_KINDS)[number]

export interface SigningJobRef {
  readonly kind: SigningJobKind
  /** Validation id, or PSBT id: 64 lower-case hex characters. */
  readonly id: string
}

export const JOB_ID = /^[0-9a-f]{64}$/

/** The guardian that coordinates signing attempt `attempt` of `job` among `n` guardians. */
export function signingCoordinator(job: SigningJobRef, attempt: number, n: number): number {
  const digest = keccak256(new TextEncoder().encode(`${job.kind}:${job.id}`), u32be(attempt))
  const view = new DataView(digest.buffer, digest.byteOffset, digest.byteLength)
  return view.getUint32(0) % n
}

/**
 * How much a coordinator prefers guardian `index` as a signer of `job` in `attempt` (lower
 * first; the coordinator itself always comes first). Pseudo-random per job, so signing work
 * spreads over the guardians, and deterministic, so anyone can tell who signs when all answer.
 */
export function signerRank(job: SigningJobRef, attempt: number, index: number): number {
  const digest = keccak256(new TextEncoder().encode(`signer:${job.kind}:${job.id}`), u32be(attempt), u32be(index))
  return new DataView(digest.buffer, digest.byteOffset, digest.byteLength).getUint32(0)
}
