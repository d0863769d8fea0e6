import { crypto as btcCrypto, script as btcScript, Transaction } from 'bitcoinjs-lib'
import { equalBytes } from '@noble/curves/utils.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import type { BitcoinNetwork } from '../../protocol/index.js'
import { decodeAddress } from './address.js'
import { ecc, taggedHash } from './ecc.js'
import { BitcoinError } from './errors.js'

/**
 * BIP-322 generic signed messages, "simple" variant: the signature is the witness stack that
 * spends the virtual `to_spend` output (locked by the address's scriptPubKey and committing to the
 * message) in the virtual `to_sign` transaction. Signing happens elsewhere (FROST signs
 * bip322TaprootSighash); this module builds the transactions, encodes witnesses and verifies.
 */

/** Tag of the BIP-322 message hash. */
export const BIP322_TAG = 'BIP0322-signed-message'

/** Largest simple signature accepted, decoded (a P2TR proof is 66 bytes, a P2WPKH one ~108). */
export const MAX_SIMPLE_SIGNATURE_BYTES = 16 * 1024
/** Most witness elements accepted in a simple signature (the P2WSH standardness limit). */
export const MAX_WITNESS_ITEMS = 100

const OP_RETURN = 0x6a
const SEQUENCE_ZERO = 0

/** The message hash committed in `to_spend`: tagged sha256 with tag 'BIP0322-signed-message'. */
export function bip322MessageHash(message: Uint8Array): Uint8Array {
  return taggedHash(BIP322_TAG, message)
}

/**
 * The virtual `to_spend` transaction of BIP-322: version 0, one input spending output 0xFFFFFFFF
 * of the all-zero txid with scriptSig OP_0 PUSH32[message hash] and sequence 0, one output of 0
 * sat locked by `scriptPubKey` (the signing address's script), locktime 0.
 */
export function bip322ToSpend(scriptPubKey: Uint8Array, message: Uint8Array): Transaction {
  const tx = new Transaction()
  tx.version = 0
  tx.locktime = 0
  const scriptSig = new Uint8Array(34)
  scriptSig[0] = 0x00
  scriptSig[1] = 0x20
  scriptSig.set(bip322MessageHash(message), 2)
  tx.addInput(new Uint8Array(32), 0xffffffff, SEQUENCE_ZERO, scriptSig)
  tx.addOutput(scriptPubKey, 0n)
  return tx
}

/**
 * The virtual `to_sign` transaction of BIP-322: version 0, one input spending `to_spend`:0 with
 * sequence 0 and the given witness (empty when omitted, as when computing the sighash), one output
 * of 0 sat with script OP_RETURN, locktime 0.
 */
export function bip322ToSign(toSpend: Transaction, witness?: readonly Uint8Array[]): Transaction {
  const tx = new Transaction()
  tx.version = 0
  tx.locktime = 0
  tx.addInput(toSpend.getHash(), 0, SEQUENCE_ZERO)
  tx.setWitness(0, [...(witness ?? [])])
  tx.addOutput(Uint8Array.of(OP_RETURN), 0n)
  return tx
}

/**
 * The BIP-341 key-path sighash (SIGHASH_DEFAULT) that a P2TR key signs in a BIP-322 simple
 * signature of `message`: what the guardians' FROST session signs for a proof of reserves. The
 * 64-byte BIP-340 signature over it, as a one-element witness, is the proof.
 */
export function bip322TaprootSighash(scriptPubKey: Uint8Array, message: Uint8Array): Uint8Array {
  return taprootSighash(scriptPubKey, message, Transaction.SIGHASH_DEFAULT)
}

/** base64 BIP-322 "simple" signature: the consensus encoding of the to_sign input witness stack. */
export function encodeSimpleSignature(witness: readonly Uint8Array[]): string {
  const parts: Uint8Array[] = [compactSize(witness.length)]
  for (const item of witness) parts.push(compactSize(item.length), item)
  return Buffer.concat(parts).toString('base64')
}

