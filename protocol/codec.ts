import { decode, encode } from 'cborg'
import { equalBytes } from '@noble/curves/utils.js'
import { ProtocolError } from './errors.js'

/**
 * Deterministic CBOR (RFC 8949 core deterministic encoding, as cborg emits it by default:
 * shortest integers, sorted map keys, definite lengths). Messages are CBOR arrays whose
 * first element is a format version; decoding re-encodes and compares, so every message has
 * exactly one byte form and content-hash message ids cannot be dodged by re-encoding.
 */

// No `strict`: cborg's strict mode throws on over-long integers and lengths, which would report
// valid-but-non-canonical CBOR as 'malformed'. The re-encode comparison below rejects those
// byte forms anyway, and labels them 'non_canonical'.
const DECODE_OPTIONS = {
  allowUndefined: false,
  allowIndefinite: false,
  allowNaN: false,
  allowInfinity: false,
  rejectDuplicateMapKeys: true,
  useMaps: false,
} as const

export type CborValue = number | bigint | string | boolean | null | Uint8Array | CborValue[] | { [key: string]: CborValue }

export function encodeCanonical(value: CborValue): Uint8Array {
  return encode(value)
}

/** Decodes `bytes` (at most `maxBytes`) and insists that they are the canonical encoding. */
export function decodeCanonical(bytes: Uint8Array, maxBytes: number, what: string): unknown {
  if (bytes.length > maxBytes) throw new ProtocolError('oversize', `${what}: ${bytes.length} bytes exceeds limit ${maxBytes}`)
  let value: unknown
  try {
    value = decode(bytes, DECODE_OPTIONS)
  } catch (err) {
    throw new ProtocolError('malformed', `${what}: invalid CBOR (${(err as Error).message})`)
  }
  let again: Uint8Array
  try {
    again = encode(value)
  } catch {
    throw new ProtocolError('malformed', `${what}: holds values outside the message format`)
  }
  if (!equalBytes(again, bytes)) throw new ProtocolError('non_canonical', `${what}: not in canonical encoding`)
  return value
}

/** Reads a versioned tuple `[version, ...fields]` with exactly `arity` fields. */
export function readTuple(value: unknown, version: number, arity: number, what: string): unknown[] {
  if (!Array.isArray(value)) throw new ProtocolError('malformed', `${what}: expected an array`)
  if (value[0] !== version) throw new ProtocolError('unsupported_version', `${what}: unsupported version ${String(value[0])}`)
  if (value.length !== arity + 1) throw new ProtocolError('malformed', `${what}: expected ${arity} fields, got ${value.length - 1}`)
  return value.slice(1)
}

export function readUint(value: unknown, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new ProtocolError('malformed', `${field}: expected an integer 0..${max}`)
  }
  return value
}

/** Reads an unsigned integer that may exceed 2^53 (cborg decodes those as bigint). */
export function readUint64(value: unknown, field: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  if (typeof value === 'bigint' && value >= 0n && value < 1n << 64n) return value
  throw new ProtocolError('malformed', `${field}: expected an unsigned 64-bit integer`)
}

/** Encodes a bigint as the smallest CBOR integer (cborg would otherwise keep small bigints as 64-bit). */
export function uint64(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value
}

export function readBytes(value: unknown, field: string, opts: { exact?: number; max?: number }): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ProtocolError('malformed', `${field}: expected bytes`)
  if (opts.exact !== undefined && value.length !== opts.exact) {
    throw new ProtocolError('malformed', `${field}: expected ${opts.exact} bytes, got ${value.length}`)
  }
  if (opts.max !== undefined && value.length > opts.max) {
    throw new ProtocolError('oversize', `${field}: ${value.length} bytes exceeds limit ${opts.max}`)
  }
  return value
}

export function readString(value: unknown, field: string, maxBytes: number): string {
  if (typeof value !== 'string') throw new ProtocolError('malformed', `${field}: expected a string`)
  if (Buffer.byteLength(value, 'utf8') > maxBytes) throw new ProtocolError('oversize', `${field}: longer than ${maxBytes} bytes`)
  return value
}
