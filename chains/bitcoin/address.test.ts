import { networks, payments } from 'bitcoinjs-lib'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import type { BitcoinNetwork } from '../../protocol/index.js'
import { BitcoinError, decodeAddress, p2trAddress, p2trScript, taprootOutputKey } from './index.js'
import { frostDkg } from '../../testnet/local-frost.js'

const NETWORKS: readonly BitcoinNetwork[] = ['mainnet', 'testnet', 'regtest']
const PREFIX = { mainnet: 'bc', testnet: 'tb', regtest: 'bcrt' } as const

/** BIP-341 computed with noble only: Q = lift_x(P) + int(hashTapTweak(P ‖ root))·G. */
function nobleOutputKey(internal: Uint8Array, merkleRoot?: Uint8Array): { outputKey: Uint8Array; parity: 0 | 1 } {
  const P = schnorr.utils.lift_x(secp256k1.Point.Fn.fromBytes(internal)) as InstanceType<typeof secp256k1.Point>
  const t = secp256k1.Point.Fn.fromBytes(schnorr.utils.taggedHash('TapTweak', internal, ...(merkleRoot ? [merkleRoot] : [])))
  const Q = P.add(secp256k1.Point.BASE.multiply(t)).toBytes(true)
  return { outputKey: Q.slice(1), parity: Q[0] === 0x03 ? 1 : 0 }
}

function randomXOnly(): Uint8Array {
  return schnorr.getPublicKey(schnorr.utils.randomSecretKey())
}

// A small independent bech32/bech32m encoder (BIP-173/350), to build addresses our decoder must refuse.
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
function polymod(values: number[]): number {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
  let chk = 1
  for (const v of values) {
    const top = chk >>> 25
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GEN[i]!) >>> 0
  }
  return chk
}
function bech32Encode(hrp: string, version: number, program: Uint8Array, variant: 'bech32' | 'bech32m'): string {
  const words = [version]
  let acc = 0
  let bits = 0
  for (const byte of program) {
    acc = (acc << 8) | byte
    bits += 8
    while (bits >= 5) {
      bits -= 5
      words.push((acc >>> bits) & 31)
    }
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31)
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)]
  const mod = polymod([...expanded, ...words, 0, 0, 0, 0, 0, 0]) ^ (variant === 'bech32' ? 1 : 0x2bc830a3)
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31)
  return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(BitcoinError)
    return (err as BitcoinError).code
  }
  throw new Error('expected a BitcoinError')
}

describe('taprootOutputKey (BIP-341)', () => {
  it('matches the BIP-86 vector (m/86h/0h/0h/0/0 of "abandon … about")', () => {
    const internal = hexToBytes('cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115')
    const { outputKey } = taprootOutputKey(internal)
    expect(bytesToHex(outputKey)).toBe('a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c')
    expect(p2trAddress(outputKey, 'mainnet')).toBe('bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr')
  })

  it('matches an independent noble computation, with and without a merkle root', () => {
    for (let i = 0; i < 20; i++) {
      const internal = randomXOnly()
      const root = schnorr.utils.randomSecretKey()
      expect(taprootOutputKey(internal)).toEqual(nobleOutputKey(internal))
      expect(taprootOutputKey(internal, root)).toEqual(nobleOutputKey(internal, root))
      expect(taprootOutputKey(internal, new Uint8Array(0))).toEqual(nobleOutputKey(internal))
    }
  })

  it('agrees with bitcoinjs payments.p2tr for the key-path-only output and address', () => {
    for (const network of NETWORKS) {
      const internal = randomXOnly()
      const { outputKey } = taprootOutputKey(internal)
      const btcNetwork = { mainnet: 'bitcoin', testnet: 'testnet', regtest: 'regtest' } as const
      const payment = payments.p2tr({ internalPubkey: internal, network: networks[btcNetwork[network]] })
      expect(bytesToHex(payment.pubkey!)).toBe(bytesToHex(outputKey))
      expect(payment.address).toBe(p2trAddress(outputKey, network))
      expect(bytesToHex(payment.output!)).toBe(bytesToHex(p2trScript(outputKey)))
    }
  })

  it('gives the key of a noble schnorr_FROST 3-of-5 DKG: x(Q) of the DKG equals taprootOutputKey(x(sum of commitment[0]))', () => {
    // Run DKGs until both parities of the internal key P have been seen (BIP-341 lifts x(P) to even y).
    const seen = new Set<number>()
    for (let run = 0; run < 64 && seen.size < 2; run++) {
      const group = frostDkg(3, 5)
      expect(group.keys).toHaveLength(5)
      seen.add(group.internalKey[0]!)
      const { outputKey, parity } = taprootOutputKey(group.internalKey.slice(1))
      expect(bytesToHex(outputKey)).toBe(bytesToHex(group.outputKey.slice(1)))
      expect(parity).toBe(group.outputKey[0] === 0x03 ? 1 : 0)
    }
    expect([...seen].sort()).toEqual([0x02, 0x03])
  })

  it('refuses keys that are not curve points and roots that are not 32 bytes', () => {
    expect(codeOf(() => taprootOutputKey(new Uint8Array(31)))).toBe('bad_address')
    expect(codeOf(() => taprootOutputKey(new Uint8Array(32).fill(0xff)))).toBe('bad_address')
    expect(codeOf(() => taprootOutputKey(randomXOnly(), new Uint8Array(31)))).toBe('bad_address')
    expect(codeOf(() => p2trScript(new Uint8Array(33)))).toBe('bad_address')
    expect(codeOf(() => p2trAddress(new Uint8Array(32), 'mainnet'))).toBe('bad_address')
  })
})

