import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js'
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { codeOf, errorOf } from '../../protocol/test-helpers/expect-code.js'
import { DlcError } from '../errors.js'
import {
  announceEvent,
  attestationMessage,
  attestationPoint,
  attestationSecret,
  attestOutcome,
  createOracleNonce,
  decodeOracleAnnouncement,
  encodeOracleAnnouncement,
  encodeOracleAttestation,
  oraclePairPoint,
  verifyAttestationSignatures,
  verifyOracleAnnouncement,
  verifyOracleAttestation,
  type OracleAnnouncement,
  MAX_OUTCOMES,
} from './index.js'

const { Point } = secp256k1
const n = Point.Fn.ORDER
const MATURITY = 1_780_000_000
const OUTCOMES = ['yes', 'no', 'void']

function newOracle() {
  const secretKey = schnorr.utils.randomSecretKey()
  const nonce = createOracleNonce()
  const announcement = announceEvent(secretKey, { eventId: 'event-1', outcomes: OUTCOMES, maturity: MATURITY }, nonce.secret)
  return { secretKey, nonce, announcement, publicKey: schnorr.getPublicKey(secretKey) }
}

/** A secret whose point has the requested y parity. */
function secretWithParity(odd: boolean): Uint8Array {
  const k = bytesToNumberBE(schnorr.utils.randomSecretKey())
  const isOdd = Point.BASE.multiply(k).toAffine().y % 2n === 1n
  return numberToBytesBE(isOdd === odd ? k : n - k, 32)
}

describe('createOracleNonce', () => {
  it('returns R = k·G with even y, as x-only, and fresh values each time', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const { secret, nonce } = createOracleNonce()
      const R = Point.BASE.multiply(bytesToNumberBE(secret))
      expect(R.toAffine().y % 2n).toBe(0n)
      expect(bytesToHex(R.toBytes(true).subarray(1))).toBe(bytesToHex(nonce))
      seen.add(bytesToHex(secret))
    }
    expect(seen.size).toBe(20)
  })
})

