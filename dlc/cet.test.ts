import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { address as baddress, Transaction } from 'bitcoinjs-lib'
import { beforeAll, describe, expect, it } from 'vitest'
import { errorOf } from '../protocol/test-helpers/expect-code.js'
import { adaptSignature, decodeAdaptorSignature, encodeAdaptorSignature } from './adaptor.js'
import {
  buildCet,
  cetAdaptorPoint,
  cetSighash,
  completeCet,
  oraclePairs,
  verifyCetPreSignatures,
  type CetPreSignature,
} from './cet.js'
import { bitcoinjsNetwork, leafSatisfaction, leafWitness } from './compiler.js'
import { DlcError } from './errors.js'
import { leafSighash, SPEND_SEQUENCE } from './funding.js'
import { attestationSecret, type OracleAttestation } from './oracle/index.js'
import { estimateCetVsize } from './rules.js'
import { makeFixture, type ContractFixture } from './test-helpers/contract-fixture.js'
import { interpretInput } from './test-helpers/interpreter.js'
import { testKey } from './test-helpers/keys.js'

const Fn = secp256k1.Point.Fn

/**
 * A CET witness built by hand, bypassing completeCet's checks: the `signers`' pre-signatures of
 * (outcome, pair) adapted with `t`, put on `tx` (default: the outcome's CET). What an attacker
 * holding the pre-signatures and some oracle scalars could broadcast.
 */
function handCompletedCet(
  f: ContractFixture,
  presigs: readonly CetPreSignature[],
  outcome: string,
  oracles: readonly [number, number],
  t: Uint8Array,
  signers: readonly number[] = [0, 1, 2],
  tx: Transaction = buildCet(f.contract, outcome, f.funding),
): Uint8Array {
  const leaf = f.contract.leaves.oracle
  const sigs = new Map(
    signers.map((signer) => {
      const p = presigs.find((q) => q.outcome === outcome && q.oracles[0] === oracles[0] && q.oracles[1] === oracles[1] && q.signer === signer)!
      return [signer, adaptSignature(decodeAdaptorSignature(p.preSignature), t)] as const
    }),
  )
  tx.setWitness(0, leafWitness(leaf, leafSatisfaction(leaf, f.contract.terms, signers), (i) => sigs.get(i)!))
  return tx.toBuffer()
}

function sumScalars(...attestations: OracleAttestation[]): Uint8Array {
  return Fn.toBytes(attestations.reduce((acc, a) => Fn.add(acc, Fn.fromBytes(attestationSecret(a))), 0n))
}

