import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js'
import { concatBytes, randomBytes } from '@noble/hashes/utils.js'
import * as ecc from 'tiny-secp256k1'
import { describe, expect, it } from 'vitest'
import { codeOf, errorOf } from '../protocol/test-helpers/expect-code.js'
import {
  ADAPTOR_SIGNATURE_BYTES,
  adaptorSign,
  adaptorVerify,
  adaptSignature,
  decodeAdaptorSignature,
  encodeAdaptorSignature,
  extractAdaptorSecret,
  type AdaptorSignature,
} from './adaptor.js'
import { DlcError } from './errors.js'
import { announceEvent, attestationPoint, attestationSecret, attestOutcome, createOracleNonce, oraclePairPoint, verifyOracleAttestation } from './oracle/index.js'

const { Point } = secp256k1
const n = Point.Fn.ORDER

function adaptorPair(): { t: Uint8Array; T: Uint8Array } {
  const t = schnorr.utils.randomSecretKey()
  return { t, T: Point.BASE.multiply(bytesToNumberBE(t)).toBytes(true) }
}

/** Both BIP-340 verifiers the node uses: noble and libsecp256k1 (tiny-secp256k1). */
function bothVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const noble = schnorr.verify(signature, message, publicKey)
  const libsecp = ecc.verifySchnorr(message, publicKey, signature)
  expect(libsecp).toBe(noble)
  return noble
}

describe('adaptor signatures: properties over random keys, messages and points', () => {
  it('pre-sign → verify → adapt gives a valid BIP-340 signature and extract returns t, for both parities of R and of P', () => {
    const nonceParities = new Set<number>()
    const keyParities = new Set<number>()
    for (let i = 0; i < 96; i++) {
      const secretKey = schnorr.utils.randomSecretKey()
      const publicKey = schnorr.getPublicKey(secretKey)
      const message = randomBytes(32)
      const { t, T } = adaptorPair()
      const sig = adaptorSign(secretKey, message, T)
      nonceParities.add(sig.nonce[0]!)
      keyParities.add(Point.BASE.multiply(bytesToNumberBE(secretKey)).toBytes(true)[0]!)

      expect(adaptorVerify(publicKey, message, T, sig)).toBe(true)
      // The pre-signature alone is not a signature.
      expect(bothVerify(concatBytes(sig.nonce.subarray(1), sig.s), message, publicKey)).toBe(false)

      const signature = adaptSignature(sig, t)
      expect(bothVerify(signature, message, publicKey)).toBe(true)
      expect(extractAdaptorSecret(signature, sig, T)).toEqual(t)
      expect(decodeAdaptorSignature(encodeAdaptorSignature(sig))).toEqual(sig)
    }
    expect([...nonceParities].sort()).toEqual([2, 3])
    expect([...keyParities].sort()).toEqual([2, 3])
  })

  it('is deterministic for fixed aux randomness and commits to T', () => {
    const secretKey = schnorr.utils.randomSecretKey()
    const message = randomBytes(32)
    const aux = randomBytes(32)
    const { T } = adaptorPair()
    expect(adaptorSign(secretKey, message, T, aux)).toEqual(adaptorSign(secretKey, message, T, aux))
    expect(adaptorSign(secretKey, message, T, aux).nonce).not.toEqual(adaptorSign(secretKey, message, adaptorPair().T, aux).nonce)
    expect(adaptorSign(secretKey, message, T, aux).nonce).not.toEqual(adaptorSign(secretKey, message, T, randomBytes(32)).nonce)
  })
})

