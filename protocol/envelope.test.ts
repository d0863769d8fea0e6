import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { generateGuardianKeys, publicInfo, type GuardianKeys } from '../node/keystore/index.js'
import { encodeCanonical } from './codec.js'
import {
  decodeEnvelope,
  encodeEnvelope,
  envelopeDigest,
  MAX_ENVELOPE_BYTES,
  MAX_PAYLOAD_BYTES,
  MessageKind,
  signEnvelope,
  verifyEnvelope,
  type SignedEnvelope,
} from './envelope.js'
import { genesisToJson, GuardianSet, parseGenesis, type Genesis } from './genesis.js'
import { keccak256 } from './hash.js'
import { signDigest, verifyDigest, voteAddress, votePublicKey } from './vote-key.js'
import { codeOf } from './test-helpers/expect-code.js'

/** Order of the secp256k1 group. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

let keys: GuardianKeys[]
let genesis: Genesis
let guardians: GuardianSet
let networkId: Uint8Array
let otherNetworkId: Uint8Array

function buildGenesis(network: string, guardianSetIndex = 0): Genesis {
  return parseGenesis(
    genesisToJson({
      network,
      genesisTime: '2025-01-01T00:00:00.000Z',
      guardianSetIndex,
      guardians: keys.map((k, index) => {
        const pub = publicInfo(k)
        const key = hexToBytes(pub.votePublicKey)
        return { index, name: `guardian-${index}`, votePublicKey: key, address: pub.address, peerId: pub.peerId }
      }),
      thresholds: { validation: 3, lp_liquidation: 3, dlc_emergency: 3, reserve_spend: 3 },
      chains: {},
      oracles: [],
      bitcoinNetwork: 'regtest',
      operationTtlMs: 3_600_000,
    }),
  )
}

beforeAll(async () => {
  keys = await Promise.all(Array.from({ length: 4 }, () => generateGuardianKeys()))
  genesis = buildGenesis('ubtc-envelope-test')
  guardians = new GuardianSet(genesis)
  networkId = genesis.hash
  otherNetworkId = buildGenesis('ubtc-other-network').hash
})


const payload = new TextEncoder().encode('hello guardians')

function sign(signer = 1, opts: { key?: number; network?: Uint8Array; setIndex?: number; data?: Uint8Array } = {}): SignedEnvelope {
  return signEnvelope(opts.network ?? networkId, MessageKind.Heartbeat, opts.setIndex ?? 0, signer, opts.data ?? payload, keys[opts.key ?? signer]!.votePrivateKey)
}

/** Decodes `bytes` and verifies the envelope against the test network. */
const receive = (bytes: Uint8Array) => verifyEnvelope(networkId, guardians, decodeEnvelope(bytes))

const withSignature = (env: SignedEnvelope, signature: Uint8Array): SignedEnvelope => ({ ...env, signature })

function bigintFrom(bytes: Uint8Array): bigint {
  return BigInt(`0x${bytesToHex(bytes)}`)
}

function bytes32(value: bigint): Uint8Array {
  return hexToBytes(value.toString(16).padStart(64, '0'))
}

