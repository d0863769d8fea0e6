import { DlcError } from '../errors.js'
import { attestationMessage, challenge, liftX, Point } from './bip340.js'
import type { OracleAttestation } from './messages.js'

/**
 * The points the CETs' adaptor signatures are locked under. An oracle that attests `outcome` with
 * nonce R publishes s with s·G = R + e·P (e the BIP-340 challenge of R_x, P, m), so S = R + e·P is
 * known to everyone in advance and its discrete log s is revealed only by that attestation
 * (dlcspecs Introduction.md / AttestationPoint.md). For a 2-of-3 oracle set the CET for an outcome
 * is locked under S_a + S_b for each pair (MultiOracle.md), opened by s_a + s_b.
 */

/** 33-byte compressed S = R + H(R‖P‖m)·P for the attestation of `outcome`. */
export function attestationPoint(oraclePublicKey: Uint8Array, nonce: Uint8Array, outcome: string): Uint8Array {
  const P = liftX(oraclePublicKey)
  if (P === undefined) throw new DlcError('malformed', 'oracle public key is not a valid x-only point')
  const R = liftX(nonce)
  if (R === undefined) throw new DlcError('malformed', 'nonce is not a valid x-only point')
  const e = challenge(nonce, oraclePublicKey, attestationMessage(outcome))
  const S = R.add(P.multiplyUnsafe(e))
  // S = ∞ would need R = −e·P with e depending on R: a hash preimage, but refuse rather than encode it.
  if (S.equals(Point.ZERO)) throw new DlcError('invalid_announcement', 'attestation point is the point at infinity')
  return S.toBytes(true)
}

function compressedPoint(bytes: Uint8Array, what: string): InstanceType<typeof Point> {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) {
    throw new DlcError('malformed', `${what} must be a 33-byte compressed point`)
  }
  try {
    return Point.fromBytes(bytes)
  } catch {
    throw new DlcError('malformed', `${what} is not a point on secp256k1`)
  }
}

/** 33-byte compressed S_a + S_b: the adaptor point of one outcome for one pair of oracles. */
export function oraclePairPoint(a: Uint8Array, b: Uint8Array): Uint8Array {
  const sum = compressedPoint(a, 'first attestation point').add(compressedPoint(b, 'second attestation point'))
  if (sum.equals(Point.ZERO)) throw new DlcError('invalid_announcement', 'the two attestation points cancel out')
  return sum.toBytes(true)
}

/** The 32-byte s of an enum attestation: the discrete log of its attestation point. */
export function attestationSecret(attestation: OracleAttestation): Uint8Array {
  if (attestation.signatures.length !== 1) {
    throw new DlcError('invalid_attestation', `an enum attestation carries exactly 1 signature, found ${attestation.signatures.length}`)
  }
  const signature = attestation.signatures[0]!
  if (signature.length !== 64) throw new DlcError('malformed', 'attestation signature must be 64 bytes')
  return signature.slice(32, 64)
}