describe('adaptor signatures: negative cases', () => {
  function flip(bytes: Uint8Array, index: number): Uint8Array {
    const out = bytes.slice()
    out[index]! ^= 1
    return out
  }

  it('verification fails for the wrong key, message, point, or a tampered ŝ or R', () => {
    let tested = 0
    for (let i = 0; i < 16; i++) {
      const secretKey = schnorr.utils.randomSecretKey()
      const publicKey = schnorr.getPublicKey(secretKey)
      const message = randomBytes(32)
      const { T } = adaptorPair()
      const sig = adaptorSign(secretKey, message, T)
      const otherPoint = adaptorPair().T
      const negatedR = Uint8Array.of(sig.nonce[0] === 2 ? 3 : 2, ...sig.nonce.subarray(1))
      const negatedT = Uint8Array.of(T[0] === 2 ? 3 : 2, ...T.subarray(1))
      const cases: [string, Uint8Array, Uint8Array, Uint8Array, AdaptorSignature][] = [
        ['wrong key', schnorr.getPublicKey(schnorr.utils.randomSecretKey()), message, T, sig],
        ['wrong message', publicKey, flip(message, 0), T, sig],
        ['wrong adaptor point', publicKey, message, otherPoint, sig],
        ['negated adaptor point', publicKey, message, negatedT, sig],
        ['tampered s', publicKey, message, T, { ...sig, s: flip(sig.s, 31) }],
        ['negated R', publicKey, message, T, { ...sig, nonce: negatedR }],
        ['another R', publicKey, message, T, { ...sig, nonce: otherPoint }],
      ]
      for (const [name, key, msg, point, candidate] of cases) {
        expect(adaptorVerify(key, msg, point, candidate), name).toBe(false)
        tested++
      }
    }
    expect(tested).toBe(16 * 7)
  })

  it('adapting with the wrong t gives an invalid signature, and extraction refuses it', () => {
    const secretKey = schnorr.utils.randomSecretKey()
    const publicKey = schnorr.getPublicKey(secretKey)
    const message = randomBytes(32)
    const { t, T } = adaptorPair()
    const sig = adaptorSign(secretKey, message, T)
    const wrong = adaptSignature(sig, adaptorPair().t)
    expect(bothVerify(wrong, message, publicKey)).toBe(false)
    expect(codeOf(() => extractAdaptorSecret(wrong, sig, T), DlcError)).toBe('bad_signature')
    // −t completes nothing either (the parity rule is not symmetric by accident).
    const minusT = numberToBytesBE(n - bytesToNumberBE(t), 32)
    expect(bothVerify(adaptSignature(sig, minusT), message, publicKey)).toBe(false)
    // A plain signature with another nonce does not reveal t.
    const plain = schnorr.sign(message, secretKey)
    expect(errorOf(() => extractAdaptorSecret(plain, sig, T), DlcError).message).toMatch(/pre-signature nonce/)
    // The right signature under the wrong point.
    expect(codeOf(() => extractAdaptorSecret(adaptSignature(sig, t), sig, adaptorPair().T), DlcError)).toBe('bad_signature')
  })

  it('adaptorVerify never throws on garbage; the other functions throw DlcError(malformed)', () => {
    const secretKey = schnorr.utils.randomSecretKey()
    const publicKey = schnorr.getPublicKey(secretKey)
    const message = randomBytes(32)
    const { t, T } = adaptorPair()
    const sig = adaptorSign(secretKey, message, T)
    const offCurveX = new Uint8Array(32).fill(0xff)
    const highS = new Uint8Array(32).fill(0xff)
    const garbage: [Uint8Array, Uint8Array, Uint8Array, AdaptorSignature][] = [
      [publicKey.subarray(1), message, T, sig],
      [offCurveX, message, T, sig],
      [publicKey, message.subarray(1), T, sig],
      [publicKey, message, T.subarray(1), sig],
      [publicKey, message, concatBytes(Uint8Array.of(4), T.subarray(1)), sig],
      [publicKey, message, concatBytes(Uint8Array.of(2), offCurveX), sig],
      [publicKey, message, T, { ...sig, s: highS }],
      [publicKey, message, T, { ...sig, nonce: new Uint8Array(33) }],
      [publicKey, message, T, { nonce: 'x', s: 'y' } as unknown as AdaptorSignature],
      ['key' as unknown as Uint8Array, message, T, sig],
    ]
    for (const [key, msg, point, candidate] of garbage) expect(adaptorVerify(key, msg, point, candidate)).toBe(false)

    expect(codeOf(() => adaptorSign(new Uint8Array(32), message, T), DlcError)).toBe('malformed')
    expect(codeOf(() => adaptorSign(secretKey, message.subarray(1), T), DlcError)).toBe('malformed')
    expect(codeOf(() => adaptorSign(secretKey, message, T.subarray(1)), DlcError)).toBe('malformed')
    expect(codeOf(() => adaptorSign(secretKey, message, T, new Uint8Array(31)), DlcError)).toBe('malformed')
    expect(codeOf(() => adaptSignature(sig, new Uint8Array(32)), DlcError)).toBe('malformed')
    expect(codeOf(() => adaptSignature(sig, numberToBytesBE(n, 32)), DlcError)).toBe('malformed')
    expect(codeOf(() => adaptSignature({ ...sig, s: highS }, t), DlcError)).toBe('malformed')
    expect(codeOf(() => extractAdaptorSecret(new Uint8Array(63), sig, T), DlcError)).toBe('malformed')
  })

  it('decodeAdaptorSignature is strict and only ever throws DlcError(malformed)', () => {
    const { T } = adaptorPair()
    const good = encodeAdaptorSignature(adaptorSign(schnorr.utils.randomSecretKey(), randomBytes(32), T))
    expect(good).toHaveLength(ADAPTOR_SIGNATURE_BYTES)
    const bad = [
      good.subarray(1),
      concatBytes(good, Uint8Array.of(0)),
      concatBytes(Uint8Array.of(4), good.subarray(1)),
      concatBytes(good.subarray(0, 33), new Uint8Array(32).fill(0xff)),
      concatBytes(Uint8Array.of(2), new Uint8Array(32).fill(0xff), good.subarray(33)),
    ]
    for (const bytes of bad) expect(codeOf(() => decodeAdaptorSignature(bytes), DlcError)).toBe('malformed')
    let decoded = 0
    for (let i = 0; i < 2000; i++) {
      const bytes = i % 2 === 0 ? randomBytes(ADAPTOR_SIGNATURE_BYTES) : concatBytes(Uint8Array.of(2 + (i % 4 === 1 ? 1 : 0)), randomBytes(64))
      try {
        expect(encodeAdaptorSignature(decodeAdaptorSignature(bytes))).toEqual(bytes)
        decoded++
      } catch (error) {
        expect(error).toBeInstanceOf(DlcError)
        expect((error as DlcError).code).toBe('malformed')
      }
    }
    // About half of random x-coordinates are on the curve: both branches were exercised.
    expect(decoded).toBeGreaterThan(200)
    expect(decoded).toBeLessThan(1500)
  })
})

