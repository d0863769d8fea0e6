import { schnorr } from '@noble/curves/secp256k1.js'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { Psbt, Transaction } from 'bitcoinjs-lib'
import { checkFunding, fundingHash, leafSighash, outputScript, SPEND_SEQUENCE, SPEND_TX_VERSION, type FundingOutpoint } from './funding.js'
import { leafSatisfaction, leafThreshold, leafWitness, type CompiledContract, type CompiledLeaf } from './compiler.js'
import { ecc } from './ecc.js'
import { DlcError } from './errors.js'
import type { PayoutOutput } from './terms.js'

/**
 * The guardians' spending paths of a contract output, as PSBTs (BIP-174/371): the timelock leaf
 * (`timelockThreshold` guardian signatures, nLockTime = lockedUntil) and the emergency leaf
 * (`emergencyThreshold` guardian signatures, any time). A builder makes the unsigned PSBT, each
 * guardian checks and signs it with its own key, and the finalizer picks exactly the threshold of
 * valid signatures (multi_a counts every valid one: more would fail NUMEQUAL) and produces the
 * raw transaction. Which outputs to pay, and so the fee, is the caller's decision.
 */

/** The leaves guardian keys sign. */
export type GuardianLeaf = 'timelock' | 'emergency'

/** A finalized spend, ready to broadcast. */
export interface FinalizedSpend {
  readonly tx: Uint8Array
  readonly txid: string
  readonly leaf: GuardianLeaf
  /** Indices in the terms' guardian keys of the signatures in the witness. */
  readonly signers: readonly number[]
}

/**
 * The unsigned PSBT spending the contract output by the timelock leaf: nLockTime = lockedUntil
 * (what CHECKLOCKTIMEVERIFY needs at least), nSequence 0xfffffffe. Consensus then lets it into
 * the first block above height lockedUntil, or once the median time past exceeds lockedUntil.
 */
export function timelockSpend(contract: CompiledContract, funding: FundingOutpoint, outputs: readonly PayoutOutput[]): Psbt {
  return guardianSpend(contract, 'timelock', funding, outputs)
}

/** The unsigned PSBT spending the contract output by the emergency leaf (nLockTime 0). */
export function emergencySpend(contract: CompiledContract, funding: FundingOutpoint, outputs: readonly PayoutOutput[]): Psbt {
  return guardianSpend(contract, 'emergency', funding, outputs)
}

function guardianSpend(contract: CompiledContract, name: GuardianLeaf, funding: FundingOutpoint, outputs: readonly PayoutOutput[]): Psbt {
  checkFunding(funding)
  if (outputs.length === 0) throw new DlcError('invalid_terms', 'a spend needs at least one output')
  let total = 0n
  for (const output of outputs) {
    if (typeof output.valueSat !== 'bigint' || output.valueSat <= 0n) throw new DlcError('invalid_terms', `output to ${output.address} must be a positive amount`)
    total += output.valueSat
  }
  if (total >= contract.terms.amountSat) {
    throw new DlcError('invalid_terms', `outputs total ${total} sat, leaving no fee from the contract's ${contract.terms.amountSat} sat`)
  }
  const leaf = contract.leaves[name]
  const psbt = new Psbt()
  psbt.setVersion(SPEND_TX_VERSION)
  psbt.setLocktime(name === 'timelock' ? contract.terms.timelock.lockedUntil : 0)
  psbt.addInput({
    hash: fundingHash(funding),
    index: funding.vout,
    sequence: SPEND_SEQUENCE,
    witnessUtxo: { script: contract.scriptPubKey, value: contract.terms.amountSat },
    tapInternalKey: contract.internalKey,
    tapMerkleRoot: contract.merkleRoot,
    tapLeafScript: [{ leafVersion: leaf.leafVersion, script: leaf.script, controlBlock: leaf.controlBlock }],
  })
  for (const output of outputs) psbt.addOutput({ script: outputScript(contract, output.address), value: output.valueSat })
  return psbt
}

/**
 * Which guardian leaf the PSBT spends and the sighash a guardian signs for it (BIP-341 script
 * path, SIGHASH_DEFAULT). Checks first that it is a spend of this contract's output by one of its
 * guardian leaves: one input, the contract's script and amount, the leaf's script and control
 * block, and for the timelock leaf nLockTime = lockedUntil with a non-final nSequence.
 * Throws DlcError('bad_psbt') naming what is wrong.
 */
export function guardianSpendSighash(contract: CompiledContract, psbt: Psbt): { readonly leaf: GuardianLeaf; readonly sighash: Uint8Array } {
  const leaf = checkGuardianPsbt(contract, psbt)
  return { leaf: leaf.name as GuardianLeaf, sighash: leafSighash(contract, unsignedTx(psbt), leaf.leafHash) }
}

/**
 * A guardian signs the PSBT with its key (one of the terms' guardian keys): checks the PSBT as
 * `guardianSpendSighash` does, adds the BIP-340 signature as tapScriptSig, and returns it (for a
 * guardian that sends its signature rather than the PSBT). Mutates `psbt`.
 * Throws DlcError('unknown_key') for a key that is not a guardian key of the contract.
 */
export function signGuardianSpend(contract: CompiledContract, psbt: Psbt, secretKey: Uint8Array): Uint8Array {
  const publicKey = schnorr.getPublicKey(secretKey)
  guardianIndex(contract, publicKey)
  const { sighash } = guardianSpendSighash(contract, psbt)
  const signature = schnorr.sign(sighash, secretKey)
  addGuardianSignature(contract, psbt, publicKey, signature)
  return signature
}

