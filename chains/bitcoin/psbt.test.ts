import * as ecc from 'tiny-secp256k1'
import { crypto as btcCrypto, networks, Psbt, Transaction, type Signer } from 'bitcoinjs-lib'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import {
  applyReserveSignatures,
  BitcoinError,
  MAX_PSBT_BYTES,
  p2trScript,
  parseReservePsbt,
  reserveInputSighashes,
  taprootOutputKey,
  type ReservePsbt,
} from './index.js'
import { frostDkg, frostSign, type FrostGroup } from '../../testnet/local-frost.js'

const group: FrostGroup = frostDkg(3, 5)
const reserveKey = group.outputKey.slice(1)
const reserveInternalKey = group.internalKey.slice(1)
const reserveScript = p2trScript(reserveKey)

/** A P2WPKH wallet that owns the foreign input (signed by bitcoinjs itself). */
const foreignSecret = schnorr.utils.randomSecretKey()
const foreignSigner: Signer = {
  publicKey: ecc.pointFromScalar(foreignSecret, true)!,
  sign: (hash) => ecc.sign(hash, foreignSecret),
}
const foreignScript = Uint8Array.of(0x00, 0x14, ...btcCrypto.hash160(foreignSigner.publicKey))

function fakeTxid(n: number): Uint8Array {
  return btcCrypto.sha256(Uint8Array.of(n))
}

/** Inputs: 0 foreign (P2WPKH), 1 and 2 reserve (P2TR key path); one payment output and reserve change. */
function buildPsbt(edit?: (psbt: Psbt) => void): Psbt {
  const psbt = new Psbt({ network: networks.regtest })
  psbt.addInput({ hash: fakeTxid(1), index: 0, witnessUtxo: { script: foreignScript, value: 50_000n } })
  psbt.addInput({ hash: fakeTxid(2), index: 1, witnessUtxo: { script: reserveScript, value: 100_000n }, tapInternalKey: reserveInternalKey })
  psbt.addInput({ hash: fakeTxid(3), index: 7, witnessUtxo: { script: reserveScript, value: 250_000n } })
  psbt.addOutput({ script: Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(3)), value: 300_000n })
  psbt.addOutput({ script: reserveScript, value: 90_000n })
  edit?.(psbt)
  return psbt
}

function refusal(fn: () => unknown): BitcoinError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(BitcoinError)
    return err as BitcoinError
  }
  throw new Error('expected a BitcoinError')
}

function signReserve(p: ReservePsbt): Uint8Array[] {
  return reserveInputSighashes(p).map((sighash, k) => frostSign(group, k % 2 === 0 ? [0, 2, 4] : [1, 2, 3], sighash))
}

const schnorrValidator = (pubkey: Uint8Array, msghash: Uint8Array, signature: Uint8Array): boolean => ecc.verifySchnorr(msghash, pubkey, signature)