describe('envelope', () => {
  it('sign → encode → decode → verify returns the signer', () => {
    for (let i = 0; i < keys.length; i++) {
      const env = sign(i)
      const decoded = decodeEnvelope(encodeEnvelope(env))
      expect(decoded).toEqual(env)
      expect(verifyEnvelope(networkId, guardians, decoded)).toBe(guardians.at(i))
    }
  })

  it('encodes canonically: decoding and re-encoding gives the same bytes', () => {
    const bytes = encodeEnvelope(sign())
    expect(encodeEnvelope(decodeEnvelope(bytes))).toEqual(bytes)
  })

  it('produces 65-byte low-s signatures with v in {0, 1}', () => {
    for (let i = 0; i < 20; i++) {
      const sig = sign(i % 4, { data: new Uint8Array([i]) }).signature
      expect(sig).toHaveLength(65)
      expect([0, 1]).toContain(sig[64])
      expect(bigintFrom(sig.subarray(32, 64))).toBeLessThanOrEqual(N >> 1n)
    }
  })

  it('rejects a flipped payload bit with bad_signature', () => {
    const env = sign()
    for (const bit of [0, 7, 8 * payload.length - 1]) {
      const tampered = new Uint8Array(env.payload)
      tampered[bit >> 3]! ^= 1 << (bit & 7)
      expect(codeOf(() => receive(encodeEnvelope({ ...env, payload: tampered })))).toBe('bad_signature')
    }
  })

  it('rejects a flipped signature bit in r or s with bad_signature', () => {
    const env = sign()
    for (const bit of [0, 100, 255, 256, 300, 511]) {
      const sig = new Uint8Array(env.signature)
      sig[bit >> 3]! ^= 0x80 >> (bit & 7)
      expect(codeOf(() => receive(encodeEnvelope(withSignature(env, sig))))).toBe('bad_signature')
    }
  })

  it('rejects a flipped recovery bit v: it is part of the signature that ecrecover needs', () => {
    const env = sign()
    const sig = new Uint8Array(env.signature)
    sig[64]! ^= 1
    expect(codeOf(() => receive(encodeEnvelope(withSignature(env, sig))))).toBe('bad_signature')
  })

  it.each([[2], [3], [27], [28], [255]])('rejects v = %i', (v) => {
    const env = sign()
    const sig = new Uint8Array(env.signature)
    sig[64] = v
    expect(codeOf(() => receive(encodeEnvelope(withSignature(env, sig))))).toBe('bad_signature')
  })

  it('rejects a signer index outside the guardian set with unknown_signer', () => {
    expect(codeOf(() => receive(encodeEnvelope(sign(4, { key: 0 }))))).toBe('unknown_signer')
    expect(codeOf(() => receive(encodeEnvelope(sign(255, { key: 0 }))))).toBe('unknown_signer')
  })

  it('rejects an envelope for another guardian set index with unknown_signer', () => {
    expect(codeOf(() => receive(encodeEnvelope(sign(1, { setIndex: 1 }))))).toBe('unknown_signer')
    // …even when the set index is the current one of a later set.
    const nextSet = new GuardianSet(buildGenesis('ubtc-envelope-test', 1))
    expect(codeOf(() => verifyEnvelope(networkId, nextSet, sign(1)))).toBe('unknown_signer')
  })

  it("rejects another guardian's signature claiming a different signer index with bad_signature", () => {
    // Guardian 2 signs but claims to be guardian 1.
    expect(codeOf(() => receive(encodeEnvelope(sign(1, { key: 2 }))))).toBe('bad_signature')
    // And a valid signature moved to another signer index.
    const env = sign(1)
    expect(codeOf(() => receive(encodeEnvelope({ ...env, signer: 0 })))).toBe('bad_signature')
  })

  it('rejects a signature made for another network (cross-network replay)', () => {
    expect(otherNetworkId).not.toEqual(networkId)
    const foreign = sign(1, { network: otherNetworkId })
    // Valid where it was made…
    expect(verifyEnvelope(otherNetworkId, guardians, decodeEnvelope(encodeEnvelope(foreign))).index).toBe(1)
    // …but not here.
    expect(codeOf(() => receive(encodeEnvelope(foreign)))).toBe('bad_signature')
  })

  it('binds the kind, the set index and the payload into the digest', () => {
    const base = envelopeDigest(networkId, MessageKind.Heartbeat, 0, payload)
    expect(base).toHaveLength(32)
    expect(envelopeDigest(otherNetworkId, MessageKind.Heartbeat, 0, payload)).not.toEqual(base)
    expect(envelopeDigest(networkId, 2 as MessageKind, 0, payload)).not.toEqual(base)
    expect(envelopeDigest(networkId, MessageKind.Heartbeat, 1, payload)).not.toEqual(base)
    expect(envelopeDigest(networkId, MessageKind.Heartbeat, 0, new Uint8Array([...payload, 0]))).not.toEqual(base)
  })

  it('rejects the high-s twin of a valid signature (malleability)', () => {
    const env = sign()
    const sig = env.signature
    const s = bigintFrom(sig.subarray(32, 64))
    const highS = new Uint8Array(65)
    highS.set(sig.subarray(0, 32), 0)
    highS.set(bytes32(N - s), 32)
    highS[64] = sig[64]! ^ 1
    // The twin is a mathematically valid signature of the same digest by the same key…
    const digest = envelopeDigest(networkId, env.kind, env.guardianSetIndex, env.payload)
    const pub = guardians.at(1)!.votePublicKey
    expect(secp256k1.verify(highS.subarray(0, 64), digest, pub, { prehash: false, lowS: false })).toBe(true)
    const recovered = secp256k1.Signature.fromBytes(highS.subarray(0, 64), 'compact').addRecoveryBit(highS[64]!).recoverPublicKey(digest)
    expect(recovered.toBytes(true)).toEqual(pub)
    // …which the envelope check refuses, so each message has exactly one valid signature.
    expect(verifyDigest(digest, highS, pub)).toBe(false)
    expect(codeOf(() => receive(encodeEnvelope(withSignature(env, highS))))).toBe('bad_signature')
  })

  it('rejects a payload over the limit of its kind with oversize', () => {
    const limit = MAX_PAYLOAD_BYTES[MessageKind.Heartbeat]
    expect(decodeEnvelope(encodeEnvelope(sign(1, { data: new Uint8Array(limit) }))).payload).toHaveLength(limit)
    expect(codeOf(() => decodeEnvelope(encodeEnvelope(sign(1, { data: new Uint8Array(limit + 1) }))))).toBe('oversize')
  })

  it('rejects an envelope over MAX_ENVELOPE_BYTES with oversize before decoding', () => {
    expect(codeOf(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1)))).toBe('oversize')
  })

  it('rejects an unknown kind with wrong_kind', () => {
    const env = sign()
    for (const kind of [0, 7, 255]) {
      const bytes = encodeCanonical([1, kind, env.guardianSetIndex, env.signer, env.payload, env.signature])
      expect(codeOf(() => decodeEnvelope(bytes))).toBe('wrong_kind')
    }
    expect(codeOf(() => decodeEnvelope(encodeCanonical([1, 256, 0, 1, env.payload, env.signature])))).toBe('malformed')
  })

  it('rejects structural errors', () => {
    const env = sign()
    const fields = [env.kind, env.guardianSetIndex, env.signer, env.payload, env.signature] as const
    expect(codeOf(() => decodeEnvelope(encodeCanonical([2, ...fields])))).toBe('unsupported_version')
    expect(codeOf(() => decodeEnvelope(encodeCanonical([1, ...fields.slice(0, 4)])))).toBe('malformed')
    expect(codeOf(() => decodeEnvelope(encodeCanonical([1, ...fields, 0])))).toBe('malformed')
    expect(codeOf(() => decodeEnvelope(encodeCanonical([1, env.kind, 0, 1, env.payload, env.signature.subarray(0, 64)])))).toBe('malformed')
    expect(codeOf(() => decodeEnvelope(encodeCanonical([1, env.kind, 0, 1, 'text', env.signature])))).toBe('malformed')
    expect(codeOf(() => decodeEnvelope(encodeCanonical([1, env.kind, 0, 256, env.payload, env.signature])))).toBe('malformed')
    expect(codeOf(() => decodeEnvelope(encodeCanonical([1, env.kind, 2 ** 32, 1, env.payload, env.signature])))).toBe('malformed')
    expect(codeOf(() => decodeEnvelope(encodeCanonical([1, env.kind, -1, 1, env.payload, env.signature])))).toBe('malformed')
    expect(codeOf(() => decodeEnvelope(new Uint8Array([0xde, 0xad, 0xbe, 0xef])))).toBe('malformed')
  })

  it('rejects a non-canonical encoding of a valid envelope', () => {
    const bytes = encodeEnvelope(sign())
    // [0x86, 0x01 (version), 0x01 (kind), …] → encode the kind as 0x18 0x01.
    expect([...bytes.subarray(0, 3)]).toEqual([0x86, 0x01, 0x01])
    const longer = new Uint8Array([0x86, 0x01, 0x18, 0x01, ...bytes.subarray(3)])
    expect(codeOf(() => decodeEnvelope(longer))).toBe('non_canonical')
  })
})

