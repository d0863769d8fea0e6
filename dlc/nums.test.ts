import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { NUMS_INTERNAL_KEY } from './nums.js'

describe('NUMS internal key', () => {
  it('is the H of BIP-341, a valid x-only point', () => {
    expect(bytesToHex(NUMS_INTERNAL_KEY)).toBe('50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0')
    expect(() => schnorr.utils.lift_x(BigInt(`0x${bytesToHex(NUMS_INTERNAL_KEY)}`))).not.toThrow()
  })
})
