import { readFileSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { schnorr_FROST, secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { encode } from 'cborg'
import * as tiny from 'tiny-secp256k1'
import { beforeAll, describe, expect, it } from 'vitest'
import { generateGuardianKeys, publicInfo, type GuardianKeys } from '../node/keystore/index.js'
import { testnetGenesis } from '../node/setup/index.js'
import { encodeCanonical } from './codec.js'
import { dkgSessionId, guardianIdentifier, type ReserveKey } from './custody.js'
import {
  checkDkgRound1,
  decodeDkgRequest,
  decodeDkgResponse,
  decodeDkgRound1,
  dkgDetail,
  dkgInternalKey,
  encodeDkgRequest,
  encodeDkgResponse,
  encodeDkgRound1,
  fromFrostRound1,
  MAX_DKG_ATTEMPT,
  MAX_DKG_DETAIL_BYTES,
  MAX_DKG_RESPONSE_BYTES,
  openDkgRound1,
  pointProblem,
  reserveKeyFromDkg,
  signDkgRound1,
  taprootOutputKey,
  toFrostRound1,
  verifyProofOfKnowledge,
  verifySigningShare,
  type DkgResponse,
  type DkgRound1Package,
} from './dkg.js'
import { decodeEnvelope, encodeEnvelope, MAX_PAYLOAD_BYTES, MessageKind, signEnvelope } from './envelope.js'
import { GuardianSet, type Genesis } from './genesis.js'
import { blameOf, codeOf } from './test-helpers/expect-code.js'

// frost-secp256k1-tr DKG vector of the ZF frost repository (see ../shared/vectors/README.md).
interface VectorParticipant {
  identifier: number
  signing_key: string
  coefficient: string
  vss_commitments: string[]
  proof_of_knowledge: string
  /** The round-2 shares this participant RECEIVED, keyed by sender identifier. */
  signing_shares: Record<string, string>
  verifying_share: string
  signing_share: string
}
const vector = JSON.parse(readFileSync(new URL('../../shared/vectors/frost-secp256k1-tr/vectors_dkg.json', import.meta.url), 'utf8')) as {
  config: { MAX_PARTICIPANTS: number; MIN_PARTICIPANTS: number }
  inputs: { verifying_key: string } & Record<string, VectorParticipant>
}
const SIGNERS = { min: vector.config.MIN_PARTICIPANTS, max: vector.config.MAX_PARTICIPANTS }
const IDS = Array.from({ length: SIGNERS.max }, (_, i) => String(i + 1))
const participant = (id: string): VectorParticipant => vector.inputs[id] as VectorParticipant

const N = secp256k1.Point.Fn.ORDER

/**
 * noble derives each polynomial coefficient from 48 rng bytes as (x mod (N − 1)) + 1, so the
 * bytes of c − 1 yield c. The first call is the coefficient; later calls (the proof's nonce) are random.
 */
function coefficientRng(coefficientHex: string): (n?: number) => Uint8Array {
  const bytes = hexToBytes((BigInt(`0x${coefficientHex}`) - 1n).toString(16).padStart(96, '0'))
  let calls = 0
  return (n = 32) => {
    calls++
    if (calls === 1) {
      expect(n).toBe(48)
      return bytes
    }
    return new Uint8Array(randomBytes(n))
  }
}

function vectorRound1(id: string): { identifier: string; commitment: Uint8Array[]; proofOfKnowledge: Uint8Array } {
  const p = participant(id)
  return { identifier: guardianIdentifier(p.identifier - 1), commitment: p.vss_commitments.map(hexToBytes), proofOfKnowledge: hexToBytes(p.proof_of_knowledge) }
}

describe('frost-secp256k1-tr DKG vector (vectors_dkg.json)', () => {
  const secrets = new Map<string, ReturnType<typeof schnorr_FROST.DKG.round1>['secret']>()

  it('reproduces each round-1 commitment from signing_key and coefficient, and the vector proofs verify', () => {
    for (const id of IDS) {
      const p = participant(id)
      const out = schnorr_FROST.DKG.round1(guardianIdentifier(p.identifier - 1), SIGNERS, hexToBytes(p.signing_key), coefficientRng(p.coefficient))
      expect(out.public.commitment.map(bytesToHex)).toEqual(p.vss_commitments)
      secrets.set(id, out.secret)
      // The proof's nonce is not in the vector: ours differs, but both verify.
      expect(verifyProofOfKnowledge(p.identifier, hexToBytes(p.vss_commitments[0]!), hexToBytes(p.proof_of_knowledge))).toBe(true)
      expect(verifyProofOfKnowledge(p.identifier, out.public.commitment[0]!, out.public.proofOfKnowledge)).toBe(true)
      // …and only for its own identifier and commitment.
      expect(verifyProofOfKnowledge(p.identifier + 1, hexToBytes(p.vss_commitments[0]!), hexToBytes(p.proof_of_knowledge))).toBe(false)
      expect(verifyProofOfKnowledge(p.identifier, hexToBytes(p.vss_commitments[1]!), hexToBytes(p.proof_of_knowledge))).toBe(false)
    }
  })

  it('reproduces the round-2 signing shares, the final signing and verifying shares and the verifying key (post-TapTweak)', () => {
    const round2 = new Map<string, ReturnType<typeof schnorr_FROST.DKG.round2>>()
    for (const id of IDS) {
      // noble's round 2 accepts the vector's packages (it checks their proofs of knowledge).
      round2.set(id, schnorr_FROST.DKG.round2(secrets.get(id)!, IDS.filter((o) => o !== id).map(vectorRound1)))
    }
    // In the vector, participant j's `signing_shares[i]` is the share j RECEIVED from i.
    for (const from of IDS) {
      for (const to of IDS.filter((o) => o !== from)) {
        const share = round2.get(from)![guardianIdentifier(Number(to) - 1)]!.signingShare
        expect(bytesToHex(share)).toBe(participant(to).signing_shares[from])
        expect(verifySigningShare(Number(to) - 1, participant(from).vss_commitments.map(hexToBytes), share, SIGNERS.max)).toBe(true)
      }
    }
    const commitments0 = IDS.map((id) => hexToBytes(participant(id).vss_commitments[0]!))
    const P = dkgInternalKey(commitments0)
    for (const id of IDS) {
      const me = guardianIdentifier(Number(id) - 1)
      const others = IDS.filter((o) => o !== id)
      const key = schnorr_FROST.DKG.round3(secrets.get(id)!, others.map(vectorRound1), others.map((o) => round2.get(o)![me]!))
      const p = participant(id)
      expect(bytesToHex(key.secret.signingShare)).toBe(p.signing_share)
      expect(bytesToHex(key.public.verifyingShares[me]!)).toBe(p.verifying_share)
      expect(bytesToHex(key.public.commitments[0]!)).toBe(vector.inputs.verifying_key)
      // The vector's keys are AFTER the BIP-341 TapTweak (empty script tree), like noble's DKG output:
      // the verifying key is Q = P + t·G, not the sum P of the constant-term commitments…
      expect(bytesToHex(P)).not.toBe(vector.inputs.verifying_key)
      expect(bytesToHex(taprootOutputKey(P))).toBe(vector.inputs.verifying_key)
      // …and each verifying share is its (tweaked) signing share times G.
      expect(bytesToHex(secp256k1.getPublicKey(hexToBytes(p.signing_share), true))).toBe(p.verifying_share)
      const reserve = reserveKeyFromDkg(dkgSessionId(new Uint8Array(32), 0), key, commitments0)
      expect(bytesToHex(reserve.internalKey)).toBe(bytesToHex(P))
      expect(bytesToHex(reserve.groupKey)).toBe(vector.inputs.verifying_key)
      expect(reserve.verifyingShares.map(bytesToHex)).toEqual(IDS.map((o) => participant(o).verifying_share))
    }
    // Independent check of Q = P + hash_TapTweak(x(P))·G with libsecp256k1.
    const x = P.subarray(1)
    const tweaked = tiny.xOnlyPointAddTweak(x, taggedSha256('TapTweak', x))!
    expect(bytesToHex(tweaked.xOnlyPubkey)).toBe(vector.inputs.verifying_key.slice(2))
    expect(tweaked.parity).toBe(vector.inputs.verifying_key.startsWith('03') ? 1 : 0)
  })
})

/** BIP-340 tagged hash with node's sha256 (independent of noble). */
function taggedSha256(tag: string, data: Uint8Array): Uint8Array {
  const t = createHash('sha256').update(tag).digest()
  return new Uint8Array(createHash('sha256').update(t).update(t).update(data).digest())
}

// --- packages, proofs, shares ----------------------------------------------------------------------

let keys: GuardianKeys[]
let genesis: Genesis
let guardians: GuardianSet

beforeAll(async () => {
  keys = await Promise.all(Array.from({ length: 5 }, () => generateGuardianKeys()))
  genesis = testnetGenesis(keys.map(publicInfo), 'dkg-test')
  guardians = new GuardianSet(genesis)
})

function round1Of(index: number, attempt = 0): { pkg: DkgRound1Package; secret: ReturnType<typeof schnorr_FROST.DKG.round1>['secret'] } {
  const out = schnorr_FROST.DKG.round1(guardianIdentifier(index), { min: genesis.reserveThreshold, max: guardians.size })
  return { pkg: fromFrostRound1(genesis.hash, attempt, index, out.public), secret: out.secret }
}

function signed(index: number, pkg: DkgRound1Package, key = index): Uint8Array {
  return encodeEnvelope(signDkgRound1(genesis.hash, guardians, index, pkg, keys[key]!.votePrivateKey))
}

function expected(attempt = 0): { sessionId: Uint8Array; attempt: number; threshold: number } {
  return { sessionId: dkgSessionId(genesis.hash, attempt), attempt, threshold: genesis.reserveThreshold }
}


describe('round-1 packages', () => {
  it('a signed package of the expected session passes; its proof is the one noble checks', () => {
    const { pkg } = round1Of(2)
    const opened = openDkgRound1(genesis.hash, guardians, signed(2, pkg))
    expect(opened.signer.index).toBe(2)
    const checked = checkDkgRound1(opened, expected())!
    expect(encodeDkgRound1(checked)).toEqual(encodeDkgRound1(pkg))
    expect(toFrostRound1(checked).identifier).toBe(guardianIdentifier(2))
  })

  it('names the signer of a package with a bad proof, a bad point, a wrong count, identifier or attempt', () => {
    const { pkg } = round1Of(1)
    const pok = Uint8Array.from(pkg.proofOfKnowledge)
    pok[63]! ^= 1
    const cases: Array<[DkgRound1Package, string]> = [
      [{ ...pkg, proofOfKnowledge: pok }, 'bad_proof'],
      [{ ...pkg, proofOfKnowledge: new Uint8Array(64) }, 'bad_proof'],
      [{ ...pkg, commitments: pkg.commitments.map((c, i) => (i === 1 ? Uint8Array.of(2, ...new Uint8Array(32)) : c)) }, 'bad_package'],
      [{ ...pkg, commitments: pkg.commitments.map((c, i) => (i === 1 ? Uint8Array.of(2, ...new Uint8Array(32).fill(0xff)) : c)) }, 'bad_package'],
      [{ ...pkg, commitments: pkg.commitments.slice(1) }, 'bad_package'],
      [{ ...pkg, identifier: 3 }, 'bad_package'],
      [{ ...pkg, attempt: 7 }, 'bad_package'],
    ]
    for (const [bad, reason] of cases) {
      const blame = blameOf(() => checkDkgRound1(openDkgRound1(genesis.hash, guardians, signed(1, bad)), expected()))
      expect(blame.culprit).toBe(1)
      expect(blame.reason).toBe(reason)
      expect(blame.message).toContain('guardian-1')
    }
    // noble refuses the bad proof too (without saying whose it is).
    const others = [0, 2, 3, 4].map((i) => toFrostRound1(round1Of(i).pkg))
    const bad = toFrostRound1({ ...pkg, proofOfKnowledge: pok })
    expect(() => schnorr_FROST.DKG.round2(round1Of(0).secret, [bad, ...others.slice(1)])).toThrow()
  })

  it('ignores (no blame) a package of another session, and refuses unattributable envelopes', () => {
    const { pkg } = round1Of(3, 1)
    expect(checkDkgRound1(openDkgRound1(genesis.hash, guardians, signed(3, pkg)), expected(0))).toBeUndefined()
    // signed by another key than the signer index says
    expect(codeOf(() => openDkgRound1(genesis.hash, guardians, signed(3, pkg, 4)))).toBe('bad_signature')
    // another network
    expect(codeOf(() => openDkgRound1(new Uint8Array(32), guardians, signed(3, pkg)))).toBe('bad_signature')
    // another kind
    const hb = encodeEnvelope(signEnvelope(genesis.hash, MessageKind.Heartbeat, guardians.index, 3, encodeDkgRound1(pkg), keys[3]!.votePrivateKey))
    expect(codeOf(() => openDkgRound1(genesis.hash, guardians, hb))).toBe('wrong_kind')
    // a signer outside the set
    const stranger = encodeEnvelope(signEnvelope(genesis.hash, MessageKind.DkgRound1, guardians.index, 9, encodeDkgRound1(pkg), keys[3]!.votePrivateKey))
    expect(codeOf(() => openDkgRound1(genesis.hash, guardians, stranger))).toBe('unknown_signer')
    // a payload that is not a package, signed: the signer is blamed
    const junk = encodeEnvelope(signEnvelope(genesis.hash, MessageKind.DkgRound1, guardians.index, 3, encodeCanonical([1, 'x']), keys[3]!.votePrivateKey))
    expect(blameOf(() => checkDkgRound1(openDkgRound1(genesis.hash, guardians, junk), expected())).reason).toBe('bad_package')
  })

  it('DkgRound1 envelopes have their own payload limit', () => {
    expect(MAX_PAYLOAD_BYTES[MessageKind.DkgRound1]).toBe(4096)
    const big = encodeEnvelope(signEnvelope(genesis.hash, MessageKind.DkgRound1, 0, 0, new Uint8Array(4097), keys[0]!.votePrivateKey))
    expect(codeOf(() => decodeEnvelope(big))).toBe('oversize')
  })

  it('pointProblem refuses identity, off-curve and uncompressed encodings', () => {
    expect(pointProblem(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true))).toBeUndefined()
    expect(pointProblem(new Uint8Array(33))).toBe('is not a compressed point')
    expect(pointProblem(Uint8Array.of(2, ...new Uint8Array(32)))).toBe('is not on the curve')
    expect(pointProblem(Uint8Array.of(2, ...new Uint8Array(32).fill(0xff)))).toBe('is not on the curve')
    expect(pointProblem(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false))).toBe('is not a compressed point')
  })

  it('verifySigningShare: the VSS check of one share against its sender commitments', () => {
    const a = round1Of(0)
    const others = [1, 2, 3, 4].map((i) => toFrostRound1(round1Of(i).pkg))
    const shares = schnorr_FROST.DKG.round2(a.secret, others)
    const share = shares[guardianIdentifier(1)]!.signingShare
    expect(verifySigningShare(1, a.pkg.commitments, share, 5)).toBe(true)
    expect(verifySigningShare(2, a.pkg.commitments, share, 5)).toBe(false)
    const flipped = Uint8Array.from(share)
    flipped[31]! ^= 1
    expect(verifySigningShare(1, a.pkg.commitments, flipped, 5)).toBe(false)
    expect(verifySigningShare(1, a.pkg.commitments, share.subarray(1), 5)).toBe(false)
    expect(verifySigningShare(1, a.pkg.commitments, hexToBytes(N.toString(16)), 5)).toBe(false)
  })
})

