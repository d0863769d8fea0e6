import { schnorr_FROST as F, secp256k1 } from '@noble/curves/secp256k1.js'
import { equalBytes } from '@noble/curves/utils.js'
import { guardianIdentifier } from '../protocol/index.js'

/**
 * The guardians' FROST taproot DKG and signing sessions run in one process, without the network:
 * participant i has identifier guardianIdentifier(i). For benchmarks and tests.
 */

type FrostKey = ReturnType<typeof F.DKG.round3>

export interface FrostGroup {
  readonly ids: readonly string[]
  readonly keys: readonly FrostKey[]
  /** The untweaked group key: the sum of every participant's commitment[0] (compressed, 33 bytes). */
  readonly internalKey: Uint8Array
  /** The DKG's group key, which schnorr_FROST tweaks with the empty taproot merkle root (compressed, 33 bytes). */
  readonly outputKey: Uint8Array
}

/** Runs a `min`-of-`max` DKG (rounds 1-3) among participants 0…max−1. */
export function frostDkg(min: number, max: number): FrostGroup {
  const ids = Array.from({ length: max }, (_, i) => guardianIdentifier(i))
  const round1 = ids.map((id) => F.DKG.round1(id, { min, max }))
  const round2 = round1.map((own, i) => F.DKG.round2(own.secret, round1.filter((_, j) => j !== i).map((r) => r.public)))
  const keys = round1.map((own, i) => {
    const others = round1.map((_, j) => j).filter((j) => j !== i)
    return F.DKG.round3(
      own.secret,
      others.map((j) => round1[j]!.public),
      others.map((j) => round2[j]![ids[i]!]!),
    )
  })
  let internal = secp256k1.Point.ZERO
  for (const r of round1) internal = internal.add(secp256k1.Point.fromBytes(r.public.commitment[0]!))
  const outputKey = keys[0]!.public.commitments[0]!
  for (const k of keys) if (!equalBytes(k.public.commitments[0]!, outputKey)) throw new Error('DKG participants disagree on the group key')
  return { ids, keys, internalKey: internal.toBytes(true), outputKey }
}

/** One FROST signing session over `message` by the participants at `signers` (indexes into group.keys). */
export function frostSign(group: FrostGroup, signers: readonly number[], message: Uint8Array): Uint8Array {
  const nonces = signers.map((i) => F.commit(group.keys[i]!.secret))
  const commitments = nonces.map((n) => n.commitments)
  const shares: Record<string, Uint8Array> = {}
  signers.forEach((i, k) => {
    const key = group.keys[i]!
    shares[group.ids[i]!] = F.signShare(key.secret, key.public, nonces[k]!.nonces, commitments, message)
  })
  return F.aggregate(group.keys[0]!.public, commitments, message, shares)
}
