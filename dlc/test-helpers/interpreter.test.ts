import { payments, Psbt, script as bscript, opcodes, Transaction } from 'bitcoinjs-lib'
import { schnorr } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { ecc } from '../ecc.js'
import { NUMS_INTERNAL_KEY } from '../nums.js'
import { interpretInput, type SpentOutput } from './interpreter.js'
import { testKey, testKeys, type TestKey } from './keys.js'

// Proves the independent interpreter helper before the DLC tests rely on it: transactions built
// with bitcoinjs-lib and signed with tiny-secp256k1 must be VALID through bitcore, and the usual
// ways of breaking them must FAIL with the error Bitcoin Core would give.

const FUNDING_TXID = 'aa'.repeat(32)
const VALUE = 100_000n
const DEST = payments.p2tr({ internalPubkey: testKey('dest').publicKey }).output!

function taggedHash(tag: string, data: Uint8Array): Uint8Array {
  const t = sha256(utf8ToBytes(tag))
  return sha256(concatBytes(t, t, data))
}

function keyPathSpend(key: TestKey, signedValue = VALUE) {
  const p = payments.p2tr({ internalPubkey: key.publicKey })
  const spent: SpentOutput = { script: p.output!, value: VALUE }
  const psbt = new Psbt()
  psbt.addInput({ hash: FUNDING_TXID, index: 0, witnessUtxo: { script: p.output!, value: signedValue }, tapInternalKey: key.publicKey })
  psbt.addOutput({ script: DEST, value: VALUE - 500n })
  const even = ecc.pointFromScalar(key.secretKey, true)![0] === 2 ? key.secretKey : ecc.privateNegate(key.secretKey)
  const tweaked = ecc.privateAdd(even, taggedHash('TapTweak', key.publicKey))!
  psbt.signInput(0, {
    publicKey: concatBytes(Uint8Array.of(2), p.pubkey!),
    signSchnorr: (hash: Uint8Array) => ecc.signSchnorr(hash, tweaked),
    sign: () => new Uint8Array(0),
  })
  psbt.finalizeAllInputs()
  return { raw: psbt.extractTransaction().toBuffer(), spent }
}

/** A one-leaf-of-two tree (leaves < 253 bytes); spends `leaf` with the witness `makeStack(sighash)` (bottom first). */
function scriptPathSpend(leaf: Uint8Array, makeStack: (sighash: Uint8Array) => Uint8Array[], tx: { lockTime?: number; sequence?: number } = {}) {
  const other = bscript.compile([opcodes.OP_RETURN])
  const scriptTree: [{ output: Uint8Array }, { output: Uint8Array }] = [{ output: leaf }, { output: other }]
  const p = payments.p2tr({ internalPubkey: NUMS_INTERNAL_KEY, scriptTree, redeem: { output: leaf } })
  const spent: SpentOutput = { script: p.output!, value: VALUE }
  const t = new Transaction()
  t.version = 2
  t.locktime = tx.lockTime ?? 0
  t.addInput(Buffer.from(FUNDING_TXID, 'hex'), 0, tx.sequence ?? 0xfffffffe)
  t.addOutput(DEST, VALUE - 500n)
  const sighash = t.hashForWitnessV1(0, [spent.script], [VALUE], Transaction.SIGHASH_DEFAULT, taggedHash('TapLeaf', concatBytes(Uint8Array.of(0xc0, leaf.length), leaf)))
  const witness = p.witness!
  t.setWitness(0, [...makeStack(sighash), ...witness])
  return { raw: t.toBuffer(), spent }
}

const sign = (key: TestKey) => (sighash: Uint8Array) => schnorr.sign(sighash, key.secretKey)