describe('vote signatures and Ethereum recovery', () => {
  it('v is the Ethereum recovery id: recovery yields the guardian key and address', () => {
    for (let i = 0; i < 16; i++) {
      const k = keys[i % keys.length]!
      const digest = keccak256(new Uint8Array([i]))
      const sig = signDigest(digest, k.votePrivateKey)
      const v = sig[64]!
      const point = secp256k1.Signature.fromBytes(sig.subarray(0, 64), 'compact').addRecoveryBit(v).recoverPublicKey(digest)
      const pub = votePublicKey(k.votePrivateKey)
      expect(point.toBytes(true)).toEqual(pub)
      // ecrecover(digest, v + 27, r, s) returns keccak256(uncompressed key)[12:].
      const address = `0x${bytesToHex(keccak256(point.toBytes(false).subarray(1)).subarray(12))}`
      expect(address).toBe(voteAddress(pub))
      expect(address).toBe(publicInfo(k).address)
      // The other recovery id gives another key (or none).
      let other: Uint8Array | undefined
      try {
        other = secp256k1.Signature.fromBytes(sig.subarray(0, 64), 'compact').addRecoveryBit(v ^ 1).recoverPublicKey(digest).toBytes(true)
      } catch {
        other = undefined
      }
      expect(other).not.toEqual(pub)
    }
  })

  it('agrees with noble on signature validity', () => {
    const digest = keccak256(payload)
    const sig = signDigest(digest, keys[0]!.votePrivateKey)
    const pub = votePublicKey(keys[0]!.votePrivateKey)
    expect(secp256k1.verify(sig.subarray(0, 64), digest, pub, { prehash: false })).toBe(true)
    expect(verifyDigest(digest, sig, pub)).toBe(true)
    expect(verifyDigest(digest, sig, votePublicKey(keys[1]!.votePrivateKey))).toBe(false)
    expect(verifyDigest(digest, sig.subarray(0, 64), pub)).toBe(false)
  })

  it('address of private key 1 is 0x7e5f4552091a69125d5dfcb7b8c2659029395bdf', () => {
    const one = new Uint8Array(32)
    one[31] = 1
    const pub = votePublicKey(one)
    expect(pub).toEqual(secp256k1.Point.BASE.toBytes(true))
    expect(voteAddress(pub)).toBe('0x7e5f4552091a69125d5dfcb7b8c2659029395bdf')
  })
})
