import { secp256k1 } from '@noble/curves/secp256k1.js'
import { equalBytes } from '@noble/curves/utils.js'
import { Transaction } from 'bitcoinjs-lib'
import { adaptorVerify, adaptSignature, decodeAdaptorSignature, ADAPTOR_SIGNATURE_BYTES } from './adaptor.js'
import { leafSatisfaction, leafWitness, type CompiledContract } from './compiler.js'
import { ecc } from './ecc.js'
import { DlcError } from './errors.js'
import { checkFunding, fundingHash, leafSighash, outputScript, SPEND_SEQUENCE, SPEND_TX_VERSION, type FundingOutpoint } from './funding.js'
import { attestationPoint, attestationSecret, oraclePairPoint, verifyOracleAttestation, type OracleAttestation } from './oracle/index.js'

/**
 * Contract execution transactions (CETs): one per announced outcome, spending the contract output
 * by the oracle leaf and paying that outcome's payouts. Each guardian's ephemeral key pre-signs
 * every CET once per pair of oracles with an adaptor signature under the pair's attestation point
 * S_a + S_b (dlcspecs MultiOracle.md, 2-of-3): anyone can check the pre-signatures, and only the
 * two oracles' attestations of that outcome (whose scalars s_a + s_b are the adaptor secret) turn
 * them into valid signatures. With the ephemeral secrets erased, the oracle path can pay nothing
 * but the pre-agreed CETs.
 */

/** One guardian's adaptor signature of one outcome's CET, for one pair of oracles. */
export interface CetPreSignature {
  readonly outcome: string
  /** Indices of the two oracles' announcements in the terms, a < b. */
  readonly oracles: readonly [number, number]
  /** Index of the signing key in the terms' ephemeral keys. */
  readonly signer: number
  /** S_a + S_b for the outcome (33-byte compressed point). */
  readonly adaptorPoint: Uint8Array
  /** The adaptor signature, encoded (`encodeAdaptorSignature`, 65 bytes). */
  readonly preSignature: Uint8Array
}

/** What one pre-signature signs: the CET sighash of an outcome under one oracle pair's point. */
export interface CetSigningJob {
  readonly outcome: string
  readonly oracles: readonly [number, number]
  readonly sighash: Uint8Array
  readonly adaptorPoint: Uint8Array
}

/** A completed CET, ready to broadcast. */
export interface CompletedCet {
  readonly tx: Uint8Array
  readonly txid: string
  readonly outcome: string
  readonly oracles: readonly [number, number]
}

/** The outcomes of the contract's oracle event, in announcement order. */
export function contractOutcomes(contract: CompiledContract): readonly string[] {
  const first = contract.terms.oracle.announcements[0]
  if (first === undefined) throw new DlcError('invalid_terms', 'the contract has no oracle announcement')
  return first.event.outcomes
}

/**
 * Every pair (a, b), a < b, of the contract's oracles. Pre-signatures are per pair, so the oracle
 * threshold must be 2 (the policy's 2-of-3).
 */
export function oraclePairs(contract: CompiledContract): readonly (readonly [number, number])[] {
  const { threshold, announcements } = contract.terms.oracle
  if (threshold !== 2) throw new DlcError('invalid_terms', `CETs are pre-signed per pair of oracles: oracle threshold must be 2, not ${threshold}`)
  const pairs: [number, number][] = []
  for (let a = 0; a < announcements.length; a++) for (let b = a + 1; b < announcements.length; b++) pairs.push([a, b])
  return pairs
}

/**
 * The unsigned CET of `outcome`: version 2, one input (the funding outpoint, nSequence
 * 0xfffffffe), the outcome's payouts as outputs in the terms' order, nLockTime = cetLockTime.
 * Whatever the payouts leave of the amount is the fee (the rules bound it).
 */
export function buildCet(contract: CompiledContract, outcome: string, funding: FundingOutpoint): Transaction {
  checkFunding(funding)
  const payout = contract.terms.payouts.find((p) => p.outcome === outcome)
  if (payout === undefined || !contractOutcomes(contract).includes(outcome)) {
    throw new DlcError('unknown_outcome', `outcome ${JSON.stringify(outcome)} is not announced by the contract's oracles`)
  }
  const tx = new Transaction()
  tx.version = SPEND_TX_VERSION
  tx.locktime = contract.terms.cetLockTime
  tx.addInput(fundingHash(funding), funding.vout, SPEND_SEQUENCE)
  for (const output of payout.outputs) tx.addOutput(outputScript(contract, output.address), output.valueSat)
  return tx
}

/** The BIP-341 tapscript sighash (SIGHASH_DEFAULT) of the oracle leaf for `outcome`'s CET: what the ephemeral keys sign. */
export function cetSighash(contract: CompiledContract, outcome: string, funding: FundingOutpoint): Uint8Array {
  return leafSighash(contract, buildCet(contract, outcome, funding), contract.leaves.oracle.leafHash)
}

