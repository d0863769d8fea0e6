import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as ecc from 'tiny-secp256k1'
import { address as btcAddress, script as btcScript, Transaction } from 'bitcoinjs-lib'
import { Signer, Verifier } from 'bip322-js'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import type { BitcoinNetwork } from '../../protocol/index.js'
import {
  BitcoinError,
  bip322MessageHash,
  bip322TaprootSighash,
  bip322ToSign,
  bip322ToSpend,
  decodeAddress,
  decodeSimpleSignature,
  encodeSimpleSignature,
  p2trAddress,
  p2trScript,
  taprootOutputKey,
  verifySimpleSignature,
} from './index.js'
import { frostDkg, frostSign } from '../../testnet/local-frost.js'

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..')

interface Bip322Vectors {
  messageHashTag: string
  messageHashes: Record<string, string>
  signing: { privateKeyWIF: string; address: string; signatures: Record<string, string[]> }
  toSpendTxid: Record<string, string>
  toSignTxid: Record<string, string>
}

const vectors = JSON.parse(readFileSync(resolve(repoRoot, '../shared/vectors/bip322.json'), 'utf8')) as Bip322Vectors
const MESSAGES = ['', 'Hello World'] as const
const NETWORKS: readonly BitcoinNetwork[] = ['mainnet', 'testnet', 'regtest']

/** A single-key P2TR (BIP-86 style) owner: the tweaked secret signs the key path. */
function singleKey(): { internal: Uint8Array; outputKey: Uint8Array; tweakedSecret: Uint8Array } {
  let secret: Uint8Array = schnorr.utils.randomSecretKey()
  const full = ecc.pointFromScalar(secret, true)!
  if (full[0] === 0x03) secret = ecc.privateNegate(secret)
  const internal = full.slice(1)
  const tweakedSecret = ecc.privateAdd(secret, schnorr.utils.taggedHash('TapTweak', internal))!
  const outputKey = ecc.xOnlyPointFromScalar(tweakedSecret)
  return { internal, outputKey, tweakedSecret }
}

function taprootSighashAll(scriptPubKey: Uint8Array, message: Uint8Array): Uint8Array {
  return bip322ToSign(bip322ToSpend(scriptPubKey, message)).hashForWitnessV1(0, [scriptPubKey], [0n], Transaction.SIGHASH_ALL)
}

/** bip322-js throws on some malformed input; for the cross-check, a throw is a refusal. */
function theirVerdict(address: string, message: string, signature: string): boolean {
  try {
    return Verifier.verifySignature(address, message, signature)
  } catch {
    return false
  }
}

function expectInvalid(verdict: ReturnType<typeof verifySimpleSignature>, reason: RegExp): void {
  expect(verdict.valid).toBe(false)
  if (!verdict.valid) expect(verdict.reason).toMatch(reason)
}

