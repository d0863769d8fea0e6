import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import { adaptorSign, adaptorVerify, encodeAdaptorSignature } from './adaptor.js'
import { cetSigningJobs, type CetPreSignature } from './cet.js'
import type { CompiledContract } from './compiler.js'
import { DlcError } from './errors.js'
import { checkFunding, type FundingOutpoint } from './funding.js'

/**
 * A guardian's per-contract key for the oracle (CET) leaf. It signs exactly once: `preSignCets`
 * adaptor-signs every CET of one contract and then wipes the secret, so afterwards nobody — not
 * the guardian, not a thief of its disk or memory dumps — can sign anything else on the oracle
 * path. The secret lives only in a `#private` field (invisible to JSON, pino and util.inspect, and
 * never returned); it is never written anywhere. Zeroing is best effort: the curve library may
 * hold transient copies as bigints, which JavaScript cannot wipe.
 */
export class EphemeralKey {
  /** The x-only public key that goes into the terms' `ephemeralKeys`. */
  readonly publicKey: Uint8Array
  #secretKey: Uint8Array | undefined

  private constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey
    this.publicKey = schnorr.getPublicKey(secretKey)
  }

  /**
   * A fresh key from `random` (default: the CSPRNG), which must return `n` fresh bytes per call.
   * Tests pass their own source to know the secret they then search for; the bytes drawn become
   * the key's secret and are wiped with it.
   */
  static generate(random: (n: number) => Uint8Array = randomBytes): EphemeralKey {
    for (;;) {
      const candidate = random(32)
      if (candidate.length === 32 && secp256k1.utils.isValidSecretKey(candidate)) return new EphemeralKey(candidate)
      candidate.fill(0)
    }
  }

  /** True once the secret is wiped (after pre-signing, or `erase`). */
  get erased(): boolean {
    return this.#secretKey === undefined
  }

  /**
   * Pre-signs every CET of the contract (each outcome × each oracle pair) with an adaptor signature
   * under the pair's attestation point, checks each, then wipes the secret — also when signing
   * fails midway, since a partly used key must not sign again. Throws DlcError('key_erased') on a
   * second call, and DlcError('unknown_key') (key kept) if this key is not one of the contract's
   * ephemeral keys, so a guardian handed the wrong contract can still sign the right one.
   */
  preSignCets(contract: CompiledContract, funding: FundingOutpoint): CetPreSignature[] {
    const secretKey = this.#secretKey
    if (secretKey === undefined) throw new DlcError('key_erased', `ephemeral key ${bytesToHex(this.publicKey)} was erased after pre-signing; it cannot sign again`)
    const signer = contract.terms.ephemeralKeys.findIndex((k) => equalBytes(k, this.publicKey))
    if (signer < 0) throw new DlcError('unknown_key', `ephemeral key ${bytesToHex(this.publicKey)} is not one of the contract's ephemeral keys`)
    checkFunding(funding)
    const jobs = cetSigningJobs(contract, funding)
    try {
      return jobs.map((job) => {
        const sig = adaptorSign(secretKey, job.sighash, job.adaptorPoint)
        if (!adaptorVerify(this.publicKey, job.sighash, job.adaptorPoint, sig)) {
          throw new DlcError('bad_presignature', `own pre-signature for outcome ${JSON.stringify(job.outcome)} does not verify`)
        }
        return { outcome: job.outcome, oracles: job.oracles, signer, adaptorPoint: job.adaptorPoint, preSignature: encodeAdaptorSignature(sig) }
      })
    } finally {
      this.erase()
    }
  }

  /** Wipes the secret without signing (a contract abandoned before pre-signing). */
  erase(): void {
    this.#secretKey?.fill(0)
    this.#secretKey = undefined
  }

  toJSON(): { publicKey: string; erased: boolean } {
    return { publicKey: bytesToHex(this.publicKey), erased: this.erased }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `EphemeralKey(${bytesToHex(this.publicKey)}${this.erased ? ', erased' : ''})`
  }
}
