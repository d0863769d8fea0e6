import { beforeAll, describe, expect, it } from 'vitest'
import {
  decodeDkgRound1,
  decodeEnvelope,
  decodeTx,
  encodeEnvelope,
  encodeTx,
  GuardianSet,
  MessageKind,
  ProtocolError,
  signDkgRound1,
  signEnvelope,
  type DkgRound1Package,
  type Genesis,
  type ReserveKey,
} from '../../../protocol/index.js'
import { generateGuardianKeys, publicInfo, type GuardianKeys } from '../../keystore/index.js'
import { testnetGenesis } from '../../setup/index.js'
import { blameOf } from '../../../protocol/test-helpers/expect-code.js'
import { DkgSession, holdsPackageOf, type SessionContext } from './session.js'

let keys: GuardianKeys[]
let genesis: Genesis
let guardians: GuardianSet

beforeAll(async () => {
  keys = await Promise.all(Array.from({ length: 5 }, () => generateGuardianKeys()))
  genesis = testnetGenesis(keys.map(publicInfo), 'dkg-session-test')
  guardians = new GuardianSet(genesis)
})

const ctx = (i: number): SessionContext => ({ networkId: genesis.hash, guardians, self: guardians.at(i)!, votePrivateKey: keys[i]!.votePrivateKey, threshold: genesis.reserveThreshold })
const same = (pkg: DkgRound1Package): DkgRound1Package => pkg

function sessions(attempt = 0): DkgSession[] {
  return [0, 1, 2, 3, 4].map((i) => DkgSession.fresh(ctx(i), attempt, same))
}

function exchangeRound1(all: DkgSession[]): void {
  for (const s of all) for (const [j, other] of all.entries()) if (s !== other) s.acceptRound1(guardians.at(j), other.ownEnvelope!)
}


