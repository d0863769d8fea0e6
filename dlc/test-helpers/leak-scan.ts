import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'

/**
 * Searches for a secret key in objects, bytes and text. A BIP-340 signer may use the secret d or
 * its negation n − d (odd-y keys), so both are searched, as raw bytes and in the textual forms a
 * log line or a JSON document could carry them: hex (either case), base64, and decimal byte
 * lists (JSON's form of a Uint8Array, or a plain array).
 */

/** The byte forms of a secret: d and n − d. */
export function secretForms(secret: Uint8Array): Uint8Array[] {
  const Fn = secp256k1.Point.Fn
  return [Uint8Array.from(secret), Fn.toBytes(Fn.neg(Fn.fromBytes(secret)))]
}

/** The textual forms of a secret's byte forms: hex (either case), base64. */
export function secretTexts(secret: Uint8Array): string[] {
  return secretForms(secret).flatMap((b) => [bytesToHex(b), bytesToHex(b).toUpperCase(), Buffer.from(b).toString('base64')])
}

/**
 * The byte sequences spelled as decimal numbers in a text: the values of JSON's form of a
 * Uint8Array (`{"0":12,"1":34,…}`), and every run of numbers of a plain array (`[12,34,…]`).
 */
function decimalSequences(text: string): Uint8Array[] {
  const typed = [...text.matchAll(/"\d+":(\d{1,3})(?!\d)/g)].map((m) => Number(m[1]))
  const plain = [...text.matchAll(/\d{1,3}(?:,\d{1,3})+/g)].map((m) => m[0].split(',').map(Number))
  return [typed, ...plain].map((values) => Uint8Array.from(values.filter((v) => v <= 255)))
}

/** True when `needle` occurs in `haystack` as a contiguous run. */
export function bytesContain(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

/** True when the text (a log, a JSON document) carries the secret in any textual form. */
export function textContainsSecret(text: string, secret: Uint8Array): boolean {
  const compact = text.replace(/\s+/g, '')
  if (secretTexts(secret).some((form) => compact.includes(form))) return true
  const sequences = decimalSequences(compact)
  return secretForms(secret).some((form) => sequences.some((seq) => bytesContain(seq, form)))
}

/** True when the bytes carry the secret raw or in a textual form (ASCII/UTF-8). */
export function bytesContainSecret(bytes: Uint8Array, secret: Uint8Array): boolean {
  if (secretForms(secret).some((form) => bytesContain(bytes, form))) return true
  return textContainsSecret(new TextDecoder('utf-8', { fatal: false }).decode(bytes), secret)
}

/**
 * Walks a value deeply (own properties, including non-enumerable and symbol-keyed ones; arrays,
 * typed arrays, Maps, Sets) and returns the paths where the secret appears: in any byte array or
 * string. `#private` fields are out of reach by design, which is the point being tested.
 */
export function findSecret(value: unknown, secret: Uint8Array, path = '$', seen = new Set<object>()): string[] {
  if (typeof value === 'string') return textContainsSecret(value, secret) ? [path] : []
  if (typeof value === 'bigint') {
    const hex = value.toString(16).padStart(64, '0')
    return secretTexts(secret).includes(hex) ? [path] : []
  }
  if (value === null || typeof value !== 'object') return []
  if (seen.has(value)) return []
  seen.add(value)
  if (ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    // a view may be a window on a larger buffer: scan the whole buffer
    const whole = new Uint8Array(value.buffer)
    return bytesContainSecret(bytes, secret) || bytesContainSecret(whole, secret) ? [path] : []
  }
  const found: string[] = []
  if (value instanceof Map) {
    for (const [k, v] of value) found.push(...findSecret(k, secret, `${path}<key>`, seen), ...findSecret(v, secret, `${path}.get(${String(k)})`, seen))
  }
  if (value instanceof Set) for (const v of value) found.push(...findSecret(v, secret, `${path}<member>`, seen))
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    const v = descriptor !== undefined && 'value' in descriptor ? descriptor.value : (value as Record<PropertyKey, unknown>)[key]
    found.push(...findSecret(v, secret, `${path}.${String(key)}`, seen))
  }
  return found
}
