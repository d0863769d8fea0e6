import { schnorr } from '@noble/curves/secp256k1.js'
import { Psbt, Transaction } from 'bitcoinjs-lib'
import { beforeAll, describe, expect, it } from 'vitest'
import { errorOf } from '../protocol/test-helpers/expect-code.js'
import { leafWitness, type CompiledContract, type LeafName } from './compiler.js'
import { DlcError } from './errors.js'
import { leafSighash, SPEND_SEQUENCE } from './funding.js'
import {
  addGuardianSignature,
  emergencySpend,
  finalizeGuardianSpend,
  guardianSpendSighash,
  signGuardianSpend,
  timelockSpend,
} from './spend.js'
import { makeFixture, type ContractFixture } from './test-helpers/contract-fixture.js'
import { interpretInput } from './test-helpers/interpreter.js'
import { testKey } from './test-helpers/keys.js'
import type { PayoutOutput } from './terms.js'

/**
 * A guardian-leaf spend built and signed by hand, bypassing the builders' and finalizer's checks:
 * `tx` is signed by the guardians `signers` (any count) and its witness has a signature for each
 * of them and an empty push for every other key. What a rogue coordinator could broadcast.
 */
function handSigned(contract: CompiledContract, f: ContractFixture, leafName: Exclude<LeafName, 'oracle'>, tx: Transaction, signers: readonly number[]): Uint8Array {
  const leaf = contract.leaves[leafName]
  const sighash = leafSighash(contract, tx, leaf.leafHash)
  const stack = contract.terms.guardianKeys.map((_, i) => (signers.includes(i) ? { sig: i } : ('empty' as const))).reverse()
  tx.setWitness(0, leafWitness(leaf, { leaf: leafName, stack }, (i) => schnorr.sign(sighash, f.guardians[i]!.secretKey)))
  return tx.toBuffer()
}

function unsigned(psbt: Psbt): Transaction {
  return Transaction.fromBuffer(psbt.data.globalMap.unsignedTx.toBuffer())
}