describe('bitcore interpreter helper', () => {
  it('accepts a taproot key-path spend and rejects a wrong signature or amount', () => {
    const key = testKey('key-path')
    const good = keyPathSpend(key)
    expect(interpretInput(good.raw, 0, [good.spent])).toEqual({ valid: true, error: '' })
    // the BIP-341 sighash commits to the spent amount: a signature for another amount fails
    const wrongAmount = keyPathSpend(key, VALUE + 1n)
    // (bitcore sets no errstr when a key-path signature fails)
    expect(interpretInput(wrongAmount.raw, 0, [good.spent])).toEqual({ valid: false, error: 'SCRIPT_ERR_UNKNOWN' })
    const tx = Transaction.fromBuffer(good.raw)
    const sig = Uint8Array.from(tx.ins[0]!.witness[0]!)
    sig[10]! ^= 1
    tx.setWitness(0, [sig])
    expect(interpretInput(tx.toBuffer(), 0, [good.spent]).valid).toBe(false)
  })

  it('accepts a tapscript CHECKSIG leaf, rejects another key, and checks the control block', () => {
    const [a, b] = testKeys('checksig', 2) as [TestKey, TestKey]
    const leaf = bscript.compile([a.publicKey, opcodes.OP_CHECKSIG])
    const good = scriptPathSpend(leaf, (h) => [sign(a)(h)])
    expect(interpretInput(good.raw, 0, [good.spent])).toEqual({ valid: true, error: '' })
    const wrongKey = scriptPathSpend(leaf, (h) => [sign(b)(h)])
    expect(interpretInput(wrongKey.raw, 0, [wrongKey.spent])).toEqual({ valid: false, error: 'SCRIPT_ERR_SCHNORR_SIG' })
    // the leaf a control block commits to cannot be swapped for another script
    const tx = Transaction.fromBuffer(good.raw)
    const w = tx.ins[0]!.witness
    tx.setWitness(0, [w[0]!, bscript.compile([b.publicKey, opcodes.OP_CHECKSIG]), w[2]!])
    expect(interpretInput(tx.toBuffer(), 0, [good.spent])).toEqual({ valid: false, error: 'SCRIPT_ERR_WITNESS_PROGRAM_MISMATCH' })
  })

  it('runs CHECKSIGADD thresholds: 2 of 3 passes, 1 of 3 fails', () => {
    const keys = testKeys('checksigadd', 3)
    const leaf = bscript.compile([
      keys[0]!.publicKey, opcodes.OP_CHECKSIG,
      keys[1]!.publicKey, opcodes.OP_CHECKSIGADD,
      keys[2]!.publicKey, opcodes.OP_CHECKSIGADD,
      bscript.number.encode(2), opcodes.OP_NUMEQUAL,
    ])
    const empty = new Uint8Array(0)
    // the stack is consumed top first: the last element answers the first key
    const two = scriptPathSpend(leaf, (h) => [sign(keys[2]!)(h), empty, sign(keys[0]!)(h)])
    expect(interpretInput(two.raw, 0, [two.spent])).toEqual({ valid: true, error: '' })
    const one = scriptPathSpend(leaf, (h) => [empty, empty, sign(keys[0]!)(h)])
    expect(interpretInput(one.raw, 0, [one.spent])).toEqual({ valid: false, error: 'SCRIPT_ERR_EVAL_FALSE_IN_STACK' })
  })

  it.each([
    ['height', 800_000],
    ['time', 1_900_000_000],
  ] as const)('enforces CHECKLOCKTIMEVERIFY with a %s lock', (_unit, lock) => {
    const key = testKey('cltv')
    const leaf = bscript.compile([bscript.number.encode(lock), opcodes.OP_CHECKLOCKTIMEVERIFY, opcodes.OP_DROP, key.publicKey, opcodes.OP_CHECKSIG])
    const at = scriptPathSpend(leaf, (h) => [sign(key)(h)], { lockTime: lock })
    expect(interpretInput(at.raw, 0, [at.spent])).toEqual({ valid: true, error: '' })
    const early = scriptPathSpend(leaf, (h) => [sign(key)(h)], { lockTime: lock - 1 })
    expect(interpretInput(early.raw, 0, [early.spent])).toEqual({ valid: false, error: 'SCRIPT_ERR_UNSATISFIED_LOCKTIME' })
    // a final sequence disables nLockTime, so CLTV refuses it
    const final = scriptPathSpend(leaf, (h) => [sign(key)(h)], { lockTime: lock, sequence: 0xffffffff })
    expect(interpretInput(final.raw, 0, [final.spent])).toEqual({ valid: false, error: 'SCRIPT_ERR_UNSATISFIED_LOCKTIME' })
  })

  it('has the leading-zero quirk that testKey avoids: a valid signature under such a key is refused', () => {
    let secretKey = new Uint8Array(0)
    for (let i = 0; ; i++) {
      secretKey = sha256(utf8ToBytes(`leading-zero/${i}`))
      if (schnorr.getPublicKey(secretKey)[0] === 0) break
    }
    const key: TestKey = { secretKey, publicKey: schnorr.getPublicKey(secretKey) }
    const leaf = bscript.compile([key.publicKey, opcodes.OP_CHECKSIG])
    let signature = new Uint8Array(0)
    const spend = scriptPathSpend(leaf, (h) => {
      signature = sign(key)(h)
      expect(ecc.verifySchnorr(h, key.publicKey, signature)).toBe(true)
      return [signature]
    })
    expect(interpretInput(spend.raw, 0, [spend.spent])).toEqual({ valid: false, error: 'SCRIPT_ERR_SCHNORR_SIG' })
    // testKey skips such keys: a label whose first candidate has a leading zero gets the next one
    let label = ''
    for (let i = 0; ; i++) {
      label = `quirk-${i}`
      if (schnorr.getPublicKey(sha256(utf8ToBytes(`ubtc/dlc/test-key/${label}/0`)))[0] === 0) break
    }
    expect(testKey(label).publicKey[0]).not.toBe(0)
    expect(testKey(label).secretKey).toEqual(sha256(utf8ToBytes(`ubtc/dlc/test-key/${label}/1`)))
  })
})
