import { keccak_256 } from '@noble/hashes/sha3.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'

export function keccak256(...parts: Uint8Array[]): Uint8Array {
  return keccak_256(parts.length === 1 ? parts[0]! : concatBytes(...parts))
}

/**
 * Domain-separated digest: keccak256(len(tag) ‖ tag ‖ parts…). The one-byte length prefix
 * keeps tags from running into the data; a tag names what is signed, so a signature made for
 * one purpose never verifies for another.
 */
export function taggedKeccak256(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const tagBytes = utf8ToBytes(tag)
  if (tagBytes.length > 255) throw new RangeError('domain tag too long')
  return keccak256(new Uint8Array([tagBytes.length]), tagBytes, ...parts)
}

export function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value)
  return out
}