describe('DkgSession', () => {
  it('five sessions exchanging every message agree on one key and one transaction', () => {
    const all = sessions()
    exchangeRound1(all)
    for (const s of all) {
      expect(s.readyForRound2).toBe(true)
      s.runRound2()
    }
    for (const [i, s] of all.entries()) {
      for (const [j, other] of all.entries()) if (i !== j) expect(s.acceptShare(guardians.at(j)!, other.sessionId, other.shareFor(i)!)).toBe(true)
    }
    const keysOut: ReserveKey[] = []
    for (const s of all) {
      expect(s.readyForRound3).toBe(true)
      const { key, signingShare } = s.runRound3()
      expect(signingShare).toHaveLength(32)
      keysOut.push(key)
      s.sign()
    }
    for (const [i, s] of all.entries()) {
      for (const [j, other] of all.entries()) if (i !== j) expect(s.acceptResult(guardians.at(j)!, other.key!, other.ownSignature!)).toBe('new')
      expect(s.phase).toBe('complete')
      // every secret is gone once every guardian signed
      expect(s.shareFor((i + 1) % 5)).toBeUndefined()
    }
    const tx = all[0]!.transaction()
    expect(decodeTx(encodeTx(tx))).toEqual(tx)
    for (const s of all) expect(encodeTx(s.transaction())).toEqual(encodeTx(tx))
  })

  it('an identical package twice is fine; two different signed packages are equivocation', () => {
    const [a] = sessions()
    const b1 = DkgSession.fresh(ctx(1), 0, same)
    const b2 = DkgSession.fresh(ctx(1), 0, same)
    expect(a!.acceptRound1(guardians.at(1), b1.ownEnvelope!)).toBe(true)
    expect(a!.acceptRound1(guardians.at(1), b1.ownEnvelope!)).toBe(false)
    const blame = blameOf(() => a!.acceptRound1(guardians.at(1), b2.ownEnvelope!))
    expect([blame.culprit, blame.reason]).toEqual([1, 'equivocation'])
    // the same proof from a peer's transcript
    expect(a!.findEquivocation([b1.ownEnvelope!])).toBeUndefined()
    expect(a!.findEquivocation([b2.ownEnvelope!])?.culprit).toBe(1)
  })

  it('refuses, without blame, packages it cannot attribute to the peer that answered', () => {
    const [a, b] = sessions()
    // guardian-2 answers with guardian-1's package
    expect(() => a!.acceptRound1(guardians.at(2), b!.ownEnvelope!)).toThrow(ProtocolError)
    expect(() => a!.acceptRound1(guardians.at(1), new Uint8Array([1, 2, 3]))).toThrow(ProtocolError)
    const otherAttempt = DkgSession.fresh(ctx(1), 3, same)
    expect(() => a!.acceptRound1(guardians.at(1), otherAttempt.ownEnvelope!)).toThrow(ProtocolError)
    const heartbeatKind = encodeEnvelope(signEnvelope(genesis.hash, MessageKind.Heartbeat, 0, 1, new Uint8Array(8), keys[1]!.votePrivateKey))
    expect(() => a!.acceptRound1(guardians.at(1), heartbeatKind)).toThrow(ProtocolError)
    expect(a!.round1Received).toBe(1)
  })

  it('names the sender of a share that fails the VSS check, and wipes everything on abort', () => {
    const all = sessions()
    exchangeRound1(all)
    for (const s of all) s.runRound2()
    const [a, b] = all
    const bad = Uint8Array.from(b!.shareFor(0)!)
    bad[0]! ^= 0x80
    const blame = blameOf(() => a!.acceptShare(guardians.at(1)!, b!.sessionId, bad))
    expect([blame.culprit, blame.reason]).toEqual([1, 'bad_share'])
    expect(blame.message).toContain('guardian-1')
    // a share for another guardian fails the same way
    expect(blameOf(() => a!.acceptShare(guardians.at(1)!, b!.sessionId, b!.shareFor(2)!)).culprit).toBe(1)
    // a share of another session is refused without blame
    expect(() => a!.acceptShare(guardians.at(1)!, new Uint8Array(32), b!.shareFor(0)!)).toThrow(ProtocolError)
    const held = a!.shareFor(1)!
    a!.abort({ culprit: 1, reason: 'bad_share', detectedBy: 0, detail: blame.message })
    expect(a!.phase).toBe('aborted')
    expect(a!.shareFor(1)).toBeUndefined()
    expect(held.every((byte) => byte === 0)).toBe(true)
  })

  it('a result of another key is a mismatch; a forged signature names its sender', () => {
    const all = sessions()
    exchangeRound1(all)
    for (const s of all) s.runRound2()
    for (const [i, s] of all.entries()) for (const [j, o] of all.entries()) if (i !== j) s.acceptShare(guardians.at(j)!, o.sessionId, o.shareFor(i)!)
    for (const s of all) {
      s.runRound3()
      s.sign()
    }
    const [a, b, c] = all
    const other: ReserveKey = { ...b!.key!, verifyingShares: [...b!.key!.verifyingShares].reverse() }
    expect(a!.acceptResult(guardians.at(1)!, other, b!.ownSignature!)).toBe('mismatch')
    const blame = blameOf(() => a!.acceptResult(guardians.at(1)!, b!.key!, c!.ownSignature!))
    expect([blame.culprit, blame.reason]).toEqual([1, 'bad_result_signature'])
    expect(a!.acceptResult(guardians.at(1)!, b!.key!, b!.ownSignature!)).toBe('new')
    expect(a!.acceptResult(guardians.at(1)!, b!.key!, b!.ownSignature!)).toBe('known')
  })

  it('holdsPackageOf finds a guardian’s signed package of a session in a transcript', () => {
    const [a, b] = sessions(2)
    a!.acceptRound1(guardians.at(1), b!.ownEnvelope!)
    expect(holdsPackageOf(ctx(3), a!.envelopes(), 1, b!.sessionId)).toBe(true)
    expect(holdsPackageOf(ctx(3), a!.envelopes(), 2, b!.sessionId)).toBe(false)
    expect(holdsPackageOf(ctx(3), a!.envelopes(), 1, new Uint8Array(32))).toBe(false)
    // an envelope signed by someone else in guardian-1's name proves nothing
    const pkg = decodeDkgRound1(decodeEnvelope(b!.ownEnvelope!).payload)
    const forged = encodeEnvelope(signDkgRound1(genesis.hash, guardians, 1, pkg, keys[3]!.votePrivateKey))
    expect(holdsPackageOf(ctx(3), [forged, new Uint8Array(4)], 1, b!.sessionId)).toBe(false)
  })
})