/**
 * Adds one guardian's signature (made elsewhere) to the PSBT after checking it against the PSBT's
 * sighash; replaces nothing (a second signature by the same key is refused). Mutates `psbt`.
 * Throws DlcError('unknown_key') or DlcError('bad_psbt').
 */
export function addGuardianSignature(contract: CompiledContract, psbt: Psbt, publicKey: Uint8Array, signature: Uint8Array): void {
  const index = guardianIndex(contract, publicKey)
  const leaf = checkGuardianPsbt(contract, psbt)
  const sighash = leafSighash(contract, unsignedTx(psbt), leaf.leafHash)
  if (!(signature instanceof Uint8Array) || signature.length !== 64 || !ecc.verifySchnorr(sighash, publicKey, signature)) {
    throw new DlcError('bad_psbt', `signature by guardian ${index} does not verify for this ${leaf.name} spend`)
  }
  const existing = psbt.data.inputs[0]!.tapScriptSig ?? []
  if (existing.some((s) => equalBytes(s.pubkey, publicKey) && equalBytes(s.leafHash, leaf.leafHash))) {
    throw new DlcError('bad_psbt', `guardian ${index} has already signed this ${leaf.name} spend`)
  }
  psbt.updateInput(0, { tapScriptSig: [{ pubkey: publicKey, signature, leafHash: leaf.leafHash }] })
}

/**
 * Finalizes the PSBT: keeps the guardian signatures that verify, needs the leaf's threshold of
 * them, puts exactly that many (lowest guardian indices first) into the multi_a witness, and
 * returns the raw transaction. The PSBT is left finalized. Throws DlcError('not_enough_signatures').
 */
export function finalizeGuardianSpend(contract: CompiledContract, psbt: Psbt): FinalizedSpend {
  const leaf = checkGuardianPsbt(contract, psbt)
  const name = leaf.name as GuardianLeaf
  const sighash = leafSighash(contract, unsignedTx(psbt), leaf.leafHash)
  const signatures = new Map<number, Uint8Array>()
  for (const s of psbt.data.inputs[0]!.tapScriptSig ?? []) {
    const index = contract.terms.guardianKeys.findIndex((k) => equalBytes(k, s.pubkey))
    if (index >= 0 && equalBytes(s.leafHash, leaf.leafHash) && s.signature.length === 64 && ecc.verifySchnorr(sighash, s.pubkey, s.signature)) {
      signatures.set(index, s.signature)
    }
  }
  const threshold = leafThreshold(contract.terms, name)
  if (signatures.size < threshold) {
    throw new DlcError('not_enough_signatures', `the ${name} leaf needs ${threshold} guardian signatures, the PSBT has ${signatures.size} valid`)
  }
  const signers = [...signatures.keys()].sort((a, b) => a - b).slice(0, threshold)
  const witness = leafWitness(leaf, leafSatisfaction(leaf, contract.terms, signers), (i) => signatures.get(i)!)
  psbt.finalizeTaprootInput(0, leaf.leafHash, () => ({ finalScriptWitness: serializeWitness(witness) }))
  const tx = psbt.extractTransaction()
  return { tx: tx.toBuffer(), txid: tx.getId(), leaf: name, signers }
}

function checkGuardianPsbt(contract: CompiledContract, psbt: Psbt): CompiledLeaf {
  const fail = (why: string): never => {
    throw new DlcError('bad_psbt', why)
  }
  if (psbt.inputCount !== 1) fail(`a contract spend has exactly one input, this PSBT has ${psbt.inputCount}`)
  const input = psbt.data.inputs[0]!
  const utxo = input.witnessUtxo
  if (utxo === undefined || !equalBytes(utxo.script, contract.scriptPubKey) || utxo.value !== contract.terms.amountSat) {
    fail(`input 0 does not spend the contract output (${contract.address}, ${contract.terms.amountSat} sat)`)
  }
  if (input.finalScriptWitness !== undefined) fail('input 0 is already finalized')
  const scripts = input.tapLeafScript ?? []
  const leaf = (['timelock', 'emergency'] as const)
    .map((name) => contract.leaves[name])
    .find((l) => scripts.length === 1 && equalBytes(scripts[0]!.script, l.script) && equalBytes(scripts[0]!.controlBlock, l.controlBlock) && scripts[0]!.leafVersion === l.leafVersion)
  if (leaf === undefined) return fail("input 0 must carry exactly one tapLeafScript: the contract's timelock or emergency leaf")
  if (leaf.name === 'timelock') {
    const lockedUntil = contract.terms.timelock.lockedUntil
    if (psbt.locktime !== lockedUntil) fail(`a timelock spend has nLockTime ${lockedUntil}, this PSBT ${psbt.locktime}`)
    if (psbt.txInputs[0]!.sequence === 0xffffffff) fail('a timelock spend needs a non-final nSequence, or nLockTime is not enforced')
  }
  return leaf
}

function guardianIndex(contract: CompiledContract, publicKey: Uint8Array): number {
  const index = contract.terms.guardianKeys.findIndex((k) => equalBytes(k, publicKey))
  if (index < 0) throw new DlcError('unknown_key', `key ${bytesToHex(publicKey)} is not a guardian key of the contract`)
  return index
}

function unsignedTx(psbt: Psbt): Transaction {
  return Transaction.fromBuffer(psbt.data.globalMap.unsignedTx.toBuffer())
}

/** A witness stack in its serialized form (compact-size count, then each item with its compact-size length). */
function serializeWitness(stack: readonly Uint8Array[]): Uint8Array {
  const parts = [compactSize(stack.length), ...stack.flatMap((item) => [compactSize(item.length), item])]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n)
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8)
  return Uint8Array.of(0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24)
}
