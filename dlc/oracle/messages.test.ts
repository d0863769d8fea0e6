import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { codeOf, errorOf } from '../../protocol/test-helpers/expect-code.js'
import { DlcError } from '../errors.js'
import { announcementMessage, verifyBip340 } from './bip340.js'
import {
  announceEvent,
  announcementId,
  attestationId,
  attestOutcome,
  createOracleNonce,
  decodeOracleAnnouncement,
  decodeOracleAttestation,
  decodeOracleMessage,
  encodeOracleAnnouncement,
  encodeOracleAttestation,
  encodeOracleMessage,
  MAX_EVENT_ID_BYTES,
  MAX_OUTCOME_BYTES,
  MAX_OUTCOMES,
  verifyAttestationSignatures,
  verifyOracleAnnouncement,
  type OracleAnnouncement,
  type OracleAttestation,
  type OracleMessage,
} from './index.js'
import { MAX_ORACLE_MESSAGE_BYTES } from '../../protocol/index.js'
import { encodeOracleEvent } from './messages.js'
import { NODE_DLC_ATTESTATION_HEX, NODE_DLC_ENUM_ANNOUNCEMENT_HEX, PRODUCTION_ANNOUNCEMENT_HEX, PRODUCTION_ATTESTATION_HEX } from './test-helpers/vectors.js'
import { encodeBigSize, WireWriter } from './wire.js'