/**
 * Decodes a base64 simple signature into its witness stack. Strict: canonical padded base64 (no
 * whitespace), minimal compact sizes, every byte consumed, at most MAX_SIMPLE_SIGNATURE_BYTES and
 * MAX_WITNESS_ITEMS. Throws BitcoinError('bad_signature_encoding'). A BIP-322 "full" signature
 * (a whole transaction) does not decode as a witness stack and is refused.
 */
export function decodeSimpleSignature(signature: string): Uint8Array[] {
  const fail = (why: string): never => {
    throw new BitcoinError('bad_signature_encoding', `signature: ${why}`)
  }
  if (typeof signature !== 'string' || signature.length === 0) return fail('empty')
  if (signature.length > Math.ceil(MAX_SIMPLE_SIGNATURE_BYTES / 3) * 4) return fail(`longer than ${MAX_SIMPLE_SIGNATURE_BYTES} bytes`)
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(signature)) return fail('not base64 (standard alphabet, padded, no whitespace)')
  const bytes = new Uint8Array(Buffer.from(signature, 'base64'))
  if (Buffer.from(bytes).toString('base64') !== signature) return fail('non-canonical base64 (padding bits set)')
  let offset = 0
  const readSize = (what: string): number => {
    const first = bytes[offset]
    if (first === undefined) return fail(`truncated: ${what} missing`)
    offset += 1
    if (first < 0xfd) return first
    if (first === 0xfd) {
      if (offset + 2 > bytes.length) return fail(`truncated: ${what} missing`)
      const value = bytes[offset]! | (bytes[offset + 1]! << 8)
      offset += 2
      if (value < 0xfd) return fail(`non-minimal size encoding of ${what}`)
      return value
    }
    // 0xfe / 0xff introduce sizes ≥ 65536, beyond any limit here.
    return fail(`${what} too large`)
  }
  const count = readSize('witness item count')
  if (count > MAX_WITNESS_ITEMS) return fail(`${count} witness items (at most ${MAX_WITNESS_ITEMS})`)
  const witness: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const length = readSize(`length of witness item ${i}`)
    if (offset + length > bytes.length) return fail(`truncated: witness item ${i} needs ${length} bytes, ${bytes.length - offset} left`)
    witness.push(bytes.slice(offset, offset + length))
    offset += length
  }
  if (offset !== bytes.length) return fail(`${bytes.length - offset} bytes after the witness stack (a "full" BIP-322 signature is not supported)`)
  return witness
}

/** What verifySimpleSignature checks: `signature` by `address` over `message` (a string is UTF-8 encoded). */
export interface SimpleSignatureInput {
  address: string
  message: Uint8Array | string
  signature: string
  network?: BitcoinNetwork
}

/** Outcome of verifySimpleSignature. */
export type SimpleSignatureVerdict = { valid: true; type: 'p2tr' | 'p2wpkh' } | { valid: false; reason: string }

/**
 * Full BIP-322 simple verification for P2TR key path (64-byte sig = SIGHASH_DEFAULT or 65-byte with
 * explicit type 0x01 = SIGHASH_ALL) and P2WPKH (strict-DER low-s ECDSA with SIGHASH_ALL, BIP-143
 * sighash, compressed pubkey that must hash to the program). Other sighash types, script-path
 * spends, annexes and P2WSH are refused. A string message is UTF-8 encoded. `network`, when given,
 * must be the address's network. Never throws on bad input: returns {valid:false, reason}.
 */
export function verifySimpleSignature(input: SimpleSignatureInput): SimpleSignatureVerdict {
  try {
    return verifyOrThrow(input)
  } catch (err) {
    if (err instanceof BitcoinError) return { valid: false, reason: err.message }
    return { valid: false, reason: `verification failed: ${err instanceof Error ? err.message : String(err)}` }
  }
}

