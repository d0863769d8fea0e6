import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE, equalBytes, numberToBytesBE } from '@noble/curves/utils.js'
import { concatBytes, randomBytes } from '@noble/hashes/utils.js'
import { DlcError } from './errors.js'

/**
 * BIP-340-compatible Schnorr adaptor signatures. A pre-signature under an adaptor point T = t·G
 * is not a valid signature, but anyone can check it will become one once t is known, and the
 * completed signature reveals t to whoever holds the pre-signature. DLC CETs are pre-signed
 * under an oracle attestation point, so only the oracles' attestation (revealing t) completes them.
 *
 * Scheme (signer key d, P = d·G, made even-y as BIP-340 does; message m):
 *   k  = int(hash_UBTC/dlc/adaptor/nonce(d ⊕ hash_BIP0340/aux(a) ‖ P_x ‖ m ‖ T)) mod n — the BIP-340
 *        nonce derivation, with T committed too and its own tag so that no plain BIP-340 signature
 *        of the same key ever shares the nonce;
 *   R  = k·G + T, kept with its y parity (33 bytes);  e = int(hash_BIP0340/challenge(R_x ‖ P_x ‖ m)) mod n.
 *   The completed signature's nonce point must have even y (BIP-340): it is R itself if R has even
 *   y, with s = k + t + e·d; otherwise it is −R = −k·G − T, with s = −k − t + e·d. Hence
 *   ŝ = k + e·d and s = ŝ + t (R even), or ŝ = −k + e·d and s = ŝ − t (R odd).
 *   Verification: ŝ·G − e·P = R − T (R even) or T − R (R odd).
 */

const { Point } = secp256k1
const Fn = Point.Fn
type CurvePoint = InstanceType<typeof Point>

export const ADAPTOR_SIGNATURE_BYTES = 65
const NONCE_TAG = 'UBTC/dlc/adaptor/nonce'

export interface AdaptorSignature {
  /** 33-byte compressed R = k·G + T; its parity says how t completes ŝ. */
  readonly nonce: Uint8Array
  /** 32-byte ŝ. */
  readonly s: Uint8Array
}

function malformed(message: string): DlcError {
  return new DlcError('malformed', message)
}

function compressedPoint(bytes: Uint8Array, what: string): CurvePoint {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) {
    throw malformed(`${what} must be a 33-byte compressed point`)
  }
  try {
    return Point.fromBytes(bytes)
  } catch {
    throw malformed(`${what} is not a point on secp256k1`)
  }
}

/** A scalar in [0, n−1] (ŝ and s may be 0), or a DlcError. */
function scalar(bytes: Uint8Array, what: string): bigint {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw malformed(`${what} must be 32 bytes`)
  const value = bytesToNumberBE(bytes)
  if (value >= Fn.ORDER) throw malformed(`${what} is not below the group order`)
  return value
}

function nonZeroScalar(bytes: Uint8Array, what: string): bigint {
  const value = scalar(bytes, what)
  if (value === 0n) throw malformed(`${what} is zero`)
  return value
}

function bytes32(value: Uint8Array, what: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== 32) throw malformed(`${what} must be 32 bytes`)
  return value
}

function challenge(rx: Uint8Array, px: Uint8Array, message: Uint8Array): bigint {
  return Fn.create(bytesToNumberBE(schnorr.utils.taggedHash('BIP0340/challenge', rx, px, message)))
}

/** R has odd y: the completed signature uses −R and subtracts t. */
function isOdd(nonce: Uint8Array): boolean {
  return nonce[0] === 3
}

/** k·G, or ∞ for k = 0 (noble's multiplyUnsafe refuses 0). */
function mulBase(k: bigint): CurvePoint {
  return k === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(k)
}

function mul(point: CurvePoint, k: bigint): CurvePoint {
  return k === 0n ? Point.ZERO : point.multiplyUnsafe(k)
}

export function encodeAdaptorSignature(sig: AdaptorSignature): Uint8Array {
  compressedPoint(sig.nonce, 'adaptor signature nonce')
  scalar(sig.s, 'adaptor signature s')
  return concatBytes(sig.nonce, sig.s)
}

export function decodeAdaptorSignature(bytes: Uint8Array): AdaptorSignature {
  if (!(bytes instanceof Uint8Array) || bytes.length !== ADAPTOR_SIGNATURE_BYTES) {
    throw malformed(`an adaptor signature is ${ADAPTOR_SIGNATURE_BYTES} bytes`)
  }
  const nonce = bytes.slice(0, 33)
  const s = bytes.slice(33)
  compressedPoint(nonce, 'adaptor signature nonce')
  scalar(s, 'adaptor signature s')
  return { nonce, s }
}