describe('p2trScript / p2trAddress / decodeAddress', () => {
  it('encodes OP_1 <32 bytes> and bech32m addresses with bc / tb / bcrt, and decodes them back', () => {
    const key = randomXOnly()
    expect(bytesToHex(p2trScript(key))).toBe(`5120${bytesToHex(key)}`)
    for (const network of NETWORKS) {
      const address = p2trAddress(key, network)
      expect(address.startsWith(`${PREFIX[network]}1p`)).toBe(true)
      expect(address).toBe(bech32Encode(PREFIX[network], 1, key, 'bech32m'))
      const decoded = decodeAddress(address, network)
      expect(decoded).toMatchObject({ network, version: 1, type: 'p2tr' })
      expect(bytesToHex(decoded.program)).toBe(bytesToHex(key))
      expect(bytesToHex(decoded.scriptPubKey)).toBe(bytesToHex(p2trScript(key)))
      expect(decodeAddress(address.toUpperCase()).network).toBe(network)
    }
  })

  it('decodes the BIP-173 / BIP-350 example addresses', () => {
    const p2wpkh = decodeAddress('BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4', 'mainnet')
    expect(p2wpkh).toMatchObject({ network: 'mainnet', version: 0, type: 'p2wpkh' })
    expect(bytesToHex(p2wpkh.scriptPubKey)).toBe('0014751e76e8199196d454941c45d1b3a323f1433bd6')
    const p2wsh = decodeAddress('tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7')
    expect(p2wsh).toMatchObject({ network: 'testnet', version: 0, type: 'p2wsh' })
    expect(bytesToHex(p2wsh.scriptPubKey)).toBe('00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262')
    const p2tr = decodeAddress('bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0')
    expect(bytesToHex(p2tr.scriptPubKey)).toBe('512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798')
  })

  it('decodes P2WPKH and P2WSH on every network', () => {
    for (const network of NETWORKS) {
      const hash20 = new Uint8Array(20).fill(7)
      const hash32 = new Uint8Array(32).fill(9)
      expect(decodeAddress(bech32Encode(PREFIX[network], 0, hash20, 'bech32'), network)).toMatchObject({ network, type: 'p2wpkh', version: 0 })
      expect(decodeAddress(bech32Encode(PREFIX[network], 0, hash32, 'bech32'), network)).toMatchObject({ network, type: 'p2wsh', version: 0 })
    }
  })

  it('refuses an address of another network with wrong_network', () => {
    const key = randomXOnly()
    expect(codeOf(() => decodeAddress(p2trAddress(key, 'testnet'), 'mainnet'))).toBe('wrong_network')
    expect(codeOf(() => decodeAddress(p2trAddress(key, 'mainnet'), 'regtest'))).toBe('wrong_network')
    expect(codeOf(() => decodeAddress(p2trAddress(key, 'regtest'), 'testnet'))).toBe('wrong_network')
    expect(() => decodeAddress(p2trAddress(key, 'testnet'), 'mainnet')).toThrow(/is a testnet address, expected a mainnet address/)
  })

  it('refuses malformed addresses with bad_address and other kinds with unsupported', () => {
    const key = randomXOnly()
    const good = p2trAddress(key, 'mainnet')
    const flipped = good.slice(0, -1) + (good.endsWith('q') ? 'p' : 'q')
    expect(codeOf(() => decodeAddress(flipped))).toBe('bad_address') // checksum
    expect(codeOf(() => decodeAddress(''))).toBe('bad_address')
    expect(codeOf(() => decodeAddress('not an address'))).toBe('bad_address')
    expect(codeOf(() => decodeAddress(good.slice(0, 10) + good.slice(10).toUpperCase()))).toBe('bad_address') // mixed case
    expect(codeOf(() => decodeAddress(bech32Encode('bc', 1, key, 'bech32')))).toBe('bad_address') // v1 needs bech32m
    expect(codeOf(() => decodeAddress(bech32Encode('bc', 0, new Uint8Array(20), 'bech32m')))).toBe('bad_address') // v0 needs bech32
    expect(codeOf(() => decodeAddress(bech32Encode('ltc', 1, key, 'bech32m')))).toBe('bad_address') // not Bitcoin
    expect(codeOf(() => decodeAddress(bech32Encode('bc', 0, new Uint8Array(25), 'bech32')))).toBe('bad_address') // v0 length
    expect(codeOf(() => decodeAddress(bech32Encode('bc', 1, new Uint8Array(1), 'bech32m')))).toBe('bad_address') // too short
    expect(codeOf(() => decodeAddress(bech32Encode('bc', 1, new Uint8Array(32).fill(0xff), 'bech32m')))).toBe('bad_address') // not a point
    expect(codeOf(() => decodeAddress(bech32Encode('bc', 2, new Uint8Array(32), 'bech32m')))).toBe('unsupported')
    expect(codeOf(() => decodeAddress(bech32Encode('bc', 1, new Uint8Array(20), 'bech32m')))).toBe('unsupported')
    expect(codeOf(() => decodeAddress('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2'))).toBe('unsupported') // P2PKH
    expect(codeOf(() => decodeAddress('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'))).toBe('unsupported') // P2SH
    expect(codeOf(() => decodeAddress(`${good}qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq`))).toBe('bad_address') // too long
  })
})
