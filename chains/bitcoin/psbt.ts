import { Psbt, Transaction } from 'bitcoinjs-lib'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { p2trScript, taprootOutputKey } from './address.js'
import { ecc } from './ecc.js'
import { BitcoinError } from './errors.js'

/**
 * PSBT co-signing for the reserve: the guardians receive a PSBT (BIP-174/371) that spends reserve
 * outputs, check it, compute the key-path sighash of each reserve input, sign it with one FROST
 * session per input, and put the signatures back. Only the key path exists (no script tree), so a
 * reserve input is complete with one 64-byte BIP-340 signature (SIGHASH_DEFAULT).
 */

/** Largest PSBT accepted, in bytes. */
export const MAX_PSBT_BYTES = 12 * 1024

/** Largest amount a witnessUtxo may carry (21 million BTC in satoshis). */
const MAX_MONEY = 2_100_000_000_000_000n

/** A checked PSBT that spends reserve outputs. */
export interface ReservePsbt {
  /**
   * The txid of the unsigned transaction, as block explorers show it (hex of the byte-reversed
   * double sha256 of its serialization without witnesses). Signing adds only witnesses, so this is
   * also the txid of the final transaction; it names the signing session.
   */
  id: string
  /** Indexes of the inputs whose witnessUtxo.script equals the reserve script, ascending. */
  inputs: number[]
  psbt: Psbt
}

/**
 * Parses and checks a PSBT that spends reserve outputs: size ≤ 12 KiB; every input has a
 * witnessUtxo (taproot sighashes commit to all prevouts) with a sane amount; no prevout is spent
 * twice; at least one input is the reserve's P2TR script; reserve inputs are key path only (no
 * tapLeafScript / tapScriptSig / tapMerkleRoot, a tapInternalKey if any must tweak to the reserve
 * key), ask for SIGHASH_DEFAULT, and are not already signed or finalized. Throws
 * BitcoinError('bad_psbt', why).
 */
export function parseReservePsbt(psbtBytes: Uint8Array, reserveOutputKeyXOnly: Uint8Array): ReservePsbt {
  const reserveScript = p2trScript(reserveOutputKeyXOnly)
  if (!(psbtBytes instanceof Uint8Array) || psbtBytes.length === 0) throw new BitcoinError('bad_psbt', 'PSBT is empty')
  if (psbtBytes.length > MAX_PSBT_BYTES) throw new BitcoinError('bad_psbt', `PSBT is ${psbtBytes.length} bytes, more than ${MAX_PSBT_BYTES}`)
  let psbt: Psbt
  try {
    psbt = Psbt.fromBuffer(psbtBytes)
  } catch (err) {
    throw new BitcoinError('bad_psbt', `PSBT does not parse: ${(err as Error).message}`, { cause: err })
  }
  const fail = (why: string): never => {
    throw new BitcoinError('bad_psbt', why)
  }
  if (psbt.inputCount === 0) fail('PSBT has no inputs')
  const seen = new Set<string>()
  for (const txIn of psbt.txInputs) {
    const outpoint = `${bytesToHex(txIn.hash)}:${txIn.index}`
    if (seen.has(outpoint)) fail(`PSBT spends prevout ${outpoint} twice`)
    seen.add(outpoint)
  }
  const inputs: number[] = []
  psbt.data.inputs.forEach((input, i) => {
    const utxo = input.witnessUtxo
    if (utxo === undefined) return fail(`input ${i} has no witnessUtxo (needed for taproot sighashes)`)
    if (utxo.value < 0n || utxo.value > MAX_MONEY) fail(`input ${i}: witnessUtxo amount ${utxo.value} is out of range`)
    if (!equalBytes(utxo.script, reserveScript)) return
    if (input.tapLeafScript !== undefined && input.tapLeafScript.length > 0) fail(`reserve input ${i} carries tapLeafScript: the reserve has no script path`)
    if (input.tapScriptSig !== undefined && input.tapScriptSig.length > 0) fail(`reserve input ${i} carries tapScriptSig: the reserve has no script path`)
    if (input.tapMerkleRoot !== undefined) fail(`reserve input ${i} carries tapMerkleRoot: the reserve has no script tree`)
    if (input.partialSig !== undefined && input.partialSig.length > 0) fail(`reserve input ${i} carries ECDSA partial signatures`)
    if (input.tapKeySig !== undefined) fail(`reserve input ${i} is already signed (tapKeySig)`)
    if (input.finalScriptWitness !== undefined || input.finalScriptSig !== undefined) fail(`reserve input ${i} is already finalized`)
    if (input.sighashType !== undefined && input.sighashType !== Transaction.SIGHASH_DEFAULT) {
      fail(`reserve input ${i} asks for sighash type ${input.sighashType}; the reserve signs SIGHASH_DEFAULT only`)
    }
    if (input.tapInternalKey !== undefined) {
      let outputKey: Uint8Array | null = null
      try {
        outputKey = taprootOutputKey(input.tapInternalKey).outputKey
      } catch {
        // reported below
      }
      if (outputKey === null || !equalBytes(outputKey, reserveOutputKeyXOnly)) fail(`reserve input ${i}: tapInternalKey does not tweak to the reserve output key`)
    }
    inputs.push(i)
  })
  if (inputs.length === 0) fail('PSBT spends no reserve output (no input has the reserve P2TR script as witnessUtxo)')
  return { id: unsignedTx(psbt).getId(), inputs, psbt }
}

