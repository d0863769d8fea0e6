import { equalBytes } from '@noble/curves/utils.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { keccak256 } from '../../protocol/index.js'
import type { SignedProposal, SignedVote, UnsignedProposal, UnsignedVote } from '../index.js'

/**
 * Simulated signatures: sig = keccak256(secret_i ‖ message bytes), verified by recomputing
 * it (the verifier holds every secret, standing in for public keys). Real ECDSA would make
 * thousands of runs too slow, and the simulator tests consensus logic, not ECDSA. Twins are
 * two nodes with one validator index, hence one secret.
 *
 * A proposal's signature covers the value id, not the value: the receiving shell checks the
 * id against the value it got.
 */
export class SimKeys {
  private readonly secrets: Uint8Array[]
  /** Verdicts per message object: messages are immutable and shared between receivers. */
  private readonly verified = new WeakMap<object, boolean>()

  constructor(seed: number, n: number) {
    this.secrets = []
    for (let i = 0; i < n; i++) this.secrets.push(keccak256(utf8ToBytes(`sim-validator-secret/${seed}/${i}`)))
  }

  get size(): number {
    return this.secrets.length
  }

  signVote(signer: number, vote: UnsignedVote, timestampMs: number): SignedVote {
    const payload = { kind: vote.kind, height: vote.height, round: vote.round, valueId: vote.valueId, signer, timestampMs }
    return { ...payload, signature: this.sign(signer, voteBytes(payload)) }
  }

  signProposal<V>(signer: number, proposal: UnsignedProposal<V>): SignedProposal<V> {
    const signed = { ...proposal, signer, signature: new Uint8Array() }
    return { ...signed, signature: this.sign(signer, proposalBytes(signed)) }
  }

  verifyVote(vote: SignedVote): boolean {
    return this.cached(vote, () => this.check(vote.signer, voteBytes(vote), vote.signature))
  }

  verifyProposal<V>(proposal: SignedProposal<V>): boolean {
    return this.cached(proposal, () => this.check(proposal.signer, proposalBytes(proposal), proposal.signature))
  }

  private sign(signer: number, bytes: Uint8Array): Uint8Array {
    const secret = this.secrets[signer]
    if (secret === undefined) throw new RangeError(`no key for signer ${signer}`)
    return keccak256(secret, bytes)
  }

  private check(signer: number, bytes: Uint8Array, signature: Uint8Array): boolean {
    const secret = this.secrets[signer]
    return secret !== undefined && equalBytes(keccak256(secret, bytes), signature)
  }

  private cached(msg: object, verify: () => boolean): boolean {
    let ok = this.verified.get(msg)
    if (ok === undefined) {
      ok = verify()
      this.verified.set(msg, ok)
    }
    return ok
  }
}

function voteBytes(v: Omit<SignedVote, 'signature'>): Uint8Array {
  return utf8ToBytes(`vote|${v.kind}|${v.height}|${v.round}|${v.valueId ?? 'nil'}|${v.signer}|${v.timestampMs}`)
}

function proposalBytes(p: { height: number; round: number; polRound: number; valueId: string; signer: number }): Uint8Array {
  return utf8ToBytes(`proposal|${p.height}|${p.round}|${p.polRound}|${p.valueId}|${p.signer}`)
}
