import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE } from '@noble/curves/utils.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import * as ecc from 'tiny-secp256k1'
import { DlcError } from '../errors.js'
import { encodeOracleEvent, type OracleEvent } from './messages.js'

/**
 * The messages oracles sign and the BIP-340 pieces around them. dlcspecs Oracle.md, "Signing
 * Algorithm": Sign(sk, message, tag) = BIP340_sign(sk, tag_hash("DLC/oracle/" ‖ tag)(message)),
 * with BIP-340 tagged hashes; attestations use tag "attestation/v0" over the outcome's UTF-8 (NFC)
 * bytes themselves (not a hash of them: "Serialization and signing of outcome values"), and
 * announcements use "announcement/v0" over the serialized oracle_event — its TLV record, type and
 * length included, which is what rust-dlc, node-dlc and deployed oracles sign (the announcement
 * test vector from a production oracle verifies only that way).
 */

export const ATTESTATION_TAG = 'DLC/oracle/attestation/v0'
export const ANNOUNCEMENT_TAG = 'DLC/oracle/announcement/v0'

export type Point = InstanceType<typeof secp256k1.Point>
export const Point = secp256k1.Point
export const Fn = secp256k1.Point.Fn

/** The 32-byte message an oracle signs to attest `outcome`. */
export function attestationMessage(outcome: string): Uint8Array {
  return schnorr.utils.taggedHash(ATTESTATION_TAG, utf8ToBytes(outcome.normalize('NFC')))
}

/** The 32-byte message an announcement signature covers. */
export function announcementMessage(event: OracleEvent): Uint8Array {
  return schnorr.utils.taggedHash(ANNOUNCEMENT_TAG, encodeOracleEvent(event))
}

/**
 * BIP-340 verification that never throws. libsecp256k1 (tiny-secp256k1, wasm) does the work:
 * this runs on every gossiped oracle message. It refuses, by throwing, signatures whose R_x is
 * ≥ n (valid in BIP-340, never produced in practice) and invalid keys; noble decides those.
 */
export function verifyBip340(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || message.length !== 32 || publicKey.length !== 32) return false
  try {
    return ecc.verifySchnorr(message, publicKey, signature)
  } catch {
    try {
      return schnorr.verify(signature, message, publicKey)
    } catch {
      return false
    }
  }
}

/** BIP-340 lift_x: the even-y point with x-coordinate `x`, or undefined if there is none. */
export function liftX(x: Uint8Array): Point | undefined {
  if (!(x instanceof Uint8Array) || x.length !== 32) return undefined
  try {
    return schnorr.utils.lift_x(bytesToNumberBE(x))
  } catch {
    return undefined
  }
}

/** BIP-340 challenge e = int(hash_BIP0340/challenge(R_x ‖ P_x ‖ m)) mod n. */
export function challenge(rx: Uint8Array, px: Uint8Array, message: Uint8Array): bigint {
  return Fn.create(bytesToNumberBE(schnorr.utils.taggedHash('BIP0340/challenge', concatBytes(rx, px, message))))
}

/** A secret scalar in [1, n−1], or a DlcError naming `what`. */
export function secretScalar(bytes: Uint8Array, what: string): bigint {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new DlcError('malformed', `${what} must be 32 bytes`)
  const k = bytesToNumberBE(bytes)
  if (!Fn.isValidNot0(k)) throw new DlcError('malformed', `${what} is not a valid secret scalar`)
  return k
}

/** x-only (32-byte) form of a point; BIP-340 keys and nonces are stored this way. */
export function xOnly(point: Point): Uint8Array {
  return point.toBytes(true).slice(1)
}

export function hasEvenY(point: Point): boolean {
  return point.toAffine().y % 2n === 0n
}
