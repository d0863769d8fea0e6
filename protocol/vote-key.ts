import * as secp from 'tiny-secp256k1'
import { randomBytes } from 'node:crypto'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { keccak256 } from './hash.js'

/**
 * Guardian vote keys: secp256k1, ECDSA over 32-byte keccak256 digests, 65-byte signatures
 * r ‖ s ‖ v with v ∈ {0, 1} (add 27 for Ethereum's ecrecover). Signing and verification use
 * tiny-secp256k1 (libsecp256k1 compiled to wasm), the fast path on nodes; signatures are
 * low-s and verification rejects high-s.
 */

export const VOTE_SIGNATURE_BYTES = 65
export const VOTE_PUBLIC_KEY_BYTES = 33

export function generateVotePrivateKey(): Uint8Array {
  for (;;) {
    const candidate = randomBytes(32)
    if (secp.isPrivate(candidate)) return new Uint8Array(candidate)
  }
}

export function isVotePrivateKey(key: Uint8Array): boolean {
  return key.length === 32 && secp.isPrivate(key)
}

export function isVotePublicKey(key: Uint8Array): boolean {
  return key.length === VOTE_PUBLIC_KEY_BYTES && secp.isPoint(key)
}

/** Compressed (33-byte) public key. */
export function votePublicKey(privateKey: Uint8Array): Uint8Array {
  const point = secp.pointFromScalar(privateKey, true)
  if (point === null) throw new RangeError('invalid vote private key')
  return point
}

/** The Ethereum address of a vote key (0x-prefixed, lower case), as `ecrecover` returns it. */
export function voteAddress(publicKey: Uint8Array): string {
  const uncompressed = secp.pointCompress(publicKey, false)
  return `0x${bytesToHex(keccak256(uncompressed.subarray(1)).subarray(12))}`
}

export function signDigest(digest: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const { signature, recoveryId } = secp.signRecoverable(digest, privateKey)
  const out = new Uint8Array(VOTE_SIGNATURE_BYTES)
  out.set(signature, 0)
  out[64] = recoveryId
  return out
}

/** secp256k1 group order / 2: signatures with s above it are the malleable high-s twin. */
const HALF_ORDER = hexToBytes('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0')

/**
 * Accepts exactly one byte form per signed digest: low s, and v the true recovery id (with the
 * other one, Ethereum's ecrecover yields another address). One public-key recovery checks the
 * signature and v together, which costs one EC operation instead of verify + recover.
 */
export function verifyDigest(digest: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  const v = signature[64]
  if (signature.length !== VOTE_SIGNATURE_BYTES || (v !== 0 && v !== 1)) return false
  if (compareBytes(signature.subarray(32, 64), HALF_ORDER) > 0) return false
  try {
    const recovered = secp.recover(digest, signature.subarray(0, 64), v, true)
    return recovered !== null && equalBytes(recovered, publicKey.length === VOTE_PUBLIC_KEY_BYTES ? publicKey : secp.pointCompress(publicKey, true))
  } catch {
    return false
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}