/** Deterministic PRNG (mulberry32) so a failing fuzz case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomBytes(next: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(next() * 256))
}

function oracle(outcomes: readonly string[] = ['yes', 'no'], eventId = 'btc-above-100k-2026-06-30') {
  const secretKey = schnorr.utils.randomSecretKey()
  const { secret } = createOracleNonce()
  const announcement = announceEvent(secretKey, { eventId, outcomes, maturity: 1_780_000_000 }, secret)
  const attestation = attestOutcome(secretKey, secret, announcement, outcomes[0]!)
  return { announcement, attestation }
}

describe('public test vectors', () => {
  it('decodes, re-encodes byte for byte and verifies a production oracle announcement', () => {
    const bytes = hexToBytes(PRODUCTION_ANNOUNCEMENT_HEX)
    const announcement = decodeOracleAnnouncement(bytes)
    expect(announcement.event.eventId).toBe('loan-matured-8123195c61e497f124eb7d3bfbe1222a502b30ab41967f0df2060a3ee36f5b0c')
    expect(announcement.event.outcomes).toEqual(['not-paid', 'repaid', 'liquidated-by-maturation-date', 'liquidated-by-price-threshold'])
    expect(announcement.event.maturity).toBe(1_760_039_169)
    expect(announcement.event.nonces.map(bytesToHex)).toEqual(['529fadc9958e1e1cf8ea29f05a25d67e04a0c21dcbfcb99b8b24d32f274795eb'])
    expect(bytesToHex(encodeOracleAnnouncement(announcement))).toBe(PRODUCTION_ANNOUNCEMENT_HEX)
    // The signature covers the tagged hash of the oracle_event TLV, header included.
    expect(() => verifyOracleAnnouncement(announcement)).not.toThrow()
  })

  it('decodes the rust-dlc attestation form (u16 outcome count), verifies it, and re-encodes it in the spec form', () => {
    const attestation = decodeOracleAttestation(hexToBytes(PRODUCTION_ATTESTATION_HEX))
    expect(attestation.outcomes).toEqual(['liquidated-by-maturation-date'])
    expect(bytesToHex(attestation.oraclePublicKey)).toBe('dde465c101a1aaa5a88c0d35d21744eb5352c62b7c7665d62d5f20c770ddfd8f')
    // The signed message is tagged_hash("DLC/oracle/attestation/v0", outcome UTF-8).
    expect(() => verifyAttestationSignatures(attestation)).not.toThrow()

    const specForm = encodeOracleAttestation(attestation)
    // Same record minus the two count bytes: length 0xd0 → 0xce, "0001" before the outcome gone.
    const signatureEnd = PRODUCTION_ATTESTATION_HEX.indexOf('00011d6c69')
    expect(bytesToHex(specForm)).toBe('fdd868ce' + PRODUCTION_ATTESTATION_HEX.slice(8, signatureEnd) + PRODUCTION_ATTESTATION_HEX.slice(signatureEnd + 4))
    expect(decodeOracleAttestation(specForm)).toEqual(attestation)
    expect(attestationId(decodeOracleAttestation(specForm))).toBe(attestationId(attestation))
  })

  it('reads node-dlc vectors: the spec-form attestation round-trips exactly and verifies', () => {
    const attestation = decodeOracleAttestation(hexToBytes(NODE_DLC_ATTESTATION_HEX))
    expect(attestation.eventId).toBe('BTC-USD-OVER-50K-COINBASE')
    expect(attestation.outcomes).toEqual(['NO'])
    expect(bytesToHex(encodeOracleAttestation(attestation))).toBe(NODE_DLC_ATTESTATION_HEX)
    expect(() => verifyAttestationSignatures(attestation)).not.toThrow()
  })

  it('reads the node-dlc enum announcement: valid signature, but a zero maturity breaks our rules', () => {
    const announcement = decodeOracleAnnouncement(hexToBytes(NODE_DLC_ENUM_ANNOUNCEMENT_HEX))
    expect(announcement.event).toMatchObject({ maturity: 0, outcomes: ['dummy1', 'dummy2'], eventId: 'dummy' })
    expect(bytesToHex(encodeOracleAnnouncement(announcement))).toBe(NODE_DLC_ENUM_ANNOUNCEMENT_HEX)
    expect(verifyBip340(announcement.signature, announcementMessage(announcement.event), announcement.oraclePublicKey)).toBe(true)
    const error = errorOf(() => verifyOracleAnnouncement(announcement), DlcError)
    expect(error.code).toBe('invalid_announcement')
    expect(error.message).toMatch(/maturity 0/)
  })
})

describe('round trips', () => {
  const alphabet = ['a', 'Z', '0', '-', ' ', 'é', 'ß', '☀', '日本', '🚀', '\u0000', 'Å']
  const next = rng(7)
  const text = (maxParts: number) =>
    Array.from({ length: 1 + Math.floor(next() * maxParts) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('')

  it('encode ∘ decode is the identity on generated announcements and attestations', () => {
    for (let i = 0; i < 25; i++) {
      const outcomes = [...new Set(Array.from({ length: 2 + Math.floor(next() * 6) }, () => text(8)))]
      if (outcomes.length < 2) continue
      const { announcement, attestation } = oracle(outcomes, text(12))
      const a = encodeOracleAnnouncement(announcement)
      expect(decodeOracleAnnouncement(a)).toEqual(announcement)
      expect(encodeOracleAnnouncement(decodeOracleAnnouncement(a))).toEqual(a)
      const t = encodeOracleAttestation(attestation)
      expect(decodeOracleAttestation(t)).toEqual(attestation)
      expect(decodeOracleMessage(a)).toEqual({ kind: 'announcement', announcement })
      expect(decodeOracleMessage(t)).toEqual({ kind: 'attestation', attestation })
      expect(encodeOracleMessage({ kind: 'attestation', attestation })).toEqual(t)
    }
  })

  it('holds at the size bounds', () => {
    const outcomes = Array.from({ length: MAX_OUTCOMES }, (_, i) => i.toString().padStart(MAX_OUTCOME_BYTES, 'x'))
    const { announcement } = oracle(outcomes, 'e'.repeat(MAX_EVENT_ID_BYTES))
    const bytes = encodeOracleAnnouncement(announcement)
    expect(bytes.length).toBeLessThan(MAX_ORACLE_MESSAGE_BYTES)
    expect(decodeOracleAnnouncement(bytes)).toEqual(announcement)
  })

  it('gives ids that are stable per message and distinct across messages', () => {
    const first = oracle()
    const second = oracle()
    expect(announcementId(first.announcement)).toMatch(/^[0-9a-f]{64}$/)
    expect(announcementId(decodeOracleAnnouncement(encodeOracleAnnouncement(first.announcement)))).toBe(announcementId(first.announcement))
    expect(announcementId(first.announcement)).not.toBe(announcementId(second.announcement))
    expect(attestationId(first.attestation)).not.toBe(attestationId(second.attestation))
  })
})

describe('strict decoding', () => {
  const { announcement, attestation } = oracle()
  const announcementBytes = encodeOracleAnnouncement(announcement)
  const attestationBytes = encodeOracleAttestation(attestation)

  function malformedMessage(fn: () => unknown): string {
    const error = errorOf(fn, DlcError)
    expect(error.code).toBe('malformed')
    return error.message
  }

  /** An announcement record around an oracle_event whose value is `eventValue`. */
  function announcementWithEvent(eventValue: Uint8Array): Uint8Array {
    const body = concatBytes(announcement.signature, announcement.oraclePublicKey, new WireWriter().tlv(55330, eventValue).finish())
    return new WireWriter().tlv(55332, body).finish()
  }

  function eventValue(nonceCount: number, descriptor: Uint8Array): Uint8Array {
    const w = new WireWriter().u16(nonceCount)
    for (let i = 0; i < nonceCount; i++) w.bytes(announcement.event.nonces[0]!)
    return w.u32(1_780_000_000).bytes(descriptor).string(new TextEncoder().encode('ev')).finish()
  }

  const enumDescriptor = (outcomes: string[]) => {
    const w = new WireWriter().u16(outcomes.length)
    for (const o of outcomes) w.string(new TextEncoder().encode(o))
    return new WireWriter().tlv(55302, w.finish()).finish()
  }

  it('accepts the hand-built form (sanity check of the helpers below)', () => {
    expect(decodeOracleAnnouncement(announcementWithEvent(eventValue(1, enumDescriptor(['a', 'b'])))).event.outcomes).toEqual(['a', 'b'])
  })

  it('refuses trailing bytes, truncation and a wrong outer type or length', () => {
    expect(malformedMessage(() => decodeOracleAnnouncement(concatBytes(announcementBytes, Uint8Array.of(0))))).toMatch(/1 unexpected trailing bytes/)
    expect(malformedMessage(() => decodeOracleAnnouncement(announcementBytes.subarray(0, -1)))).toMatch(/runs past the end/)
    expect(malformedMessage(() => decodeOracleAnnouncement(attestationBytes))).toMatch(/expected oracle_announcement \(type 55332\), found type 55400/)
    expect(malformedMessage(() => decodeOracleAttestation(announcementBytes))).toMatch(/expected oracle_attestation/)
    expect(malformedMessage(() => decodeOracleMessage(hexToBytes('fdd82200')))).toMatch(/unknown TLV type 55330/)
    expect(malformedMessage(() => decodeOracleMessage(new Uint8Array(0)))).toMatch(/truncated type/)
    expect(malformedMessage(() => decodeOracleMessage(new Uint8Array(MAX_ORACLE_MESSAGE_BYTES + 1).fill(0xfd)))).toMatch(/more than/)
    expect(malformedMessage(() => decodeOracleMessage('fdd824' as unknown as Uint8Array))).toMatch(/expected bytes/)
  })

  it('refuses a numeric (digit decomposition) event with a message saying so', () => {
    const digits = new WireWriter().tlv(55306, hexToBytes('0200076274632f75736400000000000002')).finish()
    expect(malformedMessage(() => decodeOracleAnnouncement(announcementWithEvent(eventValue(2, digits))))).toMatch(/digit_decomposition_event_descriptor \(55306\) is not supported/)
  })

  it('refuses enum events without exactly one nonce', () => {
    expect(malformedMessage(() => decodeOracleAnnouncement(announcementWithEvent(eventValue(0, enumDescriptor(['a', 'b'])))))).toMatch(/exactly 1 nonce, found 0/)
    expect(malformedMessage(() => decodeOracleAnnouncement(announcementWithEvent(eventValue(2, enumDescriptor(['a', 'b'])))))).toMatch(/exactly 1 nonce, found 2/)
  })

  it('refuses more than MAX_OUTCOMES outcomes and over-long strings', () => {
    const many = Array.from({ length: MAX_OUTCOMES + 1 }, (_, i) => `o${i}`)
    expect(malformedMessage(() => decodeOracleAnnouncement(announcementWithEvent(eventValue(1, enumDescriptor(many)))))).toMatch(new RegExp(`${MAX_OUTCOMES + 1} outcomes, more than ${MAX_OUTCOMES}`))
    expect(malformedMessage(() => decodeOracleAnnouncement(announcementWithEvent(eventValue(1, enumDescriptor(['a', 'x'.repeat(MAX_OUTCOME_BYTES + 1)])))))).toMatch(new RegExp(`outcome 1 is ${MAX_OUTCOME_BYTES + 1} bytes`))
  })

  it('refuses an inner record whose length disagrees with its content', () => {
    // A descriptor whose declared length leaves one byte of the outcome list unread.
    const inner = hexToBytes('00020161016200')
    const descriptor = concatBytes(hexToBytes('fdd806'), encodeBigSize(inner.length), inner)
    expect(malformedMessage(() => decodeOracleAnnouncement(announcementWithEvent(eventValue(1, descriptor))))).toMatch(/enum_event_descriptor: 1 unexpected trailing bytes/)
  })

  it('refuses attestations that are not enum attestations or whose outcome count disagrees', () => {
    const head = new WireWriter().string(new TextEncoder().encode('ev')).bytes(attestation.oraclePublicKey)
    const record = (rest: Uint8Array) => new WireWriter().tlv(55400, concatBytes(head.finish(), rest)).finish()
    const sig = attestation.signatures[0]!
    expect(malformedMessage(() => decodeOracleAttestation(record(concatBytes(hexToBytes('0002'), sig, sig, hexToBytes('01610162')))))).toMatch(/exactly 1 signature, found 2/)
    expect(malformedMessage(() => decodeOracleAttestation(record(concatBytes(hexToBytes('0000')))))).toMatch(/exactly 1 signature, found 0/)
    expect(malformedMessage(() => decodeOracleAttestation(record(concatBytes(hexToBytes('0001'), sig, hexToBytes('0002016101')))))).toMatch(/2 outcomes for 1 signature/)
    // rust-dlc form accepted: same attestation as the spec form.
    expect(decodeOracleAttestation(record(concatBytes(hexToBytes('0001'), sig, hexToBytes('00010161')))).outcomes).toEqual(['a'])
    expect(decodeOracleAttestation(record(concatBytes(hexToBytes('0001'), sig, hexToBytes('0161')))).outcomes).toEqual(['a'])
  })

  it('encoders refuse objects outside what the decoders accept', () => {
    const bad: [string, OracleAnnouncement | OracleAttestation, 'announcement' | 'attestation'][] = [
      ['short signature', { ...announcement, signature: announcement.signature.subarray(1) }, 'announcement'],
      ['two nonces', { ...announcement, event: { ...announcement.event, nonces: [announcement.event.nonces[0]!, announcement.event.nonces[0]!] } }, 'announcement'],
      ['maturity beyond u32', { ...announcement, event: { ...announcement.event, maturity: 2 ** 32 } }, 'announcement'],
      ['non-NFC outcome', { ...announcement, event: { ...announcement.event, outcomes: ['e\u0301', 'b'] } }, 'announcement'],
      ['too many outcomes', { ...announcement, event: { ...announcement.event, outcomes: Array.from({ length: MAX_OUTCOMES + 1 }, (_, i) => `${i}`) } }, 'announcement'],
      ['two signatures', { ...attestation, signatures: [attestation.signatures[0]!, attestation.signatures[0]!], outcomes: ['yes', 'no'] }, 'attestation'],
      ['long event id', { ...attestation, eventId: 'x'.repeat(MAX_EVENT_ID_BYTES + 1) }, 'attestation'],
      ['short key', { ...attestation, oraclePublicKey: new Uint8Array(31) }, 'attestation'],
    ]
    for (const [name, value, kind] of bad) {
      const message = (kind === 'announcement' ? { kind, announcement: value } : { kind, attestation: value }) as OracleMessage
      expect(codeOf(() => encodeOracleMessage(message), DlcError), name).toBe('malformed')
    }
  })

  it('signs the exact bytes it encodes: the event TLV is what the announcement signature covers', () => {
    const eventBytes = encodeOracleEvent(announcement.event)
    expect(bytesToHex(announcementBytes)).toContain(bytesToHex(eventBytes))
    expect(bytesToHex(eventBytes.subarray(0, 3))).toBe('fdd822')
  })
})

