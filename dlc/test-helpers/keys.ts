import { schnorr } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'

/** A secp256k1 key pair for tests: 32-byte secret and 32-byte x-only public key. */
export interface TestKey {
  readonly secretKey: Uint8Array
  readonly publicKey: Uint8Array
}

/**
 * A deterministic key pair derived from `label`. bitcore's Schnorr code mishandles x-only keys
 * whose first byte is zero, so such keys are skipped (the counter moves on): the independent
 * interpreter then never fails a spend because of its own quirk.
 */
export function testKey(label: string): TestKey {
  for (let counter = 0; ; counter++) {
    const secretKey = sha256(utf8ToBytes(`ubtc/dlc/test-key/${label}/${counter}`))
    let publicKey: Uint8Array
    try {
      publicKey = schnorr.getPublicKey(secretKey)
    } catch {
      continue // secret ≥ n or zero: astronomically rare, but the loop handles it
    }
    if (publicKey[0] !== 0) return { secretKey, publicKey }
  }
}

/** `count` keys labelled `${prefix}-0`, `${prefix}-1`, … */
export function testKeys(prefix: string, count: number): TestKey[] {
  return Array.from({ length: count }, (_, i) => testKey(`${prefix}-${i}`))
}
