import { hexToBytes } from '@noble/hashes/utils.js'
import { address as baddress, Transaction } from 'bitcoinjs-lib'
import { bitcoinjsNetwork, type CompiledContract } from './compiler.js'
import { DlcError } from './errors.js'

/**
 * The contract's funding output and what every transaction spending it (the CETs, the timelock
 * and emergency spends) has in common: one input spending it, version 2, a non-final nSequence,
 * BIP-341 script-path sighashes over the contract output.
 */

/** The contract's funding output: the transaction that pays the contract address, and which output. */
export interface FundingOutpoint {
  /** As block explorers show it (byte-reversed hex). */
  readonly txid: string
  readonly vout: number
}

/** nSequence of a CET and of the path spends: not final, so that nLockTime is enforced; no BIP-68 relative lock. */
export const SPEND_SEQUENCE = 0xfffffffe
/** Transaction version of the CET and the path spends (what Bitcoin Core creates). */
export const SPEND_TX_VERSION = 2

/** Throws DlcError('invalid_funding') unless the outpoint is 64 lowercase hex digits and a u32. */
export function checkFunding(funding: FundingOutpoint): void {
  if (typeof funding?.txid !== 'string' || !/^[0-9a-f]{64}$/.test(funding.txid)) {
    throw new DlcError('invalid_funding', 'funding txid must be 64 lowercase hex digits')
  }
  if (!Number.isInteger(funding.vout) || funding.vout < 0 || funding.vout > 0xffffffff) {
    throw new DlcError('invalid_funding', `funding vout ${String(funding.vout)} is not an output index (u32)`)
  }
}

/** The funding txid as an input's prevout hash (internal byte order). */
export function fundingHash(funding: FundingOutpoint): Uint8Array {
  return hexToBytes(funding.txid).reverse()
}

/** The BIP-341 script-path sighash (SIGHASH_DEFAULT) of input 0 of `tx`, which spends the contract output by the leaf `leafHash`. */
export function leafSighash(contract: CompiledContract, tx: Transaction, leafHash: Uint8Array): Uint8Array {
  return tx.hashForWitnessV1(0, [contract.scriptPubKey], [contract.terms.amountSat], Transaction.SIGHASH_DEFAULT, leafHash)
}

/** The output script of an address on the contract's network; DlcError('invalid_terms') if it is not one. */
export function outputScript(contract: CompiledContract, address: string): Uint8Array {
  try {
    return baddress.toOutputScript(address, bitcoinjsNetwork(contract.terms.network))
  } catch (err) {
    throw new DlcError('invalid_terms', `${JSON.stringify(address)} is not a ${contract.terms.network} address`, { cause: err })
  }
}
