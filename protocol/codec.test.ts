import { describe, expect, it } from 'vitest'
import {
  decodeCanonical,
  encodeCanonical,
  readBytes,
  readString,
  readTuple,
  readUint,
  readUint64,
  uint64,
  type CborValue,
} from './codec.js'
import { codeOf } from './test-helpers/expect-code.js'


const decode = (bytes: number[] | Uint8Array, max = 1024): unknown =>
  decodeCanonical(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), max, 'test')

describe('encodeCanonical / decodeCanonical', () => {
  it('round-trips every supported value type', () => {
    const value: CborValue = [
      1,
      0,
      23,
      24,
      255,
      256,
      65_535,
      65_536,
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
      -1,
      -1000,
      2n ** 60n,
      2n ** 64n - 1n,
      'héllo',
      '',
      true,
      false,
      null,
      new Uint8Array([0, 1, 2, 255]),
      [],
      [[1, [2]]],
      { b: 1, a: [2], zz: { y: 'x' } },
    ]
    const bytes = encodeCanonical(value)
    const decoded = decodeCanonical(bytes, bytes.length, 'test')
    expect(decoded).toEqual(value)
    // And the decoded value encodes back to the very same bytes.
    expect(encodeCanonical(decoded as CborValue)).toEqual(bytes)
  })

  it('emits shortest integers and sorted map keys regardless of insertion order', () => {
    expect(encodeCanonical(1)).toEqual(new Uint8Array([0x01]))
    expect(encodeCanonical(24)).toEqual(new Uint8Array([0x18, 0x18]))
    expect(encodeCanonical(256)).toEqual(new Uint8Array([0x19, 0x01, 0x00]))
    expect(encodeCanonical({ b: 1, a: 2 })).toEqual(encodeCanonical({ a: 2, b: 1 }))
    expect(encodeCanonical({ b: 1, a: 2 })).toEqual(new Uint8Array([0xa2, 0x61, 0x61, 0x02, 0x61, 0x62, 0x01]))
  })

  it('accepts the canonical bytes of a small integer', () => {
    expect(decode([0x01])).toBe(1)
    expect(decode([0x18, 0x18])).toBe(24)
  })

  it.each([
    ['1 as 0x18 0x01', [0x18, 0x01]],
    ['1 as a 16-bit integer', [0x19, 0x00, 0x01]],
    ['1 as a 32-bit integer', [0x1a, 0x00, 0x00, 0x00, 0x01]],
    ['1 as a 64-bit integer', [0x1b, 0, 0, 0, 0, 0, 0, 0, 0x01]],
    ['255 as a 16-bit integer', [0x19, 0x00, 0xff]],
    ['-1 as 0x38 0x00', [0x38, 0x00]],
    ['array length in a longer form', [0x98, 0x01, 0x01]],
    ['byte string length in a longer form', [0x58, 0x01, 0xaa]],
    ['text string length in a longer form', [0x78, 0x01, 0x61]],
    ['map keys out of order', [0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02]],
    ['map keys out of length-first order', [0xa2, 0x62, 0x61, 0x61, 0x01, 0x61, 0x62, 0x02]],
    ['an integral half-precision float', [0xf9, 0x3c, 0x00]],
  ])('rejects a non-canonical encoding: %s', (_, bytes) => {
    expect(codeOf(() => decode(bytes))).toBe('non_canonical')
  })

  it.each([
    ['indefinite-length array', [0x9f, 0x01, 0xff]],
    ['indefinite-length byte string', [0x5f, 0x41, 0x01, 0xff]],
    ['indefinite-length text string', [0x7f, 0x61, 0x61, 0xff]],
    ['indefinite-length map', [0xbf, 0x61, 0x61, 0x01, 0xff]],
    ['duplicate map key', [0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02]],
    ['undefined', [0xf7]],
    ['NaN', [0xf9, 0x7e, 0x00]],
    ['Infinity', [0xf9, 0x7c, 0x00]],
    ['trailing bytes', [0x01, 0x01]],
    ['truncated input', [0x82, 0x01]],
    ['empty input', []],
    ['an unsupported tag', [0xc1, 0x01]],
    ['garbage', [0xff, 0xff, 0xff]],
  ])('rejects %s as malformed', (_, bytes) => {
    expect(codeOf(() => decode(bytes))).toBe('malformed')
  })

  it('refuses input larger than maxBytes before decoding it', () => {
    const bytes = encodeCanonical(new Uint8Array(100))
    expect(decodeCanonical(bytes, bytes.length, 'test')).toEqual(new Uint8Array(100))
    expect(codeOf(() => decodeCanonical(bytes, bytes.length - 1, 'test'))).toBe('oversize')
    // Even garbage is reported as oversize: the size check comes first.
    expect(codeOf(() => decode(new Uint8Array(11).fill(0xff), 10))).toBe('oversize')
  })

  it('names the message in the error', () => {
    expect(() => decodeCanonical(new Uint8Array([0x18, 0x01]), 10, 'heartbeat')).toThrow(/^heartbeat:/)
  })
})