describe('announcements', () => {
  it('announceEvent produces an announcement that verifies and survives the wire', () => {
    const { announcement, publicKey, nonce } = newOracle()
    expect(announcement.oraclePublicKey).toEqual(publicKey)
    expect(announcement.event).toEqual({ nonces: [nonce.nonce], maturity: MATURITY, outcomes: OUTCOMES, eventId: 'event-1' })
    verifyOracleAnnouncement(announcement)
    verifyOracleAnnouncement(decodeOracleAnnouncement(encodeOracleAnnouncement(announcement)))
  })

  it('is reproducible with fixed aux randomness, fresh otherwise', () => {
    const secretKey = schnorr.utils.randomSecretKey()
    const { secret } = createOracleNonce()
    const event = { eventId: 'e', outcomes: ['a', 'b'], maturity: MATURITY }
    const zeros = new Uint8Array(32)
    expect(announceEvent(secretKey, event, secret, zeros)).toEqual(announceEvent(secretKey, event, secret, zeros))
    expect(announceEvent(secretKey, event, secret).signature).not.toEqual(announceEvent(secretKey, event, secret).signature)
    verifyOracleAnnouncement(announceEvent(secretKey, event, secret, zeros))
    expect(codeOf(() => announceEvent(secretKey, event, secret, new Uint8Array(31)), DlcError)).toBe('malformed')
  })

  it('keeps secrets out of announcements and attestations (objects, wire bytes, inspect, JSON)', () => {
    const { secretKey, nonce, announcement } = newOracle()
    const attestation = attestOutcome(secretKey, nonce.secret, announcement, 'yes')
    const secrets = [bytesToHex(secretKey), bytesToHex(nonce.secret)]
    const hexOf = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? bytesToHex(v) : v))
    const views = [
      hexOf(announcement),
      hexOf(attestation),
      bytesToHex(encodeOracleAnnouncement(announcement)),
      bytesToHex(encodeOracleAttestation(attestation)),
      inspect(announcement, { depth: 10 }),
      inspect(attestation, { depth: 10 }),
    ]
    for (const view of views) for (const secret of secrets) expect(view).not.toContain(secret)
  })

  it('announceEvent refuses events that break the rules, before signing', () => {
    const secretKey = schnorr.utils.randomSecretKey()
    const { secret } = createOracleNonce()
    const cases: [string, { eventId: string; outcomes: string[]; maturity: number }, RegExp][] = [
      ['one outcome', { eventId: 'e', outcomes: ['yes'], maturity: MATURITY }, new RegExp(`2 to ${MAX_OUTCOMES} outcomes, found 1`)],
      ['duplicate', { eventId: 'e', outcomes: ['yes', 'no', 'yes'], maturity: MATURITY }, /"yes" is listed twice/],
      ['empty outcome', { eventId: 'e', outcomes: ['yes', ''], maturity: MATURITY }, /outcome 1 is empty/],
      ['empty event id', { eventId: '', outcomes: ['yes', 'no'], maturity: MATURITY }, /event id is empty/],
      ['no maturity', { eventId: 'e', outcomes: ['yes', 'no'], maturity: 0 }, /maturity 0/],
      ['fractional maturity', { eventId: 'e', outcomes: ['yes', 'no'], maturity: 1.5 }, /maturity 1.5/],
    ]
    for (const [name, event, message] of cases) {
      const error = errorOf(() => announceEvent(secretKey, event, secret), DlcError)
      expect(error.code, name).toBe('invalid_announcement')
      expect(error.message, name).toMatch(message)
    }
    // R = P would make the attestation reveal the oracle key.
    expect(errorOf(() => announceEvent(secretKey, { eventId: 'e', outcomes: ['a', 'b'], maturity: MATURITY }, secretKey), DlcError).message).toMatch(/nonce equals the oracle public key/)
    expect(codeOf(() => announceEvent(new Uint8Array(32), { eventId: 'e', outcomes: ['a', 'b'], maturity: MATURITY }, secret), DlcError)).toBe('malformed')
    expect(codeOf(() => announceEvent(secretKey, { eventId: 'e', outcomes: ['e\u0301', 'b'], maturity: MATURITY }, secret), DlcError)).toBe('malformed')
  })

  it('verifyOracleAnnouncement refuses any tampering', () => {
    const { announcement } = newOracle()
    const other = newOracle().announcement
    const flipped = announcement.signature.slice()
    flipped[40]! ^= 1
    const cases: [string, OracleAnnouncement, string][] = [
      ['signature bit', { ...announcement, signature: flipped }, 'bad_signature'],
      ['other oracle key', { ...announcement, oraclePublicKey: other.oraclePublicKey }, 'bad_signature'],
      ['outcome changed', { ...announcement, event: { ...announcement.event, outcomes: ['yes', 'no', 'maybe'] } }, 'bad_signature'],
      ['outcomes reordered', { ...announcement, event: { ...announcement.event, outcomes: ['no', 'yes', 'void'] } }, 'bad_signature'],
      ['maturity changed', { ...announcement, event: { ...announcement.event, maturity: MATURITY + 1 } }, 'bad_signature'],
      ['event id changed', { ...announcement, event: { ...announcement.event, eventId: 'event-2' } }, 'bad_signature'],
      ['nonce swapped', { ...announcement, event: { ...announcement.event, nonces: other.event.nonces } }, 'bad_signature'],
      ['key off the curve', { ...announcement, oraclePublicKey: new Uint8Array(32).fill(0xff) }, 'invalid_announcement'],
      ['nonce off the curve', { ...announcement, event: { ...announcement.event, nonces: [new Uint8Array(32)] } }, 'invalid_announcement'],
    ]
    for (const [name, tampered, code] of cases) expect(codeOf(() => verifyOracleAnnouncement(tampered), DlcError), name).toBe(code)
  })
})