describe.each(['height', 'time'] as const)('CETs with a %s lock', (unit) => {
  let f: ContractFixture
  let presigs: CetPreSignature[]
  const att: Record<string, OracleAttestation[]> = {}

  beforeAll(() => {
    f = makeFixture(unit, `cet-${unit}`)
    presigs = f.ephemeral.flatMap((e) => e.key.preSignCets(f.contract, f.funding))
    for (const outcome of ['repaid', 'defaulted']) att[outcome] = [0, 1, 2].map((i) => f.attest(i, outcome))
  })

  const interpret = (tx: Uint8Array) => interpretInput(tx, 0, [f.spent])

  it('builds the CET of each outcome: its payouts, nLockTime = cetLockTime, the funding input', () => {
    const network = bitcoinjsNetwork('regtest')
    for (const payout of f.contract.terms.payouts) {
      const tx = buildCet(f.contract, payout.outcome, f.funding)
      expect(tx.version).toBe(2)
      expect(tx.locktime).toBe(f.contract.terms.cetLockTime)
      expect(tx.ins).toHaveLength(1)
      expect(bytesToHex(Uint8Array.from(tx.ins[0]!.hash).reverse())).toBe(f.funding.txid)
      expect(tx.ins[0]!.index).toBe(f.funding.vout)
      expect(tx.ins[0]!.sequence).toBe(SPEND_SEQUENCE)
      expect(tx.outs.map((o) => [baddress.fromOutputScript(o.script, network), o.value])).toEqual(payout.outputs.map((o) => [o.address, o.valueSat]))
    }
    expect(errorOf(() => buildCet(f.contract, 'postponed', f.funding), DlcError).code).toBe('unknown_outcome')
    expect(errorOf(() => buildCet(f.contract, 'repaid', { txid: f.funding.txid.toUpperCase(), vout: 0 }), DlcError).code).toBe('invalid_funding')
    expect(errorOf(() => buildCet(f.contract, 'repaid', { txid: f.funding.txid, vout: -1 }), DlcError).code).toBe('invalid_funding')
    expect(oraclePairs(f.contract)).toEqual([
      [0, 1],
      [0, 2],
      [1, 2],
    ])
  })

  it('pre-signatures are verifiable by anyone from public data; a bad one is named', () => {
    expect(presigs).toHaveLength(5 * 2 * 3)
    verifyCetPreSignatures(f.contract, f.funding, presigs)
    const target = presigs.findIndex((p) => p.outcome === 'defaulted' && p.oracles[0] === 0 && p.oracles[1] === 2 && p.signer === 3)
    const named = '(outcome "defaulted", oracles 0+2, signer 3)'
    const tampered = (change: (p: CetPreSignature) => CetPreSignature) => presigs.map((p, i) => (i === target ? change(p) : p))

    const flipS = tampered((p) => {
      const sig = decodeAdaptorSignature(p.preSignature)
      const s = Uint8Array.from(sig.s)
      s[31]! ^= 1
      return { ...p, preSignature: encodeAdaptorSignature({ nonce: sig.nonce, s }) }
    })
    let err = errorOf(() => verifyCetPreSignatures(f.contract, f.funding, flipS), DlcError)
    expect(err.code).toBe('bad_presignature')
    expect(err.message).toBe(`pre-signature ${named} does not verify`)

    // a valid pre-signature of another pair, relabelled: its adaptor point is not this pair's
    const other = presigs.find((p) => p.outcome === 'defaulted' && p.oracles[0] === 0 && p.oracles[1] === 1 && p.signer === 3)!
    err = errorOf(() => verifyCetPreSignatures(f.contract, f.funding, tampered((p) => ({ ...p, preSignature: other.preSignature, adaptorPoint: other.adaptorPoint }))), DlcError)
    expect(err.message).toBe(`pre-signature ${named} does not verify`)
    // the right point but a pre-signature under another one
    err = errorOf(() => verifyCetPreSignatures(f.contract, f.funding, tampered((p) => ({ ...p, preSignature: other.preSignature }))), DlcError)
    expect(err.message).toBe(`pre-signature ${named} does not verify`)

    err = errorOf(() => verifyCetPreSignatures(f.contract, f.funding, presigs.filter((_, i) => i !== target)), DlcError)
    expect(err.message).toBe(`missing pre-signature ${named}`)
    err = errorOf(() => verifyCetPreSignatures(f.contract, f.funding, [...presigs, presigs[target]!]), DlcError)
    expect(err.message).toBe(`duplicate pre-signature ${named}`)
    err = errorOf(() => verifyCetPreSignatures(f.contract, f.funding, tampered((p) => ({ ...p, preSignature: p.preSignature.slice(1) }))), DlcError)
    expect(err.message).toBe(`pre-signature ${named} does not verify`)
    err = errorOf(() => verifyCetPreSignatures(f.contract, f.funding, tampered((p) => ({ ...p, outcome: 'postponed' }))), DlcError)
    expect(err.message).toBe('unexpected pre-signature (outcome "postponed", oracles 0+2, signer 3)')

    // for another funding outpoint, the CET (and so every sighash) differs
    err = errorOf(() => verifyCetPreSignatures(f.contract, { txid: f.funding.txid, vout: f.funding.vout + 1 }, presigs), DlcError)
    expect(err.code).toBe('bad_presignature')
    // one guardian's set alone
    verifyCetPreSignatures(
      f.contract,
      f.funding,
      presigs.filter((p) => p.signer === 4),
      [4],
    )
    expect(errorOf(() => verifyCetPreSignatures(f.contract, f.funding, presigs, [5]), DlcError).code).toBe('unknown_key')
  })

  it('the adaptor point is the sum of the two oracles\' attestation points (their s·G)', () => {
    const [a, , c] = att.repaid!
    const expected = secp256k1.Point.BASE.multiply(Fn.fromBytes(sumScalars(a!, c!))).toBytes(true)
    expect(cetAdaptorPoint(f.contract, 'repaid', [0, 2])).toEqual(expected)
  })

  it.each([
    [[0, 1]],
    [[0, 2]],
    [[1, 2]],
  ] as const)('ACCEPTANCE: the CET completed with attestations of oracles %j is VALID', (pair) => {
    const cet = completeCet(f.contract, f.funding, presigs, [att.repaid![pair[0]]!, att.repaid![pair[1]]!])
    expect(cet.outcome).toBe('repaid')
    expect(cet.oracles).toEqual(pair)
    expect(interpret(cet.tx)).toEqual({ valid: true, error: '' })
    const tx = Transaction.fromBuffer(cet.tx)
    expect(tx.getId()).toBe(cet.txid)
    expect(tx.outs.map((o) => o.value)).toEqual([990_000n])
    // the witness fits the fee the rules reserved for it
    expect(tx.virtualSize()).toBeLessThanOrEqual(estimateCetVsize(f.contract.terms, tx.outs.map((o) => o.script)))
  })

  it('completes the other outcome\'s CET from its attestations, with all three oracles, and ignores forgeries', () => {
    const defaulted = completeCet(f.contract, f.funding, presigs, [att.defaulted![2]!, att.defaulted![1]!])
    expect(defaulted.outcome).toBe('defaulted')
    expect(defaulted.oracles).toEqual([1, 2])
    expect(interpret(defaulted.tx)).toEqual({ valid: true, error: '' })
    expect(Transaction.fromBuffer(defaulted.tx).outs.map((o) => o.value)).toEqual([700_000n, 290_000n])

    const all = completeCet(f.contract, f.funding, presigs, att.repaid!)
    expect(all.oracles).toEqual([0, 1])
    expect(interpret(all.tx)).toEqual({ valid: true, error: '' })

    // one real attestation and a forged one (same oracle key, s tampered): refused, not completed
    const forged: OracleAttestation = { ...att.repaid![1]!, signatures: [Uint8Array.from(att.repaid![1]!.signatures[0]!).fill(7, 40, 41)] }
    expect(errorOf(() => completeCet(f.contract, f.funding, presigs, [att.repaid![0]!, forged]), DlcError).code).toBe('not_enough_attestations')
    // an attestation by an oracle that is not one of the contract's
    const outsider: OracleAttestation = { ...att.repaid![1]!, oraclePublicKey: testKey('outsider-oracle').publicKey }
    expect(errorOf(() => completeCet(f.contract, f.funding, presigs, [att.repaid![0]!, outsider]), DlcError).code).toBe('not_enough_attestations')
    // two attestations of the same oracle count once
    expect(errorOf(() => completeCet(f.contract, f.funding, presigs, [att.repaid![0]!, att.repaid![0]!]), DlcError).code).toBe('not_enough_attestations')
  })

  it('ACCEPTANCE: a CET with 1 attestation is refused, and adapting with one oracle\'s s FAILS the interpreter', () => {
    const err = errorOf(() => completeCet(f.contract, f.funding, presigs, [att.repaid![0]!]), DlcError)
    expect(err.code).toBe('not_enough_attestations')
    expect(err.message).toContain('"repaid": 1')
    // split attestations (one oracle per outcome) settle nothing either
    expect(errorOf(() => completeCet(f.contract, f.funding, presigs, [att.repaid![0]!, att.defaulted![1]!]), DlcError).code).toBe('not_enough_attestations')
    // by hand: the three pre-signatures of pair (0, 1), adapted with s_0 alone
    for (const single of [att.repaid![0]!, att.repaid![1]!]) {
      const tx = handCompletedCet(f, presigs, 'repaid', [0, 1], sumScalars(single))
      expect(interpret(tx)).toEqual({ valid: false, error: 'SCRIPT_ERR_SCHNORR_SIG' })
    }
    // control: the same construction with both scalars is valid, so the failure is the missing s
    expect(interpret(handCompletedCet(f, presigs, 'repaid', [0, 1], sumScalars(att.repaid![0]!, att.repaid![1]!)))).toEqual({ valid: true, error: '' })
  })

  it('ACCEPTANCE: a CET completed with the other outcome\'s attestations FAILS', () => {
    // the "repaid" pre-signatures adapted with the "defaulted" scalars
    const wrongT = handCompletedCet(f, presigs, 'repaid', [0, 1], sumScalars(att.defaulted![0]!, att.defaulted![1]!))
    expect(interpret(wrongT)).toEqual({ valid: false, error: 'SCRIPT_ERR_SCHNORR_SIG' })
    // the "defaulted" signatures (valid for their own CET) moved onto the "repaid" CET
    const moved = handCompletedCet(f, presigs, 'defaulted', [0, 1], sumScalars(att.defaulted![0]!, att.defaulted![1]!), [0, 1, 2], buildCet(f.contract, 'repaid', f.funding))
    expect(interpret(moved)).toEqual({ valid: false, error: 'SCRIPT_ERR_SCHNORR_SIG' })
    // and the honest construction of that CET for its own outcome is valid (control)
    expect(interpret(handCompletedCet(f, presigs, 'defaulted', [0, 1], sumScalars(att.defaulted![0]!, att.defaulted![1]!)))).toEqual({ valid: true, error: '' })
  })

  it('refuses to complete with too few valid pre-signatures, or when an oracle equivocates', () => {
    const two = presigs.filter((p) => p.signer < 2)
    let err = errorOf(() => completeCet(f.contract, f.funding, two, att.repaid!.slice(0, 2)), DlcError)
    expect(err.code).toBe('bad_presignature')
    expect(err.message).toContain('pair (0, 1) has 2 valid pre-signatures, 3 needed')
    // a corrupted pre-signature is skipped: signers 0, 1, 3 still complete pair (0, 1)
    const corrupted = presigs.map((p) => (p.signer === 2 ? { ...p, preSignature: new Uint8Array(65) } : p))
    const cet = completeCet(f.contract, f.funding, corrupted, att.repaid!.slice(0, 2))
    expect(interpret(cet.tx)).toEqual({ valid: true, error: '' })
    // oracle 0 attests both outcomes (equivocation): two outcomes reach the threshold
    err = errorOf(() => completeCet(f.contract, f.funding, presigs, [att.repaid![0]!, att.repaid![1]!, att.defaulted![0]!, att.defaulted![2]!]), DlcError)
    expect(err.code).toBe('invalid_attestation')
  })

  it('ACCEPTANCE: no spend by the key path — the NUMS internal key has no known secret', () => {
    const cet = completeCet(f.contract, f.funding, presigs, att.repaid!.slice(0, 2))
    const tx = Transaction.fromBuffer(cet.tx)
    const validLeafSig = tx.ins[0]!.witness.find((w) => w.length === 64)!
    // a signature valid for the script path, an arbitrary one, and one with an explicit sighash byte
    for (const sig of [validLeafSig, new Uint8Array(64).fill(0x42), Uint8Array.from([...validLeafSig, 1])]) {
      tx.setWitness(0, [sig])
      expect(interpret(tx.toBuffer()).valid).toBe(false)
    }
    // nor a signature by one of the contract's keys over the key-path sighash
    const keySighash = tx.hashForWitnessV1(0, [f.contract.scriptPubKey], [f.contract.terms.amountSat], Transaction.SIGHASH_DEFAULT)
    const guardian = f.guardians[0]!
    tx.setWitness(0, [schnorr.sign(keySighash, guardian.secretKey)])
    expect(interpret(tx.toBuffer()).valid).toBe(false)
    expect(cetSighash(f.contract, 'repaid', f.funding)).toEqual(leafSighash(f.contract, buildCet(f.contract, 'repaid', f.funding), f.contract.leaves.oracle.leafHash))
  })

  it('guardian keys cannot sign the oracle leaf: it takes the ephemeral keys', () => {
    const tx = buildCet(f.contract, 'repaid', f.funding)
    const sighash = leafSighash(f.contract, tx, f.contract.leaves.oracle.leafHash)
    const leaf = f.contract.leaves.oracle
    const sigs = new Map([0, 1, 2].map((i) => [i, schnorr.sign(sighash, f.guardians[i]!.secretKey)] as const))
    tx.setWitness(0, leafWitness(leaf, leafSatisfaction(leaf, f.contract.terms, [0, 1, 2]), (i) => sigs.get(i)!))
    expect(interpret(tx.toBuffer())).toEqual({ valid: false, error: 'SCRIPT_ERR_SCHNORR_SIG' })
  })
})