describe.each(['height', 'time'] as const)('guardian spending paths with a %s lock', (unit) => {
  let f: ContractFixture
  let outputs: PayoutOutput[]

  beforeAll(() => {
    f = makeFixture(unit, `spend-${unit}`)
    outputs = [{ address: f.address('recovery'), valueSat: 995_000n }]
  })

  const interpret = (tx: Uint8Array) => interpretInput(tx, 0, [f.spent])
  const sign = (psbt: Psbt, signers: readonly number[]) => {
    for (const i of signers) signGuardianSpend(f.contract, psbt, f.guardians[i]!.secretKey)
  }

  it('ACCEPTANCE: the timelock spend at lockedUntil with 3 guardian signatures is VALID', () => {
    const psbt = timelockSpend(f.contract, f.funding, outputs)
    const lockedUntil = f.contract.terms.timelock.lockedUntil
    expect(psbt.locktime).toBe(lockedUntil)
    expect(psbt.txInputs[0]!.sequence).toBe(SPEND_SEQUENCE)
    expect(guardianSpendSighash(f.contract, psbt).leaf).toBe('timelock')
    sign(psbt, [4, 1, 3])
    const spend = finalizeGuardianSpend(f.contract, psbt)
    expect(spend.leaf).toBe('timelock')
    expect(spend.signers).toEqual([1, 3, 4])
    expect(interpret(spend.tx)).toEqual({ valid: true, error: '' })
    const tx = Transaction.fromBuffer(spend.tx)
    expect(tx.locktime).toBe(lockedUntil)
    expect(tx.getId()).toBe(spend.txid)
    expect(tx.outs.map((o) => o.value)).toEqual([995_000n])
  })

  it(`ACCEPTANCE: the timelock spend one ${unit === 'height' ? 'block' : 'second'} early FAILS`, () => {
    const psbt = timelockSpend(f.contract, f.funding, outputs)
    const early = psbt.locktime - 1
    psbt.setLocktime(early)
    // our signer refuses it outright…
    expect(errorOf(() => signGuardianSpend(f.contract, psbt, f.guardians[0]!.secretKey), DlcError).code).toBe('bad_psbt')
    // …and signed by hand, the script's CHECKLOCKTIMEVERIFY refuses it
    const tx = handSigned(f.contract, f, 'timelock', unsigned(psbt), [0, 1, 2])
    expect(Transaction.fromBuffer(tx).locktime).toBe(early)
    expect(interpret(tx)).toEqual({ valid: false, error: 'SCRIPT_ERR_UNSATISFIED_LOCKTIME' })
    // control: the same hand construction at lockedUntil is valid
    expect(interpret(handSigned(f.contract, f, 'timelock', unsigned(timelockSpend(f.contract, f.funding, outputs)), [0, 1, 2]))).toEqual({ valid: true, error: '' })
  })

  it('the timelock spend FAILS with a final nSequence (nLockTime not enforced) or a lock of the other unit', () => {
    const final = unsigned(timelockSpend(f.contract, f.funding, outputs))
    final.ins[0]!.sequence = 0xffffffff
    expect(interpret(handSigned(f.contract, f, 'timelock', final, [0, 1, 2]))).toEqual({ valid: false, error: 'SCRIPT_ERR_UNSATISFIED_LOCKTIME' })
    // a locktime far in the future but counted in the other unit does not satisfy the lock
    const mixed = unsigned(timelockSpend(f.contract, f.funding, outputs))
    mixed.locktime = unit === 'height' ? 1_900_000_000 : 800_000
    expect(interpret(handSigned(f.contract, f, 'timelock', mixed, [0, 1, 2]))).toEqual({ valid: false, error: 'SCRIPT_ERR_UNSATISFIED_LOCKTIME' })
  })

  it('the timelock spend needs 3 signatures: 2 are refused by the finalizer and FAIL the interpreter', () => {
    const psbt = timelockSpend(f.contract, f.funding, outputs)
    sign(psbt, [0, 4])
    const err = errorOf(() => finalizeGuardianSpend(f.contract, psbt), DlcError)
    expect(err.code).toBe('not_enough_signatures')
    expect(err.message).toBe('the timelock leaf needs 3 guardian signatures, the PSBT has 2 valid')
    expect(interpret(handSigned(f.contract, f, 'timelock', unsigned(psbt), [0, 4]))).toEqual({ valid: false, error: 'SCRIPT_ERR_NUMEQUALVERIFY' })
  })

  it('ACCEPTANCE: the emergency spend with 4 guardian signatures is VALID, at any time', () => {
    const psbt = emergencySpend(f.contract, f.funding, outputs)
    expect(psbt.locktime).toBe(0)
    expect(guardianSpendSighash(f.contract, psbt).leaf).toBe('emergency')
    sign(psbt, [0, 2, 3, 4])
    const spend = finalizeGuardianSpend(f.contract, psbt)
    expect(spend).toMatchObject({ leaf: 'emergency', signers: [0, 2, 3, 4] })
    expect(interpret(spend.tx)).toEqual({ valid: true, error: '' })
  })

  it('ACCEPTANCE: the emergency spend with 3 signatures FAILS (and the finalizer refuses it)', () => {
    const psbt = emergencySpend(f.contract, f.funding, outputs)
    sign(psbt, [0, 1, 2])
    expect(errorOf(() => finalizeGuardianSpend(f.contract, psbt), DlcError).code).toBe('not_enough_signatures')
    expect(interpret(handSigned(f.contract, f, 'emergency', unsigned(psbt), [0, 1, 2]))).toEqual({ valid: false, error: 'SCRIPT_ERR_EVAL_FALSE_IN_STACK' })
  })

  it('with 5 signatures the finalizer puts exactly 4 in the witness (multi_a refuses 5)', () => {
    const psbt = emergencySpend(f.contract, f.funding, outputs)
    sign(psbt, [0, 1, 2, 3, 4])
    const spend = finalizeGuardianSpend(f.contract, psbt)
    expect(spend.signers).toEqual([0, 1, 2, 3])
    expect(interpret(spend.tx)).toEqual({ valid: true, error: '' })
    expect(interpret(handSigned(f.contract, f, 'emergency', unsigned(emergencySpend(f.contract, f.funding, outputs)), [0, 1, 2, 3, 4]))).toEqual({
      valid: false,
      error: 'SCRIPT_ERR_EVAL_FALSE_IN_STACK',
    })
  })

  it('the timelock leaf with 3 signatures cannot be used as an emergency spend (nor the reverse)', () => {
    // 3 signatures on the emergency leaf script, but the lock time set as the timelock wants
    const tx = unsigned(timelockSpend(f.contract, f.funding, outputs))
    expect(interpret(handSigned(f.contract, f, 'emergency', tx, [0, 1, 2]))).toEqual({ valid: false, error: 'SCRIPT_ERR_EVAL_FALSE_IN_STACK' })
    // 3 signatures on the timelock leaf of an emergency-style spend (nLockTime 0)
    const early = unsigned(emergencySpend(f.contract, f.funding, outputs))
    expect(interpret(handSigned(f.contract, f, 'timelock', early, [0, 1, 2]))).toEqual({ valid: false, error: 'SCRIPT_ERR_UNSATISFIED_LOCKTIME' })
  })

  it('ACCEPTANCE: a guardian spend by the key path FAILS', () => {
    const tx = unsigned(emergencySpend(f.contract, f.funding, outputs))
    const keySighash = tx.hashForWitnessV1(0, [f.contract.scriptPubKey], [f.contract.terms.amountSat], Transaction.SIGHASH_DEFAULT)
    for (const g of f.guardians) {
      tx.setWitness(0, [schnorr.sign(keySighash, g.secretKey)])
      expect(interpret(tx.toBuffer()).valid).toBe(false)
    }
  })

  it('guardians sign separately (PSBT bytes in, signature out) and a coordinator collects', () => {
    const coordinator = emergencySpend(f.contract, f.funding, outputs)
    const wire = coordinator.toBase64()
    for (const i of [4, 3, 1, 0]) {
      const copy = Psbt.fromBase64(wire)
      const signature = signGuardianSpend(f.contract, copy, f.guardians[i]!.secretKey)
      addGuardianSignature(f.contract, coordinator, f.guardians[i]!.publicKey, signature)
    }
    expect(interpret(finalizeGuardianSpend(f.contract, coordinator).tx)).toEqual({ valid: true, error: '' })
  })

  it('refuses strangers, bad signatures, repeated signers and PSBTs that are not a spend of the contract', () => {
    const psbt = emergencySpend(f.contract, f.funding, outputs)
    const stranger = testKey(`spend-stranger-${unit}`)
    expect(errorOf(() => signGuardianSpend(f.contract, psbt, stranger.secretKey), DlcError).code).toBe('unknown_key')
    // an ephemeral (oracle-leaf) key is not a guardian key either
    expect(errorOf(() => addGuardianSignature(f.contract, psbt, f.contract.terms.ephemeralKeys[0]!, new Uint8Array(64)), DlcError).code).toBe('unknown_key')
    const { sighash } = guardianSpendSighash(f.contract, psbt)
    const otherMessage = schnorr.sign(new Uint8Array(32).fill(1), f.guardians[0]!.secretKey)
    expect(errorOf(() => addGuardianSignature(f.contract, psbt, f.guardians[0]!.publicKey, otherMessage), DlcError).message).toBe(
      'signature by guardian 0 does not verify for this emergency spend',
    )
    addGuardianSignature(f.contract, psbt, f.guardians[0]!.publicKey, schnorr.sign(sighash, f.guardians[0]!.secretKey))
    expect(errorOf(() => signGuardianSpend(f.contract, psbt, f.guardians[0]!.secretKey), DlcError).message).toBe('guardian 0 has already signed this emergency spend')

    // the oracle leaf, a wrong amount, a second input: not a guardian spend of this contract
    const oracleLeaf = emergencySpend(f.contract, f.funding, outputs)
    const leaf = f.contract.leaves.oracle
    oracleLeaf.data.inputs[0]!.tapLeafScript = [{ leafVersion: leaf.leafVersion, script: leaf.script, controlBlock: leaf.controlBlock }]
    expect(errorOf(() => guardianSpendSighash(f.contract, oracleLeaf), DlcError).code).toBe('bad_psbt')
    const wrongAmount = emergencySpend(f.contract, f.funding, outputs)
    wrongAmount.data.inputs[0]!.witnessUtxo = { script: f.contract.scriptPubKey, value: f.contract.terms.amountSat - 1n }
    expect(errorOf(() => guardianSpendSighash(f.contract, wrongAmount), DlcError).code).toBe('bad_psbt')
    const twoInputs = emergencySpend(f.contract, f.funding, outputs)
    twoInputs.addInput({ hash: '11'.repeat(32), index: 0, witnessUtxo: { script: f.contract.scriptPubKey, value: 1000n } })
    expect(errorOf(() => guardianSpendSighash(f.contract, twoInputs), DlcError).code).toBe('bad_psbt')
    const finalized = emergencySpend(f.contract, f.funding, outputs)
    sign(finalized, [0, 1, 2, 3])
    finalizeGuardianSpend(f.contract, finalized)
    expect(errorOf(() => finalizeGuardianSpend(f.contract, finalized), DlcError).message).toBe('input 0 is already finalized')
  })

  it('the builders refuse outputs that leave no fee, and bad outputs or funding', () => {
    expect(errorOf(() => emergencySpend(f.contract, f.funding, [{ address: f.address('x'), valueSat: f.contract.terms.amountSat }]), DlcError).code).toBe('invalid_terms')
    expect(errorOf(() => emergencySpend(f.contract, f.funding, []), DlcError).code).toBe('invalid_terms')
    expect(errorOf(() => emergencySpend(f.contract, f.funding, [{ address: 'bc1qnotanaddress', valueSat: 1000n }]), DlcError).code).toBe('invalid_terms')
    expect(errorOf(() => timelockSpend(f.contract, f.funding, [{ address: f.address('x'), valueSat: 0n }]), DlcError).code).toBe('invalid_terms')
    expect(errorOf(() => timelockSpend(f.contract, { txid: 'ab', vout: 0 }, outputs), DlcError).code).toBe('invalid_funding')
  })
})