describe('reserve PSBT co-signing', () => {
  it('finds the reserve inputs and names the PSBT by the txid of its transaction', () => {
    const psbt = buildPsbt()
    const p = parseReservePsbt(psbt.toBuffer(), reserveKey)
    expect(p.inputs).toEqual([1, 2])
    expect(p.id).toMatch(/^[0-9a-f]{64}$/)
    expect(bytesToHex(taprootOutputKey(reserveInternalKey).outputKey)).toBe(bytesToHex(reserveKey))
  })

  it('FROST 3-of-5 signatures over reserveInputSighashes are the signatures bitcoinjs expects', () => {
    const psbt = buildPsbt()
    const p = parseReservePsbt(psbt.toBuffer(), reserveKey)
    const signatures = signReserve(p)
    expect(signatures).toHaveLength(2)
    // bitcoinjs computes the taproot sighash on its own when it validates a tapKeySig (given the
    // output key: without it, bitcoinjs only looks for keys of inputs that carry a tapInternalKey).
    const check = psbt.clone()
    p.inputs.forEach((i, k) => check.updateInput(i, { tapKeySig: signatures[k]! }))
    for (const i of p.inputs) expect(check.validateSignaturesOfInput(i, schnorrValidator, reserveKey)).toBe(true)
    expect(check.validateSignaturesOfInput(1, schnorrValidator)).toBe(true)
    // Swapped, they are wrong.
    const swapped = psbt.clone()
    p.inputs.forEach((i, k) => swapped.updateInput(i, { tapKeySig: signatures[1 - k]! }))
    expect(swapped.validateSignaturesOfInput(1, schnorrValidator, reserveKey)).toBe(false)
    expect(swapped.validateSignaturesOfInput(2, schnorrValidator, reserveKey)).toBe(false)
  })

  it('applyReserveSignatures finalizes the reserve inputs; with the foreign input signed, the transaction is complete', () => {
    const psbt = buildPsbt()
    const bytes = psbt.toBuffer()
    const p = parseReservePsbt(bytes, reserveKey)
    const signatures = signReserve(p)
    const signed = Psbt.fromBuffer(applyReserveSignatures(p, reserveKey, signatures))
    // `p` is untouched: it can be signed again (e.g. after a failed session).
    expect(bytesToHex(p.psbt.toBuffer())).toBe(bytesToHex(bytes))
    expect(signed.data.inputs[0]!.finalScriptWitness).toBeUndefined()
    for (const i of p.inputs) expect(signed.data.inputs[i]!.finalScriptWitness).toBeDefined()

    signed.signInput(0, foreignSigner)
    expect(signed.validateSignaturesOfInput(0, (pubkey, hash, sig) => ecc.verify(hash, pubkey, sig))).toBe(true)
    signed.finalizeInput(0)
    const tx = signed.extractTransaction()
    expect(tx.getId()).toBe(p.id)
    const prevouts = signed.data.inputs.map((input) => input.witnessUtxo!)
    p.inputs.forEach((i, k) => {
      expect(tx.ins[i]!.witness).toEqual([signatures[k]])
      const sighash = tx.hashForWitnessV1(i, prevouts.map((u) => u.script), prevouts.map((u) => u.value), Transaction.SIGHASH_DEFAULT)
      expect(ecc.verifySchnorr(sighash, reserveKey, tx.ins[i]!.witness[0]!)).toBe(true)
    })
  })

  it('refuses bad signatures', () => {
    const p = parseReservePsbt(buildPsbt().toBuffer(), reserveKey)
    const signatures = signReserve(p)
    const flipped = signatures.map((s) => s.slice())
    flipped[1]![10]! ^= 1
    expect(refusal(() => applyReserveSignatures(p, reserveKey, flipped)).code).toBe('bad_psbt')
    expect(refusal(() => applyReserveSignatures(p, reserveKey, [signatures[1]!, signatures[0]!])).message).toMatch(/does not verify/)
    expect(refusal(() => applyReserveSignatures(p, reserveKey, [signatures[0]!])).code).toBe('bad_signature_encoding')
    expect(refusal(() => applyReserveSignatures(p, reserveKey, [signatures[0]!, Uint8Array.of(...signatures[1]!, 0)])).code).toBe('bad_signature_encoding')
    const otherKey = schnorr.getPublicKey(schnorr.utils.randomSecretKey())
    expect(refusal(() => applyReserveSignatures(p, otherKey, signatures)).message).toMatch(/does not pay the given reserve key/)
  })

  it('refuses bad PSBTs with bad_psbt', () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['garbage', new TextEncoder().encode('definitely not a psbt'), /does not parse/],
      ['empty', new Uint8Array(0), /empty/],
      ['truncated', buildPsbt().toBuffer().slice(0, 100), /does not parse/],
      ['oversize', new Uint8Array(MAX_PSBT_BYTES + 1), /more than 12288/],
      [
        'missing witnessUtxo',
        (() => {
          const psbt = new Psbt()
          psbt.addInput({ hash: fakeTxid(1), index: 0 })
          psbt.addInput({ hash: fakeTxid(2), index: 0, witnessUtxo: { script: reserveScript, value: 1000n } })
          psbt.addOutput({ script: foreignScript, value: 500n })
          return psbt.toBuffer()
        })(),
        /input 0 has no witnessUtxo/,
      ],
      [
        'no reserve input',
        (() => {
          const psbt = new Psbt()
          psbt.addInput({ hash: fakeTxid(1), index: 0, witnessUtxo: { script: foreignScript, value: 1000n } })
          psbt.addOutput({ script: reserveScript, value: 500n })
          return psbt.toBuffer()
        })(),
        /spends no reserve output/,
      ],
      [
        'tapLeafScript',
        buildPsbt((psbt) =>
          psbt.updateInput(2, { tapLeafScript: [{ leafVersion: 0xc0, script: Uint8Array.of(0x51), controlBlock: Uint8Array.of(0xc0, ...reserveInternalKey) }] }),
        ).toBuffer(),
        /tapLeafScript/,
      ],
      [
        'tapScriptSig',
        buildPsbt((psbt) => psbt.updateInput(2, { tapScriptSig: [{ pubkey: reserveKey, leafHash: new Uint8Array(32).fill(1), signature: new Uint8Array(64).fill(2) }] })).toBuffer(),
        /tapScriptSig/,
      ],
      ['tapMerkleRoot', buildPsbt((psbt) => psbt.updateInput(2, { tapMerkleRoot: new Uint8Array(32).fill(4) })).toBuffer(), /tapMerkleRoot/],
      [
        'foreign tapInternalKey',
        buildPsbt((psbt) => psbt.updateInput(2, { tapInternalKey: schnorr.getPublicKey(schnorr.utils.randomSecretKey()) })).toBuffer(),
        /tapInternalKey does not tweak/,
      ],
      ['sighash type', buildPsbt((psbt) => psbt.updateInput(1, { sighashType: Transaction.SIGHASH_ALL })).toBuffer(), /SIGHASH_DEFAULT only/],
      ['already signed', buildPsbt((psbt) => psbt.updateInput(1, { tapKeySig: new Uint8Array(64).fill(5) })).toBuffer(), /already signed/],
    ]
    for (const [name, bytes, why] of cases) {
      const err = refusal(() => parseReservePsbt(bytes, reserveKey))
      expect(err.code, name).toBe('bad_psbt')
      expect(err.message, name).toMatch(why)
    }
  })

  it('refuses a PSBT that spends the same prevout twice', () => {
    const psbt = buildPsbt()
    // bitcoinjs refuses to build one (and to parse one); forge it by hand from the serialization.
    const bytes = psbt.toBuffer()
    const hex = bytesToHex(bytes).replace(bytesToHex(fakeTxid(3)) + '07000000', bytesToHex(fakeTxid(2)) + '01000000')
    expect(hex).not.toBe(bytesToHex(bytes))
    const err = refusal(() => parseReservePsbt(Buffer.from(hex, 'hex'), reserveKey))
    expect(err.code).toBe('bad_psbt')
    expect(err.message).toMatch(/Duplicate input|twice/)
  })
})