describe('readTuple', () => {
  it('returns the fields after the version', () => {
    expect(readTuple([1, 'a', 2], 1, 2, 't')).toEqual(['a', 2])
    expect(readTuple([7], 7, 0, 't')).toEqual([])
  })

  it('rejects a different version with unsupported_version', () => {
    expect(codeOf(() => readTuple([2, 'a', 2], 1, 2, 't'))).toBe('unsupported_version')
    expect(codeOf(() => readTuple([0, 'a', 2], 1, 2, 't'))).toBe('unsupported_version')
    expect(codeOf(() => readTuple(['1', 'a', 2], 1, 2, 't'))).toBe('unsupported_version')
  })

  it('rejects the wrong number of fields as malformed', () => {
    expect(codeOf(() => readTuple([1, 'a'], 1, 2, 't'))).toBe('malformed')
    expect(codeOf(() => readTuple([1, 'a', 2, 3], 1, 2, 't'))).toBe('malformed')
  })

  it('rejects non-arrays as malformed', () => {
    for (const v of [{ 0: 1 }, 'abc', 1, null, new Uint8Array([1])]) expect(codeOf(() => readTuple(v, 1, 0, 't'))).toBe('malformed')
  })
})

describe('readUint', () => {
  it('accepts integers within 0..max', () => {
    expect(readUint(0, 10, 'f')).toBe(0)
    expect(readUint(10, 10, 'f')).toBe(10)
  })

  it.each([[11], [-1], [1.5], [Number.NaN], ['1'], [1n], [null], [undefined], [2 ** 53]])('rejects %s', (v) => {
    expect(codeOf(() => readUint(v, v === 2 ** 53 ? Number.MAX_SAFE_INTEGER : 10, 'f'))).toBe('malformed')
  })
})

describe('readUint64 / uint64', () => {
  it('reads safe numbers and bigints below 2^64', () => {
    expect(readUint64(0, 'f')).toBe(0n)
    expect(readUint64(Number.MAX_SAFE_INTEGER, 'f')).toBe(BigInt(Number.MAX_SAFE_INTEGER))
    expect(readUint64(2n ** 64n - 1n, 'f')).toBe(2n ** 64n - 1n)
  })

  it.each([[-1], [-1n], [2n ** 64n], [1.5], ['1'], [null]])('rejects %s', (v) => {
    expect(codeOf(() => readUint64(v, 'f'))).toBe('malformed')
  })

  it('keeps small bigints as numbers so they encode in the shortest form', () => {
    expect(uint64(0n)).toBe(0)
    expect(uint64(5n)).toBe(5)
    expect(uint64(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER)
    expect(typeof uint64(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toBe('bigint')
    expect(encodeCanonical(uint64(5n))).toEqual(new Uint8Array([0x05]))
  })

  it('round-trips 2^60 through the codec', () => {
    const bytes = encodeCanonical([uint64(2n ** 60n), uint64(7n)])
    expect(bytes).toEqual(new Uint8Array([0x82, 0x1b, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x07]))
    const [big, small] = decodeCanonical(bytes, 100, 'test') as unknown[]
    expect(readUint64(big, 'f')).toBe(2n ** 60n)
    expect(readUint64(small, 'f')).toBe(7n)
  })
})

describe('readBytes', () => {
  const b = new Uint8Array([1, 2, 3])

  it('accepts byte strings of the right length', () => {
    expect(readBytes(b, 'f', {})).toBe(b)
    expect(readBytes(b, 'f', { exact: 3 })).toBe(b)
    expect(readBytes(b, 'f', { max: 3 })).toBe(b)
  })

  it('rejects a wrong exact length as malformed and too many bytes as oversize', () => {
    expect(codeOf(() => readBytes(b, 'f', { exact: 2 }))).toBe('malformed')
    expect(codeOf(() => readBytes(b, 'f', { exact: 4 }))).toBe('malformed')
    expect(codeOf(() => readBytes(b, 'f', { max: 2 }))).toBe('oversize')
  })

  it('rejects non-bytes', () => {
    for (const v of ['010203', [1, 2, 3], null, 3]) expect(codeOf(() => readBytes(v, 'f', {}))).toBe('malformed')
  })
})

describe('readString', () => {
  it('limits by UTF-8 bytes, not characters', () => {
    expect(readString('abcd', 'f', 4)).toBe('abcd')
    expect(codeOf(() => readString('abcde', 'f', 4))).toBe('oversize')
    // 'é' is two bytes in UTF-8: three of them are six bytes.
    expect(readString('ééé', 'f', 6)).toBe('ééé')
    expect(codeOf(() => readString('ééé', 'f', 5))).toBe('oversize')
  })

  it('rejects non-strings', () => {
    for (const v of [1, null, new Uint8Array([0x61]), ['a']]) expect(codeOf(() => readString(v, 'f', 10))).toBe('malformed')
  })
})