describe('fuzz: bad bytes only ever raise DlcError(malformed)', () => {
  const seeds: Uint8Array[] = [
    hexToBytes(PRODUCTION_ANNOUNCEMENT_HEX),
    hexToBytes(PRODUCTION_ATTESTATION_HEX),
    hexToBytes(NODE_DLC_ENUM_ANNOUNCEMENT_HEX),
    hexToBytes(NODE_DLC_ATTESTATION_HEX),
    encodeOracleAnnouncement(oracle(['up', 'down', 'flat']).announcement),
  ]
  const stats = { decoded: 0, refused: 0 }

  /** Decodes with every decoder; whatever decodes must re-encode canonically and verify or fail with a DlcError only. */
  function probe(bytes: Uint8Array): void {
    let message: OracleMessage | undefined
    try {
      message = decodeOracleMessage(bytes)
    } catch (error) {
      expect(error).toBeInstanceOf(DlcError)
      expect((error as DlcError).code).toBe('malformed')
    }
    for (const decode of [decodeOracleAnnouncement, decodeOracleAttestation]) {
      try {
        decode(bytes)
      } catch (error) {
        expect(error).toBeInstanceOf(DlcError)
        expect((error as DlcError).code).toBe('malformed')
      }
    }
    if (message === undefined) {
      stats.refused++
      return
    }
    stats.decoded++
    const reencoded = encodeOracleMessage(message)
    if (message.kind === 'announcement') expect(reencoded).toEqual(bytes)
    else expect(decodeOracleMessage(reencoded)).toEqual(message)
    try {
      if (message.kind === 'announcement') verifyOracleAnnouncement(message.announcement)
      else verifyAttestationSignatures(message.attestation)
    } catch (error) {
      expect(error).toBeInstanceOf(DlcError)
    }
  }

  it('survives every truncation, single-byte mutation and extension of valid messages', () => {
    const next = rng(42)
    for (const seed of seeds) {
      for (let length = 0; length < seed.length; length++) probe(seed.subarray(0, length))
      for (let i = 0; i < seed.length; i++) {
        for (const value of [0x00, 0xff, 0xfd, Math.floor(next() * 256)]) {
          const mutated = seed.slice()
          mutated[i] = value
          probe(mutated)
        }
      }
      for (let n = 1; n <= 9; n++) probe(concatBytes(seed, randomBytes(next, n)))
      for (const other of seeds) probe(concatBytes(seed, other))
    }
    // Mutations inside signatures, keys and nonces decode fine and are then refused by verification.
    expect(stats.decoded).toBeGreaterThan(100)
    expect(stats.refused).toBeGreaterThan(1000)
  })

  it('survives random byte strings, with and without a plausible record header', () => {
    const next = rng(1234)
    for (let i = 0; i < 3000; i++) {
      const body = randomBytes(next, Math.floor(next() * 300))
      const roll = next()
      if (roll < 0.33) probe(body)
      else {
        const type = roll < 0.66 ? 55332 : 55400
        probe(concatBytes(encodeBigSize(type), encodeBigSize(body.length), body))
      }
    }
  })
})
