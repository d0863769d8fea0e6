import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { schnorr, schnorr_FROST, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'

/**
 * The Zcash Foundation's FROST(secp256k1, SHA-256) taproot vectors, reproduced with noble's
 * schnorr_FROST: nonces from the given randomness, their commitments, the signature shares and
 * the final BIP-340 signature. The key comes from a trusted dealer (untweaked): the public
 * package is built from the vector's polynomial.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const vectors = (name: string): any => JSON.parse(readFileSync(`${REPO}../shared/vectors/frost-secp256k1-tr/${name}`, 'utf8'))

function reproduce(v: any): void {
  const min = Number(v.config.MIN_PARTICIPANTS)
  const max = Number(v.config.MAX_PARTICIPANTS)
  const { inputs } = v
  const idOf = (n: number | string): string => (typeof n === 'number' ? schnorr_FROST.Identifier.fromNumber(n) : n)
  const groupSecret = BigInt('0x' + inputs.group_secret_key)
  const coefficients: bigint[] = [groupSecret, ...inputs.share_polynomial_coefficients.map((c: string) => BigInt('0x' + c))]
  const G = secp256k1.Point.BASE
  const verifyingShares: Record<string, Uint8Array> = {}
  const secrets: Record<string, { identifier: string; signingShare: Uint8Array }> = {}
  for (const share of inputs.participant_shares) {
    const identifier = idOf(share.identifier)
    const signingShare = hexToBytes(share.participant_share)
    secrets[identifier] = { identifier, signingShare }
    verifyingShares[identifier] = G.multiply(BigInt('0x' + share.participant_share)).toBytes(true)
  }
  const pub = { signers: { min, max }, commitments: coefficients.map((c) => G.multiply(c).toBytes(true)), verifyingShares }
  expect(bytesToHex(pub.commitments[0]!)).toBe(inputs.verifying_key_key)
  for (const secret of Object.values(secrets)) schnorr_FROST.validateSecret(secret, pub)

  const message = hexToBytes(inputs.message)
  const round1 = v.round_one_outputs.outputs.map((out: any) => {
    const identifier = idOf(out.identifier)
    const randomness = [hexToBytes(out.hiding_nonce_randomness), hexToBytes(out.binding_nonce_randomness)]
    let call = 0
    const rng = (bytes?: number): Uint8Array => {
      expect(bytes).toBe(32)
      return randomness[call++]!
    }
    const { nonces, commitments } = schnorr_FROST.commit(secrets[identifier]!, rng)
    expect(call).toBe(2)
    expect(bytesToHex(nonces.hiding)).toBe(out.hiding_nonce)
    expect(bytesToHex(nonces.binding)).toBe(out.binding_nonce)
    expect(bytesToHex(commitments.hiding)).toBe(out.hiding_nonce_commitment)
    expect(bytesToHex(commitments.binding)).toBe(out.binding_nonce_commitment)
    return { identifier, nonces, commitments }
  })
  const commitmentList = round1.map((r: any) => r.commitments)
  const shares: Record<string, Uint8Array> = {}
  for (const [i, out] of v.round_two_outputs.outputs.entries()) {
    const identifier = idOf(out.identifier)
    expect(round1[i].identifier).toBe(identifier)
    const share = schnorr_FROST.signShare(secrets[identifier]!, pub, round1[i].nonces, commitmentList, message)
    expect(bytesToHex(share)).toBe(out.sig_share)
    expect(schnorr_FROST.verifyShare(pub, commitmentList, message, identifier, share)).toBe(true)
    // signShare consumed the nonces
    expect(round1[i].nonces.hiding.every((b: number) => b === 0)).toBe(true)
    shares[identifier] = share
  }
  const signature = schnorr_FROST.aggregate(pub, commitmentList, message, shares)
  expect(bytesToHex(signature)).toBe(v.final_output.sig)
  // a plain BIP-340 signature by x(group key)
  const xOnly = pub.commitments[0]!.subarray(1)
  expect(schnorr.verify(signature, message, xOnly)).toBe(true)
  expect(schnorr_FROST.verify(signature, message, pub.commitments[0]!)).toBe(true)
}

describe('FROST(secp256k1, SHA-256) taproot vectors with noble schnorr_FROST', () => {
  it('reproduces vectors.json: nonces, commitments, shares and the final signature', () => {
    reproduce(vectors('vectors.json'))
  })

  it('names the cheater when one share of the vector is altered', () => {
    const v = vectors('vectors.json')
    const pubShare = (hex: string): Uint8Array => secp256k1.Point.BASE.multiply(BigInt('0x' + hex)).toBytes(true)
    const ids = v.inputs.participant_shares.map((s: any) => schnorr_FROST.Identifier.fromNumber(s.identifier))
    const coefficients = [v.inputs.group_secret_key, ...v.inputs.share_polynomial_coefficients]
    const pub = {
      signers: { min: 2, max: 3 },
      commitments: coefficients.map((c: string) => pubShare(c)),
      verifyingShares: Object.fromEntries(v.inputs.participant_shares.map((s: any, i: number) => [ids[i], pubShare(s.participant_share)])),
    }
    const commitmentList = v.round_one_outputs.outputs.map((o: any) => ({
      identifier: schnorr_FROST.Identifier.fromNumber(o.identifier),
      hiding: hexToBytes(o.hiding_nonce_commitment),
      binding: hexToBytes(o.binding_nonce_commitment),
    }))
    const shares = Object.fromEntries(v.round_two_outputs.outputs.map((o: any) => [schnorr_FROST.Identifier.fromNumber(o.identifier), hexToBytes(o.sig_share)]))
    const third = schnorr_FROST.Identifier.fromNumber(3)
    shares[third] = hexToBytes(v.round_two_outputs.outputs[0].sig_share) // identifier 3 sends identifier 1's share
    let cheaters: string[] | undefined
    try {
      schnorr_FROST.aggregate(pub, commitmentList, hexToBytes(v.inputs.message), shares)
    } catch (err) {
      cheaters = (err as { cheaters?: string[] }).cheaters
    }
    expect(cheaters).toEqual([third])
  })
})
