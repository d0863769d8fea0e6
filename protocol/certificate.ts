import { envelopeDigest, MessageKind } from './envelope.js'
import { ProtocolError } from './errors.js'
import type { GuardianSet } from './genesis.js'
import { blockHash, encodeVote, VoteType, type Block, type Certificate, type CommitSignature } from './consensus-messages.js'
import { verifyDigest } from './vote-key.js'
import { equalBytes } from '@noble/curves/utils.js'

/** The digest a guardian signed for one precommit of a certificate. */
export function precommitDigest(networkId: Uint8Array, guardianSetIndex: number, cert: Pick<Certificate, 'height' | 'round' | 'blockHash'>, sig: Pick<CommitSignature, 'timestampMs'>): Uint8Array {
  const vote = encodeVote({ type: VoteType.Precommit, height: cert.height, round: cert.round, blockHash: cert.blockHash, timestampMs: sig.timestampMs })
  return envelopeDigest(networkId, MessageKind.Vote, guardianSetIndex, vote)
}

/**
 * Verifies a commit certificate against a guardian set, trusting nobody: at least the commit
 * quorum of distinct guardians of that set, each signature theirs over the same precommit.
 * Throws ProtocolError('bad_certificate') saying what is wrong.
 */
export function verifyCertificate(networkId: Uint8Array, guardians: GuardianSet, cert: Certificate, expect?: { height?: number; blockHash?: Uint8Array }): void {
  const fail = (why: string): never => {
    throw new ProtocolError('bad_certificate', `certificate for height ${cert.height}: ${why}`)
  }
  if (expect?.height !== undefined && cert.height !== expect.height) fail(`expected height ${expect.height}`)
  if (expect?.blockHash !== undefined && !equalBytes(cert.blockHash, expect.blockHash)) fail('signs another block')
  let previous = -1
  for (const sig of cert.signatures) {
    if (sig.signer <= previous) fail('signers not strictly increasing (duplicate or unsorted)')
    previous = sig.signer
    const guardian = guardians.at(sig.signer)
    if (guardian === undefined) fail(`signer ${sig.signer} is not in guardian set ${guardians.index}`)
    if (!verifyDigest(precommitDigest(networkId, guardians.index, cert, sig), sig.signature, guardian!.votePublicKey)) {
      fail(`signature of ${guardian!.name} does not verify`)
    }
  }
  if (cert.signatures.length < guardians.commitQuorum) fail(`${cert.signatures.length} signatures, quorum is ${guardians.commitQuorum}`)
}

/** Verifies that `cert` commits exactly this block (header hash) at its height. */
export function verifyCommittedBlock(networkId: Uint8Array, guardians: GuardianSet, block: Block, cert: Certificate): void {
  verifyCertificate(networkId, guardians, cert, { height: block.header.height, blockHash: blockHash(block.header) })
}

/** BFT time of the block that follows `cert`: the median of its precommit timestamps (lower median). */
export function medianTime(cert: Certificate): number {
  const times = cert.signatures.map((s) => s.timestampMs).sort((a, b) => a - b)
  return times[Math.floor((times.length - 1) / 2)]!
}