/** Pre-signs the 32-byte `message` under `adaptorPoint` (33-byte compressed T). */
export function adaptorSign(secretKey: Uint8Array, message: Uint8Array, adaptorPoint: Uint8Array, auxRand: Uint8Array = randomBytes(32)): AdaptorSignature {
  const d0 = nonZeroScalar(secretKey, 'secret key')
  bytes32(message, 'message')
  bytes32(auxRand, 'aux randomness')
  const T = compressedPoint(adaptorPoint, 'adaptor point')
  const P = Point.BASE.multiply(d0)
  const d = P.toAffine().y % 2n === 0n ? d0 : Fn.neg(d0)
  const px = P.toBytes(true).subarray(1)
  const masked = numberToBytesBE(d, 32)
  const auxHash = schnorr.utils.taggedHash('BIP0340/aux', auxRand)
  for (let i = 0; i < 32; i++) masked[i]! ^= auxHash[i]!
  const k = Fn.create(bytesToNumberBE(schnorr.utils.taggedHash(NONCE_TAG, masked, px, message, adaptorPoint)))
  masked.fill(0)
  if (k === 0n) throw new DlcError('bad_signature', 'derived nonce is zero')
  const R = Point.BASE.multiply(k).add(T)
  if (R.equals(Point.ZERO)) throw new DlcError('bad_signature', 'nonce point is the point at infinity')
  const nonce = R.toBytes(true)
  const e = challenge(nonce.subarray(1), px, message)
  const ed = Fn.mul(e, d)
  const sHat = isOdd(nonce) ? Fn.sub(ed, k) : Fn.add(k, ed)
  return { nonce, s: numberToBytesBE(sHat, 32) }
}

/** Whether `sig` pre-signs `message` under x-only `publicKey` and `adaptorPoint`. Never throws. */
export function adaptorVerify(publicKey: Uint8Array, message: Uint8Array, adaptorPoint: Uint8Array, sig: AdaptorSignature): boolean {
  try {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false
    if (!(message instanceof Uint8Array) || message.length !== 32) return false
    const P = schnorr.utils.lift_x(bytesToNumberBE(publicKey))
    const T = compressedPoint(adaptorPoint, 'adaptor point')
    const R = compressedPoint(sig.nonce, 'adaptor signature nonce')
    const sHat = scalar(sig.s, 'adaptor signature s')
    const e = challenge(sig.nonce.subarray(1), publicKey, message)
    const lhs = mulBase(sHat).subtract(mul(P, e))
    return lhs.equals(isOdd(sig.nonce) ? T.subtract(R) : R.subtract(T))
  } catch {
    return false
  }
}

/** The 64-byte BIP-340 signature completed with the adaptor secret t (T = t·G). */
export function adaptSignature(sig: AdaptorSignature, adaptorSecret: Uint8Array): Uint8Array {
  compressedPoint(sig.nonce, 'adaptor signature nonce')
  const sHat = scalar(sig.s, 'adaptor signature s')
  const t = nonZeroScalar(adaptorSecret, 'adaptor secret')
  const s = isOdd(sig.nonce) ? Fn.sub(sHat, t) : Fn.add(sHat, t)
  return concatBytes(sig.nonce.subarray(1), numberToBytesBE(s, 32))
}

/**
 * t from a completed signature and its pre-signature: t = s − ŝ (R even) or ŝ − s (R odd),
 * checked against T. Throws DlcError('bad_signature') when the signature does not complete `sig`
 * under `adaptorPoint`.
 */
export function extractAdaptorSecret(signature: Uint8Array, sig: AdaptorSignature, adaptorPoint: Uint8Array): Uint8Array {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw malformed('a BIP-340 signature is 64 bytes')
  compressedPoint(sig.nonce, 'adaptor signature nonce')
  const T = compressedPoint(adaptorPoint, 'adaptor point')
  const sHat = scalar(sig.s, 'adaptor signature s')
  if (!equalBytes(signature.subarray(0, 32), sig.nonce.subarray(1))) {
    throw new DlcError('bad_signature', 'the signature does not use the pre-signature nonce')
  }
  const s = scalar(signature.subarray(32), 'signature s')
  const t = isOdd(sig.nonce) ? Fn.sub(sHat, s) : Fn.sub(s, sHat)
  if (t === 0n || !Point.BASE.multiply(t).equals(T)) {
    throw new DlcError('bad_signature', 'the signature does not complete this pre-signature under this adaptor point')
  }
  return numberToBytesBE(t, 32)
}