describe('BIP-322 vectors (bitcoin/bips)', () => {
  it('computes the message hashes', () => {
    expect(vectors.messageHashTag).toBe('BIP0322-signed-message')
    for (const message of MESSAGES) expect(bytesToHex(bip322MessageHash(utf8ToBytes(message)))).toBe(vectors.messageHashes[message])
  })

  it('builds to_spend and to_sign with the vector txids', () => {
    const { scriptPubKey } = decodeAddress(vectors.signing.address, 'mainnet')
    for (const message of MESSAGES) {
      const toSpend = bip322ToSpend(scriptPubKey, utf8ToBytes(message))
      expect(toSpend.getId()).toBe(vectors.toSpendTxid[message])
      const toSign = bip322ToSign(toSpend)
      expect(toSign.getId()).toBe(vectors.toSignTxid[message])
      // The witness does not change the txid.
      expect(bip322ToSign(toSpend, [new Uint8Array(64)]).getId()).toBe(vectors.toSignTxid[message])
      expect(toSign.version).toBe(0)
      expect(toSign.ins[0]!.sequence).toBe(0)
      expect(bytesToHex(toSign.outs[0]!.script)).toBe('6a')
    }
  })

  it('verifies the vector P2WPKH signatures, and refuses them for a changed message or another address', () => {
    for (const message of MESSAGES) {
      for (const signature of vectors.signing.signatures[message]!) {
        expect(verifySimpleSignature({ address: vectors.signing.address, message, signature })).toEqual({ valid: true, type: 'p2wpkh' })
        expect(verifySimpleSignature({ address: vectors.signing.address, message: utf8ToBytes(message), signature, network: 'mainnet' })).toEqual({ valid: true, type: 'p2wpkh' })
        expect(Verifier.verifySignature(vectors.signing.address, message, signature)).toBe(true)
        expectInvalid(verifySimpleSignature({ address: vectors.signing.address, message: `${message}!`, signature }), /does not verify/)
        expectInvalid(verifySimpleSignature({ address: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', message, signature }), /does not belong to this address/)
        expectInvalid(verifySimpleSignature({ address: vectors.signing.address, message, signature, network: 'testnet' }), /mainnet address, expected a testnet/)
      }
    }
    // The signature for one message does not verify another.
    const hello = vectors.signing.signatures['Hello World']![0]!
    expectInvalid(verifySimpleSignature({ address: vectors.signing.address, message: '', signature: hello }), /does not verify/)
  })

  it('refuses a high-s (malleated) P2WPKH signature and other sighash types', () => {
    const [encoded, publicKey] = decodeSimpleSignature(vectors.signing.signatures['Hello World']![0]!) as [Uint8Array, Uint8Array]
    const { signature } = btcScript.signature.decode(encoded)
    const s = secp256k1.Point.Fn.fromBytes(signature.slice(32))
    const highS = new Uint8Array([...signature.slice(0, 32), ...secp256k1.Point.Fn.toBytes(secp256k1.Point.Fn.neg(s))])
    const malleated = encodeSimpleSignature([btcScript.signature.encode(highS, Transaction.SIGHASH_ALL), publicKey])
    expectInvalid(verifySimpleSignature({ address: vectors.signing.address, message: 'Hello World', signature: malleated }), /has a high s/)
    const none = encodeSimpleSignature([btcScript.signature.encode(signature, Transaction.SIGHASH_NONE), publicKey])
    expectInvalid(verifySimpleSignature({ address: vectors.signing.address, message: 'Hello World', signature: none }), /SIGHASH_ALL/)
    const notDer = encodeSimpleSignature([Uint8Array.of(...signature, 0x01), publicKey])
    expectInvalid(verifySimpleSignature({ address: vectors.signing.address, message: 'Hello World', signature: notDer }), /strict DER/)
    const uncompressed = encodeSimpleSignature([encoded, ecc.pointCompress(publicKey, false)])
    expectInvalid(verifySimpleSignature({ address: vectors.signing.address, message: 'Hello World', signature: uncompressed }), /compressed/)
  })

  it('verifies P2WPKH proofs that bip322-js signs, on mainnet, testnet and regtest', () => {
    const [, publicKey] = decodeSimpleSignature(vectors.signing.signatures['']![0]!) as [Uint8Array, Uint8Array]
    const { program } = decodeAddress(vectors.signing.address)
    for (const network of NETWORKS) {
      const address = p2wpkhAddress(program, network)
      const signature = Signer.sign(vectors.signing.privateKeyWIF, address, 'proof of reserves')
      expect(decodeSimpleSignature(signature)[1]).toEqual(publicKey)
      expect(verifySimpleSignature({ address, message: 'proof of reserves', signature, network })).toEqual({ valid: true, type: 'p2wpkh' })
      expectInvalid(verifySimpleSignature({ address, message: 'proof of reserve', signature, network }), /does not verify/)
    }
  })
})

describe('BIP-322 P2TR key-path proofs', () => {
  it('a single key (tiny-secp256k1 signSchnorr with the tweaked secret) verifies with ours and with bip322-js (mainnet, testnet, regtest)', () => {
    for (const network of NETWORKS) {
      const key = singleKey()
      const other = singleKey()
      expect(bytesToHex(taprootOutputKey(key.internal).outputKey)).toBe(bytesToHex(key.outputKey))
      const address = p2trAddress(key.outputKey, network)
      const otherAddress = p2trAddress(other.outputKey, network)
      const message = `reserve proof on ${network} ✓`
      const sighash = bip322TaprootSighash(p2trScript(key.outputKey), utf8ToBytes(message))
      const signature = encodeSimpleSignature([ecc.signSchnorr(sighash, key.tweakedSecret)])
      expect(Buffer.from(signature, 'base64')).toHaveLength(66)
      expect(verifySimpleSignature({ address, message, signature, network })).toEqual({ valid: true, type: 'p2tr' })
      expect(verifySimpleSignature({ address, message, signature })).toEqual({ valid: true, type: 'p2tr' })
      expectInvalid(verifySimpleSignature({ address, message: `${message}.`, signature, network }), /does not verify/)
      expectInvalid(verifySimpleSignature({ address: otherAddress, message, signature, network }), /does not verify/)

      // SIGHASH_ALL, explicit: 65 bytes.
      const all = encodeSimpleSignature([Uint8Array.of(...ecc.signSchnorr(taprootSighashAll(p2trScript(key.outputKey), utf8ToBytes(message)), key.tweakedSecret), 0x01)])
      expect(verifySimpleSignature({ address, message, signature: all, network })).toEqual({ valid: true, type: 'p2tr' })
      // A SIGHASH_DEFAULT signature with an explicit 0x01 byte signs the wrong digest.
      const relabeled = encodeSimpleSignature([Uint8Array.of(...decodeSimpleSignature(signature)[0]!, 0x01)])
      expectInvalid(verifySimpleSignature({ address, message, signature: relabeled, network }), /does not verify/)

      expect(Verifier.verifySignature(address, message, signature)).toBe(true)
      expect(Verifier.verifySignature(address, message, all)).toBe(true)
      expect(theirVerdict(address, `${message}.`, signature)).toBe(false)
      expect(theirVerdict(otherAddress, message, signature)).toBe(false)
    }
  })

  it('verifies P2TR proofs that bip322-js signs (it applies the BIP-86 tweak itself)', () => {
    const [, publicKey] = decodeSimpleSignature(vectors.signing.signatures['']![0]!) as [Uint8Array, Uint8Array]
    const { outputKey } = taprootOutputKey(publicKey.slice(1))
    for (const network of NETWORKS) {
      const address = p2trAddress(outputKey, network)
      for (const message of ['', 'Hello World']) {
        const signature = Signer.sign(vectors.signing.privateKeyWIF, address, message)
        expect(verifySimpleSignature({ address, message, signature, network })).toEqual({ valid: true, type: 'p2tr' })
        expectInvalid(verifySimpleSignature({ address, message: 'Hello World?', signature, network }), /does not verify/)
      }
    }
  })

  it('a FROST 3-of-5 signature (noble schnorr_FROST DKG + commit/signShare/aggregate) verifies with ours and with bip322-js', () => {
    const group = frostDkg(3, 5)
    const outputKey = group.outputKey.slice(1)
    const otherKey = singleKey().outputKey
    for (const [network, signers] of [['mainnet', [0, 2, 4]], ['testnet', [1, 3, 4]], ['regtest', [0, 1, 2]]] as const) {
      const address = p2trAddress(outputKey, network)
      const message = 'Universal Bitcoin proof of reserves, nonce 42'
      const sighash = bip322TaprootSighash(p2trScript(outputKey), utf8ToBytes(message))
      const sig = frostSign(group, signers, sighash)
      expect(ecc.verifySchnorr(sighash, outputKey, sig)).toBe(true)
      const signature = encodeSimpleSignature([sig])
      expect(verifySimpleSignature({ address, message, signature, network })).toEqual({ valid: true, type: 'p2tr' })
      expectInvalid(verifySimpleSignature({ address, message: 'Universal Bitcoin proof of reserves, nonce 43', signature, network }), /does not verify/)
      expectInvalid(verifySimpleSignature({ address: p2trAddress(otherKey, network), message, signature, network }), /does not verify/)
      expect(Verifier.verifySignature(address, message, signature)).toBe(true)
      expect(theirVerdict(address, 'Universal Bitcoin proof of reserves, nonce 43', signature)).toBe(false)
      expect(theirVerdict(p2trAddress(otherKey, network), message, signature)).toBe(false)
    }
  })
})

describe('BIP-322 bad input', () => {
  const key = singleKey()
  const address = p2trAddress(key.outputKey, 'mainnet')
  const message = 'hello'
  const sig = ecc.signSchnorr(bip322TaprootSighash(p2trScript(key.outputKey), utf8ToBytes(message)), key.tweakedSecret)
  const good = encodeSimpleSignature([sig])

  it('the reference proof is valid', () => {
    expect(verifySimpleSignature({ address, message, signature: good })).toEqual({ valid: true, type: 'p2tr' })
  })

  it('refuses malformed base64 and bad encodings with a reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['!!!!', /not base64/],
      [good.slice(0, -2), /not base64/], // padding removed
      [`${good}\n`, /not base64/],
      [` ${good}`, /not base64/],
      ['AUA-_w==', /not base64/], // url-safe alphabet
      ['AR==', /non-canonical/], // padding bits set
      ['AQ==', /truncated/], // one item announced, none present
      [encodeSimpleSignature([sig]) + 'AAAA', /not base64|bytes after/],
      [Buffer.from([...Buffer.from(good, 'base64'), 0]).toString('base64'), /bytes after the witness stack/],
      [Buffer.from([0xfd, 0x01, 0x00]).toString('base64'), /non-minimal/],
      [Buffer.from([0xfe, 0, 0, 1, 0]).toString('base64'), /too large/],
      [Buffer.from([101]).toString('base64'), /101 witness items/],
      ['A'.repeat(30_000), /longer than/],
    ]
    for (const [signature, reason] of cases) {
      expectInvalid(verifySimpleSignature({ address, message, signature }), reason)
      expect(() => decodeSimpleSignature(signature)).toThrow(BitcoinError)
    }
  })

  it('decodeSimpleSignature throws bad_signature_encoding and round-trips encodeSimpleSignature', () => {
    try {
      decodeSimpleSignature('AQ==')
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(BitcoinError)
      expect((err as BitcoinError).code).toBe('bad_signature_encoding')
    }
    const witness = [new Uint8Array(0), new Uint8Array(64).fill(1), new Uint8Array(300).fill(2)]
    expect(decodeSimpleSignature(encodeSimpleSignature(witness))).toEqual(witness)
    expect(decodeSimpleSignature(encodeSimpleSignature([]))).toEqual([])
  })

  it('refuses wrong witness counts, 63/66-byte signatures and wrong sighash bytes', () => {
    expectInvalid(verifySimpleSignature({ address, message, signature: encodeSimpleSignature([]) }), /1-element witness, got 0/)
    expectInvalid(verifySimpleSignature({ address, message, signature: encodeSimpleSignature([sig, sig]) }), /1-element witness, got 2/)
    expectInvalid(verifySimpleSignature({ address, message, signature: encodeSimpleSignature([sig, Uint8Array.of(0x50)]) }), /1-element witness, got 2/) // annex
    expectInvalid(verifySimpleSignature({ address, message, signature: encodeSimpleSignature([sig.slice(0, 63)]) }), /64 or 65 bytes, got 63/)
    expectInvalid(verifySimpleSignature({ address, message, signature: encodeSimpleSignature([Uint8Array.of(...sig, 1, 1)]) }), /64 or 65 bytes, got 66/)
    for (const hashType of [0x00, 0x02, 0x03, 0x81, 0x83]) {
      expectInvalid(verifySimpleSignature({ address, message, signature: encodeSimpleSignature([Uint8Array.of(...sig, hashType)]) }), /sighash type/)
    }
    expectInvalid(verifySimpleSignature({ address: vectors.signing.address, message, signature: good }), /2-element witness/)
    const zeroSig = encodeSimpleSignature([new Uint8Array(64)])
    expectInvalid(verifySimpleSignature({ address, message, signature: zeroSig }), /does not verify/)
    const overflowSig = encodeSimpleSignature([new Uint8Array(64).fill(0xff)])
    expect(verifySimpleSignature({ address, message, signature: overflowSig }).valid).toBe(false)
  })

  it('refuses bad addresses, other networks and unsupported types', () => {
    expectInvalid(verifySimpleSignature({ address: 'bc1qnotanaddress', message, signature: good }), /not a valid segwit address/)
    expectInvalid(verifySimpleSignature({ address: '', message, signature: good }), /empty/)
    expectInvalid(verifySimpleSignature({ address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', message, signature: good }), /legacy/)
    expectInvalid(verifySimpleSignature({ address, message, signature: good, network: 'regtest' }), /mainnet address, expected a regtest/)
    expectInvalid(verifySimpleSignature({ address: p2trAddress(key.outputKey, 'testnet'), message, signature: good, network: 'mainnet' }), /testnet address/)
    const p2wsh = btcAddress.toBech32(new Uint8Array(32).fill(9), 0, 'bc')
    expectInvalid(verifySimpleSignature({ address: p2wsh, message, signature: good }), /P2WSH addresses is not supported/)
  })

  it('never throws, whatever it is given', () => {
    const weird: unknown[] = [
      null,
      undefined,
      42,
      {},
      { address: 42, message, signature: good },
      { address, message: 42, signature: good },
      { address, message, signature: 42 },
      { address, message, signature: null },
      { address, message: null, signature: good },
      { address, message, signature: good, network: 'litecoin' },
    ]
    for (const input of weird) {
      const verdict = verifySimpleSignature(input as Parameters<typeof verifySimpleSignature>[0])
      expect(verdict.valid).toBe(false)
    }
    let seed = 0x12345678
    const nextByte = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed >>> 24
    }
    for (let i = 0; i < 300; i++) {
      const bytes = new Uint8Array(1 + (i % 120)).map(nextByte)
      if (i % 3 === 0) bytes[0] = 1
      if (i % 3 === 1) bytes[0] = 2
      const verdict = verifySimpleSignature({ address: i % 2 === 0 ? address : vectors.signing.address, message, signature: Buffer.from(bytes).toString('base64') })
      expect(verdict.valid).toBe(false)
    }
  })
})

/** The P2WPKH address (bech32, version 0) of a key hash on `network`. */
function p2wpkhAddress(program: Uint8Array, network: BitcoinNetwork): string {
  return btcAddress.toBech32(program, 0, { mainnet: 'bc', testnet: 'tb', regtest: 'bcrt' }[network])
}
