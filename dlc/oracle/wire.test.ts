import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { DlcError } from '../errors.js'
import { encodeBigSize, WireReader, WireWriter, wireStringBytes } from './wire.js'

function expectMalformed(fn: () => unknown, message: RegExp): void {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(DlcError)
    expect((error as DlcError).code).toBe('malformed')
    expect((error as DlcError).message).toMatch(message)
    return
  }
  expect.unreachable('expected DlcError(malformed)')
}

describe('bigsize (BOLT #1 appendix A test vectors)', () => {
  const vectors: [number, string][] = [
    [0, '00'],
    [252, 'fc'],
    [253, 'fd00fd'],
    [65535, 'fdffff'],
    [65536, 'fe00010000'],
    [4294967295, 'feffffffff'],
    [4294967296, 'ff0000000100000000'],
  ]

  it.each(vectors)('%d ⇄ %s', (value, hex) => {
    expect(bytesToHex(encodeBigSize(value))).toBe(hex)
    const reader = new WireReader(hexToBytes(hex), 'test')
    expect(reader.bigsize('n')).toBe(value)
    reader.end()
  })

  it.each(['fd00fc', 'fe0000ffff', 'ff00000000ffffffff'])('refuses the non-canonical %s', (hex) => {
    expectMalformed(() => new WireReader(hexToBytes(hex), 'test').bigsize('n'), /non-canonical/)
  })

  it.each(['', 'fd', 'fd00', 'feffff', 'ffffffffff'])('refuses the truncated %s', (hex) => {
    expectMalformed(() => new WireReader(hexToBytes(hex), 'test').bigsize('n'), /truncated/)
  })

  it('refuses values beyond a safe integer (here every bigsize is a type or a length)', () => {
    expectMalformed(() => new WireReader(hexToBytes('ffffffffffffffffff'), 'test').bigsize('n'), /too large/)
  })

  it('peeking does not consume', () => {
    const reader = new WireReader(hexToBytes('fdd82400'), 'test')
    expect(reader.peekBigSize('type')).toBe(55332)
    expect(reader.bigsize('type')).toBe(55332)
    expect(reader.u8('rest')).toBe(0)
  })
})

describe('string', () => {
  it('round-trips UTF-8 with a bigsize length', () => {
    const bytes = new WireWriter().string(wireStringBytes('héllo ☀', 'outcome', 100)).finish()
    expect(bytesToHex(bytes)).toBe('0a68c3a96c6c6f20e29880')
    const reader = new WireReader(bytes, 'test')
    expect(reader.string('outcome', 100)).toBe('héllo ☀')
    reader.end()
  })

  it('refuses invalid UTF-8, non-NFC text and over-long strings on decode', () => {
    expectMalformed(() => new WireReader(hexToBytes('02c328'), 'test').string('outcome', 10), /not valid UTF-8/)
    // "e" + combining acute accent: valid UTF-8, but NFC spells it as one code point.
    expectMalformed(() => new WireReader(hexToBytes('0365cc81'), 'test').string('outcome', 10), /NFC/)
    expectMalformed(() => new WireReader(hexToBytes('0b68656c6c6f20776f726c64'), 'test').string('outcome', 10), /more than 10/)
    expectMalformed(() => new WireReader(hexToBytes('0568656c6c'), 'test').string('outcome', 10), /truncated outcome/)
  })

  it('refuses to encode what it would not decode', () => {
    expectMalformed(() => wireStringBytes('e\u0301', 'outcome', 10), /NFC/)
    expectMalformed(() => wireStringBytes('a\ud800', 'outcome', 10), /well-formed/)
    expectMalformed(() => wireStringBytes('x'.repeat(11), 'outcome', 10), /more than 10/)
  })

  it('keeps a leading byte-order mark (no silent stripping, so encodings stay one-to-one)', () => {
    const reader = new WireReader(hexToBytes('04efbbbf41'), 'test')
    expect(reader.string('outcome', 10)).toBe('\ufeffA')
  })
})

describe('TLV records', () => {
  it('reads exactly the announced length and requires it consumed', () => {
    const record = new WireWriter().tlv(55302, hexToBytes('0102')).finish()
    expect(bytesToHex(record)).toBe('fdd806020102')
    const inner = new WireReader(record, 'test').tlv(55302, 'descriptor')
    expect(inner.u8('a')).toBe(1)
    expectMalformed(() => inner.end(), /1 unexpected trailing bytes/)
  })

  it('refuses another type and a length running past the end', () => {
    expectMalformed(() => new WireReader(hexToBytes('fdd80600'), 'test').tlv(55330, 'oracle_event'), /expected oracle_event \(type 55330\), found type 55302/)
    expectMalformed(() => new WireReader(hexToBytes('fdd8060301'), 'test').tlv(55302, 'descriptor'), /runs past the end/)
  })
})