/** The SIGHASH_DEFAULT key-path sighash of each reserve input, in `inputs` order (uses all prevouts' witnessUtxo). */
export function reserveInputSighashes(p: ReservePsbt): Uint8Array[] {
  const tx = unsignedTx(p.psbt)
  const prevouts = p.psbt.data.inputs.map((input, i) => {
    if (input.witnessUtxo === undefined) throw new BitcoinError('bad_psbt', `input ${i} has no witnessUtxo`)
    return input.witnessUtxo
  })
  const scripts = prevouts.map((u) => u.script)
  const values = prevouts.map((u) => u.value)
  return p.inputs.map((i) => tx.hashForWitnessV1(i, scripts, values, Transaction.SIGHASH_DEFAULT))
}

/**
 * Adds the 64-byte signatures as tapKeySig of the reserve inputs (in `inputs` order), checks each
 * with the output key, and returns the PSBT bytes with those inputs finalized (witness = [sig]);
 * other inputs are left as they were, and `p` itself is not modified. Throws
 * BitcoinError('bad_signature_encoding') for a wrong count or length and BitcoinError('bad_psbt')
 * when a signature does not verify or the key is not the one the inputs pay.
 */
export function applyReserveSignatures(p: ReservePsbt, reserveOutputKeyXOnly: Uint8Array, signatures: readonly Uint8Array[]): Uint8Array {
  const reserveScript = p2trScript(reserveOutputKeyXOnly)
  if (signatures.length !== p.inputs.length) {
    throw new BitcoinError('bad_signature_encoding', `${signatures.length} signatures for ${p.inputs.length} reserve inputs`)
  }
  const sighashes = reserveInputSighashes(p)
  const psbt = p.psbt.clone()
  p.inputs.forEach((inputIndex, k) => {
    const sig = signatures[k]!
    if (!equalBytes(psbt.data.inputs[inputIndex]?.witnessUtxo?.script ?? new Uint8Array(0), reserveScript)) {
      throw new BitcoinError('bad_psbt', `input ${inputIndex} does not pay the given reserve key`)
    }
    if (sig.length !== 64) throw new BitcoinError('bad_signature_encoding', `signature for reserve input ${inputIndex} is ${sig.length} bytes, expected 64`)
    if (!ecc.verifySchnorr(sighashes[k]!, reserveOutputKeyXOnly, sig)) {
      throw new BitcoinError('bad_psbt', `signature for reserve input ${inputIndex} does not verify against the reserve output key`)
    }
    psbt.updateInput(inputIndex, { tapKeySig: Uint8Array.from(sig) })
    psbt.finalizeInput(inputIndex)
  })
  return psbt.toBuffer()
}

/** The PSBT's unsigned transaction, as a bitcoinjs Transaction (a fresh copy). */
function unsignedTx(psbt: Psbt): Transaction {
  return Transaction.fromBuffer(psbt.data.globalMap.unsignedTx.toBuffer())
}