describe('adaptor signatures with dlcspecs oracles (2-of-3: one pair)', () => {
  function oracleFor(eventId: string, outcomes: string[]) {
    const secretKey = schnorr.utils.randomSecretKey()
    const nonce = createOracleNonce()
    const announcement = announceEvent(secretKey, { eventId, outcomes, maturity: 1_780_000_000 }, nonce.secret)
    return { announcement, attest: (outcome: string) => attestOutcome(secretKey, nonce.secret, announcement, outcome) }
  }

  it('a CET pre-signed under S_a + S_b completes with s_a + s_b from real attestations, and with nothing less', () => {
    const outcomes = ['yes', 'no']
    const a = oracleFor('ev', outcomes)
    const b = oracleFor('ev', outcomes)
    const pointOf = (o: typeof a, outcome: string) => attestationPoint(o.announcement.oraclePublicKey, o.announcement.event.nonces[0]!, outcome)
    const signerKey = schnorr.utils.randomSecretKey()
    const signerPublic = schnorr.getPublicKey(signerKey)
    const sighash = randomBytes(32)

    const yesPoint = oraclePairPoint(pointOf(a, 'yes'), pointOf(b, 'yes'))
    const presig = adaptorSign(signerKey, sighash, yesPoint)
    expect(adaptorVerify(signerPublic, sighash, yesPoint, presig)).toBe(true)
    expect(adaptorVerify(signerPublic, sighash, oraclePairPoint(pointOf(a, 'no'), pointOf(b, 'no')), presig)).toBe(false)

    const attA = a.attest('yes')
    const attB = b.attest('yes')
    verifyOracleAttestation(attA, a.announcement)
    verifyOracleAttestation(attB, b.announcement)
    const sum = (x: Uint8Array, y: Uint8Array) => numberToBytesBE((bytesToNumberBE(x) + bytesToNumberBE(y)) % n, 32)
    const t = sum(attestationSecret(attA), attestationSecret(attB))
    const signature = adaptSignature(presig, t)
    expect(bothVerify(signature, sighash, signerPublic)).toBe(true)
    expect(extractAdaptorSecret(signature, presig, yesPoint)).toEqual(t)

    // One attestation is not enough; the other outcome's attestations do not open it.
    expect(bothVerify(adaptSignature(presig, attestationSecret(attA)), sighash, signerPublic)).toBe(false)
    const tNo = sum(attestationSecret(a.attest('no')), attestationSecret(b.attest('no')))
    expect(bothVerify(adaptSignature(presig, tNo), sighash, signerPublic)).toBe(false)
  })
})