/**
 * The adaptor point of (outcome, pair): S_a + S_b, each S = R + H(R‖P‖m)·P from the oracle's
 * announced nonce and key.
 */
export function cetAdaptorPoint(contract: CompiledContract, outcome: string, oracles: readonly [number, number]): Uint8Array {
  const [a, b] = oracles.map((i) => {
    const announcement = contract.terms.oracle.announcements[i]
    const nonce = announcement?.event.nonces[0]
    if (announcement === undefined || nonce === undefined) throw new DlcError('invalid_terms', `the contract has no oracle announcement ${i}`)
    return attestationPoint(announcement.oraclePublicKey, nonce, outcome)
  }) as [Uint8Array, Uint8Array]
  return oraclePairPoint(a, b)
}

/** Every (outcome, pair) a guardian's ephemeral key pre-signs, with its sighash and adaptor point. */
export function cetSigningJobs(contract: CompiledContract, funding: FundingOutpoint): CetSigningJob[] {
  const pairs = oraclePairs(contract)
  return contractOutcomes(contract).flatMap((outcome) => {
    const sighash = cetSighash(contract, outcome, funding)
    return pairs.map((oracles) => ({ outcome, oracles, sighash, adaptorPoint: cetAdaptorPoint(contract, outcome, oracles) }))
  })
}

/**
 * Checks pre-signatures: for each signer in `signers` (default: every ephemeral key of the terms)
 * exactly one valid pre-signature per (outcome, pair), with the right adaptor point; nothing else.
 * Needs only public data, so anyone can run it. Throws DlcError('bad_presignature') naming the
 * first missing, duplicated, unexpected or invalid one.
 */
export function verifyCetPreSignatures(
  contract: CompiledContract,
  funding: FundingOutpoint,
  presigs: readonly CetPreSignature[],
  signers: readonly number[] = contract.terms.ephemeralKeys.map((_, i) => i),
): void {
  const keys = contract.terms.ephemeralKeys
  for (const s of signers) {
    if (!Number.isInteger(s) || keys[s] === undefined) throw new DlcError('unknown_key', `signer ${s} is not an ephemeral key of the contract (it has ${keys.length})`)
  }
  const jobs = new Map(cetSigningJobs(contract, funding).map((job) => [jobKey(job.outcome, job.oracles), job]))
  const seen = new Set<string>()
  for (const p of presigs) {
    const name = presigName(p)
    const job = jobs.get(jobKey(p.outcome, p.oracles))
    if (job === undefined || !signers.includes(p.signer)) throw new DlcError('bad_presignature', `unexpected pre-signature ${name}`)
    const id = `${jobKey(p.outcome, p.oracles)}|${p.signer}`
    if (seen.has(id)) throw new DlcError('bad_presignature', `duplicate pre-signature ${name}`)
    seen.add(id)
    if (!presigValid(contract, job, p)) throw new DlcError('bad_presignature', `pre-signature ${name} does not verify`)
  }
  for (const job of jobs.values()) {
    for (const signer of signers) {
      if (!seen.has(`${jobKey(job.outcome, job.oracles)}|${signer}`)) {
        throw new DlcError('bad_presignature', `missing pre-signature ${presigName({ outcome: job.outcome, oracles: job.oracles, signer })}`)
      }
    }
  }
}

/**
 * Completes the CET of the attested outcome. Among `attestations` it keeps those that verify
 * against the contract's announcements (others are ignored), needs two distinct oracles attesting
 * the same outcome, adapts `cetThreshold` valid pre-signatures of that (outcome, pair) with
 * t = s_a + s_b, checks every adapted signature against the CET sighash, and builds the oracle
 * leaf witness. Throws DlcError('not_enough_attestations') without two matching attestations,
 * DlcError('invalid_attestation') if two outcomes both have two (an oracle equivocated), and
 * DlcError('bad_presignature') if too few valid pre-signatures exist for the pair.
 */