// --- codec -----------------------------------------------------------------------------------------

function sampleKey(): ReserveKey {
  const point = (): Uint8Array => secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)
  const groupKey = point()
  return { sessionId: new Uint8Array(32).fill(5), threshold: 3, internalKey: point(), groupKey, commitments: [groupKey, point(), point()], verifyingShares: [point(), point(), point(), point(), point()] }
}

describe('dkg/1 codec', () => {
  it('round-trips requests and every response', () => {
    for (const type of ['round1', 'share', 'result', 'transcript'] as const) {
      for (const attempt of [0, 1, 23, MAX_DKG_ATTEMPT]) expect(decodeDkgRequest(encodeDkgRequest({ type, attempt }))).toEqual({ type, attempt })
    }
    const { pkg } = round1Of(0)
    const env = signed(0, pkg)
    const responses: DkgResponse[] = [
      { type: 'round1', envelope: env },
      { type: 'share', sessionId: new Uint8Array(32).fill(1), signingShare: new Uint8Array(32).fill(2) },
      { type: 'result', key: sampleKey(), signature: new Uint8Array(65).fill(3) },
      { type: 'transcript', attempt: 4, envelopes: [env, env] },
      { type: 'transcript', attempt: 0, envelopes: [] },
      { type: 'not_ready', attempt: 2 },
      { type: 'not_ready', attempt: null },
      { type: 'other_attempt', attempt: 9 },
      { type: 'aborted', attempt: 1, culprit: 4, reason: 'bad_share', detectedBy: 0, detail: 'share of guardian-4 fails the VSS check' },
    ]
    for (const r of responses) expect(decodeDkgResponse(encodeDkgResponse(r))).toEqual(r)
    expect(decodeDkgRound1(encodeDkgRound1(pkg))).toEqual({ ...pkg, commitments: [...pkg.commitments] })
  })

  it('rejects malformed, oversize and non-canonical requests', () => {
    expect(codeOf(() => decodeDkgRequest(new Uint8Array([0xff])))).toBe('malformed')
    expect(codeOf(() => decodeDkgRequest(new Uint8Array(65)))).toBe('oversize')
    expect(codeOf(() => decodeDkgRequest(encodeCanonical([2, 1, 0])))).toBe('unsupported_version')
    expect(codeOf(() => decodeDkgRequest(encodeCanonical([1, 0, 0])))).toBe('malformed')
    expect(codeOf(() => decodeDkgRequest(encodeCanonical([1, 5, 0])))).toBe('malformed')
    expect(codeOf(() => decodeDkgRequest(encodeCanonical([1, 1])))).toBe('malformed')
    expect(codeOf(() => decodeDkgRequest(encodeCanonical([1, 1, -1])))).toBe('malformed')
    expect(codeOf(() => decodeDkgRequest(encodeCanonical([1, 1, 2 ** 32])))).toBe('malformed')
    // attempt 1 written as a 4-byte integer: same value, another byte form
    expect(codeOf(() => decodeDkgRequest(new Uint8Array([0x83, 0x01, 0x01, 0x1a, 0, 0, 0, 1])))).toBe('non_canonical')
  })

  it('rejects malformed responses: unknown tags, arity, sizes, reasons, details', () => {
    const bad: Array<[unknown[], string]> = [
      [[1, 99, 0], 'malformed'],
      [[2, 10, null], 'unsupported_version'],
      [[1, 10], 'malformed'],
      [[1, 10, 1, 2], 'malformed'],
      [[1, 2, new Uint8Array(32), new Uint8Array(31)], 'malformed'],
      [[1, 2, new Uint8Array(31), new Uint8Array(32)], 'malformed'],
      [[1, 1, 'not bytes'], 'malformed'],
      [[1, 1, new Uint8Array(MAX_PAYLOAD_BYTES[MessageKind.DkgRound1] + 257)], 'oversize'],
      [[1, 3, [1, new Uint8Array(32)], new Uint8Array(65)], 'malformed'],
      [[1, 4, 0, [new Uint8Array(1), 7]], 'malformed'],
      [[1, 4, 0, Array.from({ length: 65 }, () => new Uint8Array(1))], 'malformed'],
      [[1, 12, 0, 1, 0, 0, ''], 'malformed'],
      [[1, 12, 0, 1, 8, 0, ''], 'malformed'],
      [[1, 12, 0, 64, 1, 0, ''], 'malformed'],
      [[1, 12, 0, 1, 1, 0, 'x'.repeat(MAX_DKG_DETAIL_BYTES + 1)], 'oversize'],
      [[1, 11, 2 ** 32], 'malformed'],
    ]
    for (const [value, code] of bad) expect(codeOf(() => decodeDkgResponse(encodeCanonical(value as never))), JSON.stringify(value.slice(0, 2))).toBe(code)
    expect(codeOf(() => decodeDkgResponse(new Uint8Array(MAX_DKG_RESPONSE_BYTES + 1)))).toBe('oversize')
    // cborg's non-canonical forms: a map, an indefinite-length array
    expect(codeOf(() => decodeDkgResponse(encode({ a: 1 })))).toBe('malformed')
    expect(codeOf(() => decodeDkgResponse(new Uint8Array([0x9f, 0x01, 0x0a, 0xf6, 0xff])))).toBe('malformed')
  })

  it('rejects round-1 payloads of the wrong shape', () => {
    const { pkg } = round1Of(0)
    const base = [1, pkg.sessionId, 0, 1, [...pkg.commitments], pkg.proofOfKnowledge]
    const variants: Array<[unknown[], string]> = [
      [[...base.slice(0, 5)], 'malformed'],
      [[1, pkg.sessionId.subarray(1), 0, 1, [...pkg.commitments], pkg.proofOfKnowledge], 'malformed'],
      [[1, pkg.sessionId, 0, 0, [...pkg.commitments], pkg.proofOfKnowledge], 'malformed'],
      [[1, pkg.sessionId, 0, 65, [...pkg.commitments], pkg.proofOfKnowledge], 'malformed'],
      [[1, pkg.sessionId, 0, 1, [], pkg.proofOfKnowledge], 'malformed'],
      [[1, pkg.sessionId, 0, 1, [pkg.commitments[0]!.subarray(1)], pkg.proofOfKnowledge], 'malformed'],
      [[1, pkg.sessionId, 0, 1, [...pkg.commitments], pkg.proofOfKnowledge.subarray(1)], 'malformed'],
      [[1, pkg.sessionId, 0, 1, Array.from({ length: 65 }, () => pkg.commitments[0]!), pkg.proofOfKnowledge], 'malformed'],
    ]
    for (const [value, code] of variants) expect(codeOf(() => decodeDkgRound1(encodeCanonical(value as never)))).toBe(code)
    expect(codeOf(() => decodeDkgRound1(new Uint8Array(4097)))).toBe('oversize')
  })

  it('dkgDetail bounds a detail to the wire limit on a character boundary', () => {
    expect(dkgDetail('short')).toBe('short')
    const long = dkgDetail('é'.repeat(200))
    expect(Buffer.byteLength(long, 'utf8')).toBeLessThanOrEqual(MAX_DKG_DETAIL_BYTES)
    expect(long).toBe('é'.repeat(MAX_DKG_DETAIL_BYTES / 2))
  })
})