describe('attestations', () => {
  it('attestOutcome signs with the announced nonce and verifies (ours, noble and the announcement match)', () => {
    const { secretKey, nonce, announcement } = newOracle()
    for (const outcome of OUTCOMES) {
      const attestation = attestOutcome(secretKey, nonce.secret, announcement, outcome)
      expect(attestation).toMatchObject({ eventId: 'event-1', outcomes: [outcome] })
      expect(attestation.signatures[0]!.subarray(0, 32)).toEqual(announcement.event.nonces[0])
      expect(schnorr.verify(attestation.signatures[0]!, attestationMessage(outcome), announcement.oraclePublicKey)).toBe(true)
      verifyAttestationSignatures(attestation)
      verifyOracleAttestation(attestation, announcement)
    }
  })

  it('handles secrets of either y parity for the key and the nonce', () => {
    for (const keyOdd of [false, true]) {
      for (const nonceOdd of [false, true]) {
        const secretKey = secretWithParity(keyOdd)
        const nonceSecret = secretWithParity(nonceOdd)
        const announcement = announceEvent(secretKey, { eventId: 'p', outcomes: ['a', 'b'], maturity: MATURITY }, nonceSecret)
        verifyOracleAnnouncement(announcement)
        const attestation = attestOutcome(secretKey, nonceSecret, announcement, 'b')
        verifyOracleAttestation(attestation, announcement)
        expect(Point.BASE.multiply(bytesToNumberBE(attestationSecret(attestation))).toBytes(true)).toEqual(
          attestationPoint(announcement.oraclePublicKey, announcement.event.nonces[0]!, 'b'),
        )
      }
    }
  })

  it('attestOutcome refuses the wrong key, the wrong nonce and unannounced outcomes', () => {
    const { secretKey, nonce, announcement } = newOracle()
    expect(errorOf(() => attestOutcome(schnorr.utils.randomSecretKey(), nonce.secret, announcement, 'yes'), DlcError).message).toMatch(/not the announcing oracle key/)
    expect(errorOf(() => attestOutcome(secretKey, createOracleNonce().secret, announcement, 'yes'), DlcError).message).toMatch(/not the nonce announced/)
    const error = errorOf(() => attestOutcome(secretKey, nonce.secret, announcement, 'maybe'), DlcError)
    expect(error.code).toBe('invalid_attestation')
    expect(error.message).toMatch(/"maybe" is not one of the announced outcomes/)
  })

  it('verifyOracleAttestation refuses attestations that do not answer the announcement', () => {
    const { secretKey, nonce, announcement } = newOracle()
    const good = attestOutcome(secretKey, nonce.secret, announcement, 'yes')
    const stranger = newOracle()
    const fromStranger = attestOutcome(stranger.secretKey, stranger.nonce.secret, stranger.announcement, 'yes')
    // Same oracle and event id, other nonce: an attestation the announcement did not commit to.
    const otherNonce = createOracleNonce()
    const reannounced = announceEvent(secretKey, { eventId: 'event-1', outcomes: OUTCOMES, maturity: MATURITY }, otherNonce.secret)
    const withOtherNonce = attestOutcome(secretKey, otherNonce.secret, reannounced, 'yes')
    // Same nonce, an outcome this announcement does not list.
    const widened = announceEvent(secretKey, { eventId: 'event-1', outcomes: [...OUTCOMES, 'maybe'], maturity: MATURITY }, nonce.secret)
    const unlisted = attestOutcome(secretKey, nonce.secret, widened, 'maybe')
    const tamperedS = good.signatures[0]!.slice()
    tamperedS[63]! ^= 1

    const cases: [string, Parameters<typeof verifyOracleAttestation>[0], string, RegExp][] = [
      ['another oracle', fromStranger, 'invalid_attestation', /attestation is from oracle/],
      ['another event id', { ...good, eventId: 'event-2' }, 'invalid_attestation', /for event "event-2"/],
      ['another nonce', withOtherNonce, 'invalid_attestation', /does not use the announced nonce/],
      ['unlisted outcome', unlisted, 'invalid_attestation', /"maybe" is not one of the announced outcomes/],
      ['no signature', { ...good, signatures: [], outcomes: [] }, 'invalid_attestation', /has 1 nonce/],
      ['relabelled outcome', { ...good, outcomes: ['no'] }, 'bad_signature', /outcome "no"/],
      ['tampered s', { ...good, signatures: [tamperedS] }, 'bad_signature', /does not verify/],
    ]
    for (const [name, attestation, code, message] of cases) {
      const error = errorOf(() => verifyOracleAttestation(attestation, announcement), DlcError)
      expect(error.code, name).toBe(code)
      expect(error.message, name).toMatch(message)
    }
    expect(codeOf(() => verifyAttestationSignatures({ ...good, outcomes: ['yes', 'no'] }), DlcError)).toBe('invalid_attestation')
    expect(codeOf(() => verifyAttestationSignatures({ ...good, oraclePublicKey: new Uint8Array(32) }), DlcError)).toBe('invalid_attestation')
  })
})

