import bitcore from 'bitcore-lib'

/**
 * An independent check of our transactions: bitcore-lib's port of Bitcoin Core's script
 * interpreter (taproot, tapscript, CHECKSIGADD, CLTV) runs each input's witness against the
 * output it spends. It shares no code with bitcoinjs-lib, miniscript or our signing, so a
 * transaction it accepts is not valid merely because our own code agrees with itself.
 *
 * Known quirks, handled here or by the callers:
 * - CLEANSTACK must not be passed: at top level bitcore checks it against the (empty) scriptSig
 *   stack of a native segwit spend and fails every one of them.
 * - Its Schnorr code mishandles x-only keys with a leading zero byte: tests regenerate such keys
 *   (see `keys.ts`), so that a FAIL never comes from the quirk.
 * - BIP-341 sighashes commit to every spent output: each input's `output` must be set, which a
 *   parsed transaction does not carry, hence `spent`.
 */

const I = bitcore.Script.Interpreter

/** Bitcoin Core's standard script flags that bitcore implements, minus CLEANSTACK (see above). */
export const STANDARD_FLAGS =
  I.SCRIPT_VERIFY_P2SH |
  I.SCRIPT_VERIFY_STRICTENC |
  I.SCRIPT_VERIFY_DERSIG |
  I.SCRIPT_VERIFY_LOW_S |
  I.SCRIPT_VERIFY_NULLDUMMY |
  I.SCRIPT_VERIFY_MINIMALDATA |
  I.SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_NOPS |
  I.SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY |
  I.SCRIPT_VERIFY_CHECKSEQUENCEVERIFY |
  I.SCRIPT_VERIFY_WITNESS |
  I.SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM |
  I.SCRIPT_VERIFY_MINIMALIF |
  I.SCRIPT_VERIFY_NULLFAIL |
  I.SCRIPT_VERIFY_WITNESS_PUBKEYTYPE |
  I.SCRIPT_VERIFY_TAPROOT |
  I.SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION |
  I.SCRIPT_VERIFY_DISCOURAGE_OP_SUCCESS |
  I.SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_PUBKEYTYPE

/** An output being spent: its scriptPubKey and value. */
export interface SpentOutput {
  readonly script: Uint8Array
  readonly value: bigint
}

/**
 * The interpreter's verdict on one input; `error` is bitcore's SCRIPT_ERR_… code ('' when valid;
 * 'SCRIPT_ERR_UNKNOWN' when bitcore gave no reason, as for a failed key-path signature).
 */
export interface InterpreterVerdict {
  readonly valid: boolean
  readonly error: string
}

/**
 * Runs bitcore's interpreter on input `index` of the serialized transaction `rawTx`, whose inputs
 * spend `spent` (one per input, in order). Never throws on a bad script or signature: an
 * exception inside bitcore is reported as a failure with its message.
 */
export function interpretInput(rawTx: Uint8Array, index: number, spent: readonly SpentOutput[], flags = STANDARD_FLAGS): InterpreterVerdict {
  const tx = new bitcore.Transaction(Buffer.from(rawTx))
  if (spent.length !== tx.inputs.length) throw new Error(`${spent.length} spent outputs for ${tx.inputs.length} inputs`)
  tx.inputs.forEach((input, i) => {
    const out = spent[i]!
    input.output = new bitcore.Transaction.Output({ script: Buffer.from(out.script), satoshis: Number(out.value) })
  })
  const input = tx.inputs[index]
  if (input === undefined) throw new Error(`transaction has no input ${index}`)
  const spentOutput = spent[index]!
  const interpreter = new I()
  try {
    const valid = interpreter.verify(
      input.script,
      new bitcore.Script(Buffer.from(spentOutput.script)),
      tx,
      index,
      flags,
      input.getWitnesses(),
      Number(spentOutput.value),
    )
    return { valid, error: valid ? '' : interpreter.errstr || 'SCRIPT_ERR_UNKNOWN' }
  } catch (err) {
    return { valid: false, error: `exception: ${(err as Error).message}` }
  }
}
