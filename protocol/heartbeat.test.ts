import { describe, expect, it } from 'vitest'
import { encodeCanonical, type CborValue } from './codec.js'
import { MAX_PAYLOAD_BYTES, MessageKind } from './envelope.js'
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from './heartbeat.js'
import { codeOf } from './test-helpers/expect-code.js'

const PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

const hb: Heartbeat = {
  name: 'guardian-0',
  version: '0.1.0',
  height: 812_345n,
  peerCount: 6,
  timestampMs: 1_700_000_000_000,
  peerId: PEER,
}


/** The heartbeat tuple with one field replaced (index 0 is the format version). */
function tuple(overrides: Record<number, CborValue> = {}): CborValue[] {
  const t: CborValue[] = [1, hb.name, hb.version, Number(hb.height), hb.peerCount, hb.timestampMs, hb.peerId]
  for (const [i, v] of Object.entries(overrides)) t[Number(i)] = v
  return t
}

describe('heartbeat codec', () => {
  it('round-trips', () => {
    const bytes = encodeHeartbeat(hb)
    expect(decodeHeartbeat(bytes)).toEqual(hb)
    expect(encodeHeartbeat(decodeHeartbeat(bytes))).toEqual(bytes)
  })

  it('round-trips heights above 2^53 as bigint, and the edges of the range', () => {
    for (const height of [0n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 60n + 7n, 2n ** 64n - 1n]) {
      const decoded = decodeHeartbeat(encodeHeartbeat({ ...hb, height }))
      expect(decoded.height).toBe(height)
      expect(typeof decoded.height).toBe('bigint')
    }
  })

  it('encodes small heights in the shortest integer form, so the encoding is canonical', () => {
    // A height below 2^53 goes out as a plain CBOR integer, identical to encoding the number.
    expect(encodeHeartbeat(hb)).toEqual(encodeCanonical(tuple()))
  })

  it('cannot carry a height of 2^64 or more: plain CBOR integers stop at 2^64 − 1, and bignum tags are refused', () => {
    expect(() => encodeHeartbeat({ ...hb, height: 2n ** 64n })).toThrow()
    // Tag 2 (unsigned bignum) holding 2^64, in place of the height.
    const bytes = encodeHeartbeat(hb)
    const heightAt = bytes.indexOf(0x1a, 2) // 812345 is a 32-bit integer: 0x1a + 4 bytes
    expect(heightAt).toBeGreaterThan(0)
    const bignum = [0xc2, 0x49, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]
    const crafted = new Uint8Array([...bytes.subarray(0, heightAt), ...bignum, ...bytes.subarray(heightAt + 5)])
    expect(codeOf(() => decodeHeartbeat(crafted))).toBe('malformed')
  })

  it('rejects a name or version longer than 64 bytes, and a peer id longer than 128, as oversize', () => {
    expect(decodeHeartbeat(encodeHeartbeat({ ...hb, name: 'n'.repeat(64) })).name).toBe('n'.repeat(64))
    expect(codeOf(() => decodeHeartbeat(encodeHeartbeat({ ...hb, name: 'n'.repeat(65) })))).toBe('oversize')
    // 33 two-byte characters: 33 characters but 66 bytes.
    expect(codeOf(() => decodeHeartbeat(encodeHeartbeat({ ...hb, name: 'é'.repeat(33) })))).toBe('oversize')
    expect(codeOf(() => decodeHeartbeat(encodeHeartbeat({ ...hb, version: 'v'.repeat(65) })))).toBe('oversize')
    expect(codeOf(() => decodeHeartbeat(encodeHeartbeat({ ...hb, peerId: 'p'.repeat(129) })))).toBe('oversize')
  })

  it('rejects a payload over the heartbeat limit as oversize', () => {
    const limit = MAX_PAYLOAD_BYTES[MessageKind.Heartbeat]
    const bytes = encodeCanonical(tuple({ 2: 'v'.repeat(limit) }))
    expect(bytes.length).toBeGreaterThan(limit)
    expect(codeOf(() => decodeHeartbeat(bytes))).toBe('oversize')
  })

  it.each([
    ['name as a number', { 1: 7 }],
    ['version as bytes', { 2: new Uint8Array([1]) }],
    ['height as a string', { 3: '812345' }],
    ['negative height', { 3: -1 }],
    ['peerCount as a string', { 4: '6' }],
    ['peerCount above 10000', { 4: 10_001 }],
    ['negative timestamp', { 5: -1 }],
    ['fractional timestamp', { 5: 1.5 }],
    ['timestamp as a bigint above 2^53', { 5: 2n ** 60n }],
    ['timestamp as null', { 5: null }],
    ['peerId as an array', { 6: ['x'] }],
  ])('rejects %s as malformed', (_, overrides) => {
    expect(codeOf(() => decodeHeartbeat(encodeCanonical(tuple(overrides))))).toBe('malformed')
  })

  it('rejects the wrong arity, a map instead of a tuple, and garbage as malformed', () => {
    expect(codeOf(() => decodeHeartbeat(encodeCanonical(tuple().slice(0, 6))))).toBe('malformed')
    expect(codeOf(() => decodeHeartbeat(encodeCanonical([...tuple(), 'extra'])))).toBe('malformed')
    expect(codeOf(() => decodeHeartbeat(encodeCanonical({ name: hb.name })))).toBe('malformed')
    expect(codeOf(() => decodeHeartbeat(new Uint8Array([0xff, 0x00, 0x13])))).toBe('malformed')
  })

  it('rejects another format version', () => {
    expect(codeOf(() => decodeHeartbeat(encodeCanonical(tuple({ 0: 2 }))))).toBe('unsupported_version')
  })

  it('rejects a non-canonical encoding of a valid heartbeat', () => {
    const bytes = encodeHeartbeat(hb)
    // bytes[0] is the array header 0x87, bytes[1] the version 0x01; re-encode the version as 0x18 0x01.
    expect(bytes[0]).toBe(0x87)
    expect(bytes[1]).toBe(0x01)
    const longer = new Uint8Array([0x87, 0x18, 0x01, ...bytes.subarray(2)])
    expect(codeOf(() => decodeHeartbeat(longer))).toBe('non_canonical')
  })
})