export function completeCet(
  contract: CompiledContract,
  funding: FundingOutpoint,
  presigs: readonly CetPreSignature[],
  attestations: readonly OracleAttestation[],
): CompletedCet {
  checkFunding(funding)
  const pairs = oraclePairs(contract)
  const byOutcome = attestedOutcomes(contract, attestations)
  const settled = [...byOutcome].filter(([, oracles]) => oracles.size >= contract.terms.oracle.threshold)
  if (settled.length === 0) {
    const seen = [...byOutcome].map(([outcome, oracles]) => `${JSON.stringify(outcome)}: ${oracles.size}`).join(', ')
    throw new DlcError(
      'not_enough_attestations',
      `no outcome is attested by ${contract.terms.oracle.threshold} of the contract's oracles (valid attestations per outcome: ${seen || 'none'})`,
    )
  }
  if (settled.length > 1) {
    throw new DlcError('invalid_attestation', `outcomes ${settled.map(([o]) => JSON.stringify(o)).join(' and ')} are both attested: an oracle equivocated`)
  }
  const [outcome, attested] = settled[0]!
  const tx = buildCet(contract, outcome, funding)
  const sighash = leafSighash(contract, tx, contract.leaves.oracle.leafHash)
  const threshold = contract.terms.cetThreshold
  const problems: string[] = []
  for (const oracles of pairs) {
    const [a, b] = oracles
    const attA = attested.get(a)
    const attB = attested.get(b)
    if (attA === undefined || attB === undefined) continue
    const job: CetSigningJob = { outcome, oracles, sighash, adaptorPoint: cetAdaptorPoint(contract, outcome, oracles) }
    const usable = new Map<number, CetPreSignature>()
    for (const p of presigs) {
      if (p.outcome === outcome && p.oracles[0] === a && p.oracles[1] === b && !usable.has(p.signer) && presigValid(contract, job, p)) usable.set(p.signer, p)
    }
    if (usable.size < threshold) {
      problems.push(`pair (${a}, ${b}) has ${usable.size} valid pre-signatures, ${threshold} needed`)
      continue
    }
    const t = secp256k1.Point.Fn.toBytes(
      secp256k1.Point.Fn.add(secp256k1.Point.Fn.fromBytes(attestationSecret(attA)), secp256k1.Point.Fn.fromBytes(attestationSecret(attB))),
    )
    const signers = [...usable.keys()].sort((x, y) => x - y).slice(0, threshold)
    const signatures = new Map<number, Uint8Array>()
    for (const signer of signers) {
      const signature = adaptSignature(decodeAdaptorSignature(usable.get(signer)!.preSignature), t)
      // a valid pre-signature adapted with the attested secret always verifies; checked anyway, as the witness is final
      if (!ecc.verifySchnorr(sighash, contract.terms.ephemeralKeys[signer]!, signature)) {
        throw new DlcError('bad_signature', `adapted signature of ${presigName({ outcome, oracles, signer })} does not verify`)
      }
      signatures.set(signer, signature)
    }
    const leaf = contract.leaves.oracle
    tx.setWitness(0, leafWitness(leaf, leafSatisfaction(leaf, contract.terms, signers), (i) => signatures.get(i)!))
    return { tx: tx.toBuffer(), txid: tx.getId(), outcome, oracles }
  }
  throw new DlcError('bad_presignature', `cannot complete the CET of ${JSON.stringify(outcome)}: ${problems.join('; ')}`)
}

/**
 * The verified attestations per outcome, by oracle index. An attestation counts if it verifies
 * against the announcement of the contract oracle with its key; anything else is ignored.
 */
function attestedOutcomes(contract: CompiledContract, attestations: readonly OracleAttestation[]): Map<string, Map<number, OracleAttestation>> {
  const byOutcome = new Map<string, Map<number, OracleAttestation>>()
  const announcements = contract.terms.oracle.announcements
  for (const att of attestations) {
    const index = announcements.findIndex((a) => equalBytes(a.oraclePublicKey, att.oraclePublicKey))
    const outcome = att.outcomes[0]
    if (index < 0 || outcome === undefined) continue
    try {
      verifyOracleAttestation(att, announcements[index]!)
    } catch (err) {
      if (err instanceof DlcError) continue
      throw err
    }
    let oracles = byOutcome.get(outcome)
    if (oracles === undefined) byOutcome.set(outcome, (oracles = new Map()))
    oracles.set(index, att)
  }
  return byOutcome
}

function presigValid(contract: CompiledContract, job: CetSigningJob, p: CetPreSignature): boolean {
  const key = contract.terms.ephemeralKeys[p.signer]
  if (key === undefined || !(p.adaptorPoint instanceof Uint8Array) || !equalBytes(p.adaptorPoint, job.adaptorPoint)) return false
  if (!(p.preSignature instanceof Uint8Array) || p.preSignature.length !== ADAPTOR_SIGNATURE_BYTES) return false
  let sig
  try {
    sig = decodeAdaptorSignature(p.preSignature)
  } catch {
    return false
  }
  return adaptorVerify(key, job.sighash, job.adaptorPoint, sig)
}

function jobKey(outcome: string, oracles: readonly number[]): string {
  return `${JSON.stringify(outcome)}|${oracles.join(',')}`
}

function presigName(p: Pick<CetPreSignature, 'outcome' | 'oracles' | 'signer'>): string {
  return `(outcome ${JSON.stringify(p.outcome)}, oracles ${p.oracles.join('+')}, signer ${p.signer})`
}

