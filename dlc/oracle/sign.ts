import { schnorr } from '@noble/curves/secp256k1.js'
import { equalBytes, numberToBytesBE } from '@noble/curves/utils.js'
import { concatBytes } from '@noble/hashes/utils.js'
import { DlcError } from '../errors.js'
import { announcementMessage, attestationMessage, challenge, Fn, hasEvenY, Point, secretScalar, verifyBip340, xOnly } from './bip340.js'
import type { OracleAnnouncement, OracleAttestation, OracleEvent } from './messages.js'
import { checkOracleEvent } from './verify.js'

/**
 * The oracle's side: a one-time nonce per event, the signed announcement, and the attestation
 * signed with exactly the announced nonce (dlcspecs Oracle.md; the attestation's s is what opens
 * the CETs' adaptor signatures). Secrets go in as arguments and never come back out: the returned
 * announcement and attestation hold public data only.
 *
 * An oracle must attest an event at most once: two attestations under one nonce reveal its
 * secret key. Recording that is the caller's job (the oracle's keystore), not this module's.
 */

/** A fresh event nonce k whose R = k·G has even y, so lift_x(nonce) is R itself. */
export function createOracleNonce(): { secret: Uint8Array; nonce: Uint8Array } {
  let k = secretScalar(schnorr.utils.randomSecretKey(), 'nonce secret')
  let R = Point.BASE.multiply(k)
  if (!hasEvenY(R)) {
    k = Fn.neg(k)
    R = R.negate()
  }
  return { secret: numberToBytesBE(k, 32), nonce: xOnly(R) }
}

/** x-only public key of a secret, and the secret with the sign BIP-340 uses for it (even y). */
function evenKey(secret: Uint8Array, what: string): { scalar: bigint; xOnly: Uint8Array } {
  const k = secretScalar(secret, what)
  const point = Point.BASE.multiply(k)
  return { scalar: hasEvenY(point) ? k : Fn.neg(k), xOnly: xOnly(point) }
}

export interface EventToAnnounce {
  readonly eventId: string
  readonly outcomes: readonly string[]
  readonly maturity: number
}

/**
 * Signs an announcement of an enum event under the nonce of `nonceSecret`. Throws DlcError if the
 * event breaks a rule. `auxRand` is BIP-340's auxiliary randomness, fresh by default; a fixed value
 * (e.g. 32 zero bytes, still a safe BIP-340 signature) makes the announcement reproducible.
 */
export function announceEvent(oracleSecretKey: Uint8Array, event: EventToAnnounce, nonceSecret: Uint8Array, auxRand?: Uint8Array): OracleAnnouncement {
  const key = evenKey(oracleSecretKey, 'oracle secret key')
  const nonce = evenKey(nonceSecret, 'nonce secret')
  const oracleEvent: OracleEvent = { nonces: [nonce.xOnly], maturity: event.maturity, outcomes: [...event.outcomes], eventId: event.eventId }
  checkOracleEvent(oracleEvent, key.xOnly)
  if (auxRand !== undefined && (!(auxRand instanceof Uint8Array) || auxRand.length !== 32)) throw new DlcError('malformed', 'aux randomness must be 32 bytes')
  const signature = schnorr.sign(announcementMessage(oracleEvent), oracleSecretKey, auxRand)
  return { signature, oraclePublicKey: key.xOnly, event: oracleEvent }
}

/**
 * The BIP-340 signature of attestationMessage(outcome) with the announced nonce: s = k + e·d with
 * k and d taken with the signs that give R and P even y, e the BIP-340 challenge.
 */
export function attestOutcome(oracleSecretKey: Uint8Array, nonceSecret: Uint8Array, announcement: OracleAnnouncement, outcome: string): OracleAttestation {
  const key = evenKey(oracleSecretKey, 'oracle secret key')
  const nonce = evenKey(nonceSecret, 'nonce secret')
  const event = announcement.event
  if (!equalBytes(key.xOnly, announcement.oraclePublicKey)) throw new DlcError('invalid_attestation', 'the secret key is not the announcing oracle key')
  if (event.nonces.length !== 1 || !equalBytes(nonce.xOnly, event.nonces[0]!)) {
    throw new DlcError('invalid_attestation', 'the nonce secret is not the nonce announced for this event')
  }
  if (!event.outcomes.includes(outcome)) throw new DlcError('invalid_attestation', `outcome ${JSON.stringify(outcome)} is not one of the announced outcomes`)
  const message = attestationMessage(outcome)
  const e = challenge(nonce.xOnly, key.xOnly, message)
  const s = Fn.add(nonce.scalar, Fn.mul(e, key.scalar))
  const signature = concatBytes(nonce.xOnly, numberToBytesBE(s, 32))
  // BIP-340 recommends verifying before release: a faulty computation must not leave the oracle.
  if (!verifyBip340(signature, message, key.xOnly)) throw new DlcError('bad_signature', 'attestation signature failed its own verification')
  return { eventId: event.eventId, oraclePublicKey: key.xOnly, signatures: [signature], outcomes: [outcome] }
}