describe('attestation points', () => {
  it('S = R + e·P is s·G of exactly the attestation of that outcome', () => {
    const { secretKey, nonce, announcement } = newOracle()
    const P = announcement.oraclePublicKey
    const R = announcement.event.nonces[0]!
    const points = OUTCOMES.map((outcome) => attestationPoint(P, R, outcome))
    expect(new Set(points.map(bytesToHex)).size).toBe(OUTCOMES.length)
    OUTCOMES.forEach((outcome, i) => {
      const s = attestationSecret(attestOutcome(secretKey, nonce.secret, announcement, outcome))
      expect(s).toHaveLength(32)
      expect(Point.BASE.multiply(bytesToNumberBE(s)).toBytes(true)).toEqual(points[i])
    })
  })

  it('oraclePairPoint is S_a + S_b, opened by s_a + s_b mod n', () => {
    const a = newOracle()
    const b = newOracle()
    const Sa = attestationPoint(a.announcement.oraclePublicKey, a.announcement.event.nonces[0]!, 'no')
    const Sb = attestationPoint(b.announcement.oraclePublicKey, b.announcement.event.nonces[0]!, 'no')
    const pair = oraclePairPoint(Sa, Sb)
    expect(oraclePairPoint(Sb, Sa)).toEqual(pair)
    const sa = bytesToNumberBE(attestationSecret(attestOutcome(a.secretKey, a.nonce.secret, a.announcement, 'no')))
    const sb = bytesToNumberBE(attestationSecret(attestOutcome(b.secretKey, b.nonce.secret, b.announcement, 'no')))
    expect(Point.BASE.multiply((sa + sb) % n).toBytes(true)).toEqual(pair)
    // One oracle's secret alone does not open the pair point.
    expect(Point.BASE.multiply(sa).toBytes(true)).not.toEqual(pair)
  })

  it('refuses invalid points and points that cancel out', () => {
    const { announcement } = newOracle()
    const S = attestationPoint(announcement.oraclePublicKey, announcement.event.nonces[0]!, 'yes')
    const minusS = Point.fromBytes(S).negate().toBytes(true)
    expect(errorOf(() => oraclePairPoint(S, minusS), DlcError).message).toMatch(/cancel out/)
    expect(codeOf(() => oraclePairPoint(S, S.subarray(1)), DlcError)).toBe('malformed')
    expect(codeOf(() => oraclePairPoint(S, concatBytes(Uint8Array.of(2), new Uint8Array(32).fill(0xff))), DlcError)).toBe('malformed')
    expect(codeOf(() => attestationPoint(new Uint8Array(32), announcement.event.nonces[0]!, 'yes'), DlcError)).toBe('malformed')
    expect(codeOf(() => attestationPoint(announcement.oraclePublicKey, new Uint8Array(31), 'yes'), DlcError)).toBe('malformed')
    expect(codeOf(() => attestationSecret({ eventId: 'e', oraclePublicKey: announcement.oraclePublicKey, signatures: [], outcomes: [] }), DlcError)).toBe('invalid_attestation')
  })
})

describe('attestationMessage', () => {
  it('is the BIP-340 tagged hash "DLC/oracle/attestation/v0" of the NFC UTF-8 outcome', () => {
    expect(attestationMessage('yes')).toEqual(schnorr.utils.taggedHash('DLC/oracle/attestation/v0', new TextEncoder().encode('yes')))
    expect(attestationMessage('e\u0301')).toEqual(attestationMessage('\u00e9'))
  })
})
