import { concatBytes } from '@noble/hashes/utils.js'
import { DlcError } from '../errors.js'

/**
 * The dlcspecs fundamental types (Messaging.md, "Fundamental Types") read and written strictly:
 * big-endian `u16`/`u32`, BOLT #1 `bigsize` in its minimal form only, and `string` = bigsize byte
 * length ‖ UTF-8 (NFC). Every decoding failure is a DlcError('malformed') whose message names the
 * field, so a peer's bad bytes never surface as a RangeError or a TypeError.
 */

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

export function malformed(message: string): DlcError {
  return new DlcError('malformed', message)
}

/**
 * UTF-8 bytes of a string the wire may carry: well-formed (no lone surrogates, which TextEncoder
 * would silently turn into U+FFFD) and NFC-normalised as dlcspecs requires, so that decode(encode(s))
 * is s and two spellings of one outcome cannot both exist.
 */
export function wireStringBytes(value: string, field: string, maxBytes: number): Uint8Array {
  const bytes = utf8Encoder.encode(value)
  if (utf8Decoder.decode(bytes) !== value) throw malformed(`${field} is not well-formed Unicode`)
  if (value.normalize('NFC') !== value) throw malformed(`${field} is not NFC-normalised`)
  if (bytes.length > maxBytes) throw malformed(`${field} is ${bytes.length} bytes, more than ${maxBytes}`)
  return bytes
}

/** A cursor over one byte string; each read checks the bytes are there first. */
export class WireReader {
  readonly #bytes: Uint8Array
  readonly #context: string
  #offset = 0

  constructor(bytes: Uint8Array, context: string) {
    this.#bytes = bytes
    this.#context = context
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset
  }

  fail(message: string): DlcError {
    return malformed(`${this.#context}: ${message}`)
  }

  /** Copies, so decoded objects never alias the caller's buffer. */
  bytes(length: number, field: string): Uint8Array {
    if (length > this.remaining) throw this.fail(`truncated ${field} (needs ${length} bytes, ${this.remaining} left)`)
    const out = this.#bytes.slice(this.#offset, this.#offset + length)
    this.#offset += length
    return out
  }

  peekByte(field: string): number {
    if (this.remaining < 1) throw this.fail(`truncated ${field}`)
    return this.#bytes[this.#offset]!
  }

  u8(field: string): number {
    return this.bytes(1, field)[0]!
  }

  u16(field: string): number {
    const b = this.bytes(2, field)
    return (b[0]! << 8) | b[1]!
  }

  u32(field: string): number {
    const b = this.bytes(4, field)
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0
  }

  /**
   * BOLT #1 BigSize. Non-minimal encodings are refused (the BOLT test vectors call them
   * "decoded bigsize is not canonical"), so each value has exactly one encoding. Values that do
   * not fit a safe integer are refused too: here every bigsize is a type or a length.
   */
  bigsize(field: string): number {
    const first = this.u8(field)
    if (first < 0xfd) return first
    if (first === 0xfd) {
      const value = this.u16(field)
      if (value < 0xfd) throw this.fail(`${field}: non-canonical bigsize`)
      return value
    }
    if (first === 0xfe) {
      const value = this.u32(field)
      if (value < 0x10000) throw this.fail(`${field}: non-canonical bigsize`)
      return value
    }
    const high = this.u32(field)
    const low = this.u32(field)
    if (high === 0) throw this.fail(`${field}: non-canonical bigsize`)
    if (high > 0x1fffff) throw this.fail(`${field}: bigsize too large`)
    return high * 0x1_0000_0000 + low
  }

  /** The next bigsize (a record's type), without consuming it. */
  peekBigSize(field: string): number {
    const start = this.#offset
    try {
      return this.bigsize(field)
    } finally {
      this.#offset = start
    }
  }

  /** dlcspecs `string`: bigsize byte length ‖ UTF-8, NFC-normalised, at most `maxBytes`. */
  string(field: string, maxBytes: number): string {
    const length = this.bigsize(`${field} length`)
    if (length > maxBytes) throw this.fail(`${field} is ${length} bytes, more than ${maxBytes}`)
    const raw = this.bytes(length, field)
    let value: string
    try {
      value = utf8Decoder.decode(raw)
    } catch {
      throw this.fail(`${field} is not valid UTF-8`)
    }
    if (value.normalize('NFC') !== value) throw this.fail(`${field} is not NFC-normalised`)
    return value
  }

  /**
   * One TLV record of the expected type: returns a reader over exactly its value, which the caller
   * must consume entirely (`end`). A length running past the enclosing bytes is refused.
   */
  tlv(expectedType: number, name: string): WireReader {
    const type = this.bigsize(`${name} type`)
    if (type !== expectedType) throw this.fail(`expected ${name} (type ${expectedType}), found type ${type}`)
    const length = this.bigsize(`${name} length`)
    if (length > this.remaining) throw this.fail(`${name} length ${length} runs past the end (${this.remaining} bytes left)`)
    return new WireReader(this.bytes(length, name), name)
  }

  end(): void {
    if (this.remaining !== 0) throw this.fail(`${this.remaining} unexpected trailing bytes`)
  }
}

/** Collects the pieces of one encoding. Callers validate values before writing them. */
export class WireWriter {
  readonly #parts: Uint8Array[] = []

  bytes(value: Uint8Array): this {
    this.#parts.push(value.slice())
    return this
  }

  u16(value: number): this {
    this.#parts.push(Uint8Array.of(value >>> 8, value & 0xff))
    return this
  }

  u32(value: number): this {
    this.#parts.push(Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff))
    return this
  }

  bigsize(value: number): this {
    this.#parts.push(encodeBigSize(value))
    return this
  }

  /** `string`: the caller passes bytes from `wireStringBytes` (already checked). */
  string(utf8: Uint8Array): this {
    return this.bigsize(utf8.length).bytes(utf8)
  }

  /** A nested TLV record: bigsize type ‖ bigsize length ‖ value. */
  tlv(type: number, value: Uint8Array): this {
    return this.bigsize(type).bigsize(value.length).bytes(value)
  }

  finish(): Uint8Array {
    return concatBytes(...this.#parts)
  }
}

/** Minimal BOLT #1 BigSize of a safe non-negative integer. */
export function encodeBigSize(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bigsize out of range: ${value}`)
  if (value < 0xfd) return Uint8Array.of(value)
  if (value <= 0xffff) return Uint8Array.of(0xfd, value >>> 8, value & 0xff)
  if (value <= 0xffff_ffff) return Uint8Array.of(0xfe, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff)
  const high = Math.floor(value / 0x1_0000_0000)
  const low = value % 0x1_0000_0000
  return Uint8Array.of(0xff, high >>> 24, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff, low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff)
}