function verifyOrThrow(input: SimpleSignatureInput): SimpleSignatureVerdict {
  const invalid = (reason: string): SimpleSignatureVerdict => ({ valid: false, reason })
  if (typeof input !== 'object' || input === null) return invalid('no input')
  const { message, signature, network } = input
  const messageBytes = typeof message === 'string' ? utf8ToBytes(message) : message
  if (!(messageBytes instanceof Uint8Array)) return invalid('message must be a string or bytes')
  const address = decodeAddress(input.address, network)
  const witness = decodeSimpleSignature(signature)

  if (address.type === 'p2tr') {
    if (witness.length !== 1) return invalid(`a P2TR key-path signature is a 1-element witness, got ${witness.length} elements`)
    const sig = witness[0]!
    let hashType: number
    if (sig.length === 64) hashType = Transaction.SIGHASH_DEFAULT
    else if (sig.length === 65 && sig[64] === Transaction.SIGHASH_ALL) hashType = Transaction.SIGHASH_ALL
    else if (sig.length === 65) return invalid(`P2TR signature has sighash type 0x${sig[64]!.toString(16).padStart(2, '0')}; only SIGHASH_DEFAULT (64 bytes) or SIGHASH_ALL (0x01) are accepted`)
    else return invalid(`a P2TR signature is 64 or 65 bytes, got ${sig.length}`)
    const sighash = taprootSighash(address.scriptPubKey, messageBytes, hashType)
    if (!ecc.verifySchnorr(sighash, address.program, sig.subarray(0, 64))) return invalid('the Schnorr signature does not verify for this address and message')
    return { valid: true, type: 'p2tr' }
  }

  if (address.type === 'p2wpkh') {
    if (witness.length !== 2) return invalid(`a P2WPKH signature is a 2-element witness (signature, public key), got ${witness.length} elements`)
    const [encoded, publicKey] = witness as [Uint8Array, Uint8Array]
    if (publicKey.length !== 33 || !ecc.isPoint(publicKey)) return invalid('the witness public key is not a compressed secp256k1 public key')
    if (!equalBytes(btcCrypto.hash160(publicKey), address.program)) return invalid('the witness public key does not belong to this address')
    if (encoded.length === 0 || encoded[encoded.length - 1] !== Transaction.SIGHASH_ALL) return invalid('the ECDSA signature must end with sighash type SIGHASH_ALL (0x01)')
    let sig: Uint8Array
    try {
      sig = btcScript.signature.decode(encoded).signature
    } catch (err) {
      return invalid(`the ECDSA signature is not strict DER: ${(err as Error).message}`)
    }
    const scriptCode = Uint8Array.of(0x76, 0xa9, 0x14, ...address.program, 0x88, 0xac) // OP_DUP OP_HASH160 <program> OP_EQUALVERIFY OP_CHECKSIG
    const toSign = bip322ToSign(bip322ToSpend(address.scriptPubKey, messageBytes))
    const sighash = toSign.hashForWitnessV0(0, scriptCode, 0n, Transaction.SIGHASH_ALL)
    const verifies = (lowS: boolean): boolean => {
      try {
        return ecc.verify(sighash, publicKey, sig, lowS)
      } catch {
        return false // r or s out of range
      }
    }
    if (verifies(true)) return { valid: true, type: 'p2wpkh' }
    if (verifies(false)) return invalid('the ECDSA signature has a high s (non-standard, malleated); BIP-322 requires low s')
    return invalid('the ECDSA signature does not verify for this address and message')
  }

  return invalid(`BIP-322 verification of ${address.type.toUpperCase()} addresses is not supported (only P2TR key path and P2WPKH)`)
}

function taprootSighash(scriptPubKey: Uint8Array, message: Uint8Array, hashType: number): Uint8Array {
  const toSign = bip322ToSign(bip322ToSpend(scriptPubKey, message))
  return toSign.hashForWitnessV1(0, [scriptPubKey], [0n], hashType)
}

function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n)
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8)
  throw new BitcoinError('bad_signature_encoding', `witness item of ${n} bytes is too large`)
}
