import { hexToBytes } from '@noble/hashes/utils.js'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  encodeCanonical,
  encodeEnvelope,
  encodeHeartbeat,
  encodeRebroadcast,
  genesisToJson,
  GuardianSet,
  MAX_ENVELOPE_BYTES,
  MessageKind,
  parseGenesis,
  signEnvelope,
  type Genesis,
  type Heartbeat,
} from '../../protocol/index.js'
import { generateGuardianKeys, publicInfo, type GuardianKeys } from '../keystore/index.js'
import { GossipValidator, REJECT_REASONS, type GossipVerdict, type RejectReason } from './gossip-validator.js'

const NOW = 1_750_000_000_000

let keys: GuardianKeys[]
let genesis: Genesis
let guardians: GuardianSet
let networkId: Uint8Array

beforeAll(async () => {
  keys = await Promise.all(Array.from({ length: 4 }, () => generateGuardianKeys()))
  genesis = parseGenesis(
    genesisToJson({
      network: 'ubtc-gossip-test',
      genesisTime: '2025-01-01T00:00:00.000Z',
      guardianSetIndex: 0,
      guardians: keys.map((k, index) => {
        const pub = publicInfo(k)
        return { index, name: `guardian-${index}`, votePublicKey: hexToBytes(pub.votePublicKey), address: pub.address, peerId: pub.peerId }
      }),
      thresholds: { validation: 3, lp_liquidation: 3, dlc_emergency: 3, reserve_spend: 3 },
      chains: {},
      oracles: [],
      bitcoinNetwork: 'regtest',
      operationTtlMs: 3_600_000,
    }),
  )
  guardians = new GuardianSet(genesis)
  networkId = genesis.hash
})

const validator = (opts: { maxClockSkewMs?: number; maxAgeMs?: number } = {}): GossipValidator =>
  new GossipValidator({ networkId, guardians, ...opts })

function heartbeat(index: number, overrides: Partial<Heartbeat> = {}): Heartbeat {
  const g = guardians.at(index)!
  return { name: g.name, version: '0.1.0', height: 100n, peerCount: 3, timestampMs: NOW, peerId: g.peerId, ...overrides }
}

interface SignOpts {
  signer?: number
  key?: number
  network?: Uint8Array
  setIndex?: number
  kind?: MessageKind
}

function envelopeBytes(payload: Uint8Array, opts: SignOpts = {}): Uint8Array {
  const signer = opts.signer ?? 1
  const env = signEnvelope(opts.network ?? networkId, opts.kind ?? MessageKind.Heartbeat, opts.setIndex ?? 0, signer, payload, keys[opts.key ?? signer]!.votePrivateKey)
  return encodeEnvelope(env)
}

const gossip = (hb: Heartbeat, opts: SignOpts = {}): Uint8Array => envelopeBytes(encodeHeartbeat(hb), opts)

function expectRefused(verdict: GossipVerdict, reason: RejectReason, action: 'reject' | 'ignore'): void {
  expect(verdict.accepted, JSON.stringify(verdict, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toBe(false)
  if (verdict.accepted) return
  expect(verdict.reason).toBe(reason)
  expect(verdict.action).toBe(action)
  expect(verdict.detail.length).toBeGreaterThan(0)
}

describe('GossipValidator', () => {
  it('accepts a heartbeat signed by the guardian it names', () => {
    const hb = heartbeat(2, { height: 2n ** 60n })
    const verdict = validator().validate(MessageKind.Heartbeat, gossip(hb, { signer: 2 }), NOW)
    expect(verdict.accepted).toBe(true)
    if (!verdict.accepted) return
    expect(verdict.signer).toBe(guardians.at(2))
    expect(verdict.envelope.signer).toBe(2)
    expect(verdict.message).toEqual({ kind: MessageKind.Heartbeat, heartbeat: hb })
  })

  it('accepts heartbeats within the clock skew and age windows, at their edges', () => {
    const v = validator({ maxClockSkewMs: 1000, maxAgeMs: 5000 })
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(0, { timestampMs: NOW - 5000 }), { signer: 0 }), NOW).accepted).toBe(true)
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW + 1000 }), { signer: 1 }), NOW).accepted).toBe(true)
  })

  it('rejects data over MAX_ENVELOPE_BYTES as oversize', () => {
    expectRefused(validator().validate(MessageKind.Heartbeat, new Uint8Array(MAX_ENVELOPE_BYTES + 1), NOW), 'oversize', 'reject')
  })

  it('rejects a payload over the heartbeat limit as oversize', () => {
    expectRefused(validator().validate(MessageKind.Heartbeat, envelopeBytes(new Uint8Array(1025)), NOW), 'oversize', 'reject')
  })

  it('rejects garbage bytes as malformed', () => {
    for (const garbage of [new Uint8Array([0xde, 0xad, 0xbe, 0xef]), new Uint8Array(0), new TextEncoder().encode('{"kind":1}')]) {
      expectRefused(validator().validate(MessageKind.Heartbeat, garbage, NOW), 'malformed', 'reject')
    }
  })

  it('rejects a validly signed payload that is not a heartbeat as malformed, naming the signer', () => {
    const verdict = validator().validate(MessageKind.Heartbeat, envelopeBytes(encodeCanonical([1, 'just', 'words'])), NOW)
    expectRefused(verdict, 'malformed', 'reject')
    expect(!verdict.accepted && verdict.signer).toBe(guardians.at(1))
  })

  it('rejects a non-canonical envelope as non_canonical', () => {
    const bytes = gossip(heartbeat(1))
    const longer = new Uint8Array([bytes[0]!, 0x18, 0x01, ...bytes.subarray(2)])
    expectRefused(validator().validate(MessageKind.Heartbeat, longer, NOW), 'non_canonical', 'reject')
  })

  it('rejects a message of another kind than the topic as wrong_topic', () => {
    expectRefused(validator().validate(99 as MessageKind, gossip(heartbeat(1)), NOW), 'wrong_topic', 'reject')
  })

  it('rejects an unknown envelope kind as wrong_kind', () => {
    const bytes = envelopeBytes(encodeHeartbeat(heartbeat(1)), { kind: 7 as MessageKind })
    expectRefused(validator().validate(MessageKind.Heartbeat, bytes, NOW), 'wrong_kind', 'reject')
  })

  it('rejects a DKG round-1 envelope on every gossip topic and inside a rebroadcast (it travels over dkg/1 only)', () => {
    const bytes = envelopeBytes(encodeCanonical([1, 'dkg round 1']), { kind: MessageKind.DkgRound1 })
    for (const topic of [MessageKind.Heartbeat, MessageKind.Proposal, MessageKind.Vote, MessageKind.Tx, MessageKind.Rebroadcast]) {
      expectRefused(validator().validate(topic, bytes, NOW), 'wrong_topic', 'reject')
    }
    const wrapped = envelopeBytes(encodeRebroadcast({ timestampMs: NOW, envelopes: [bytes] }), { kind: MessageKind.Rebroadcast })
    expectRefused(validator().validate(MessageKind.Rebroadcast, wrapped, NOW), 'wrong_kind', 'reject')
  })

  it('rejects a signer outside the guardian set, or of another set, as unknown_signer', () => {
    expectRefused(validator().validate(MessageKind.Heartbeat, gossip(heartbeat(1), { signer: 4, key: 1 }), NOW), 'unknown_signer', 'reject')
    expectRefused(validator().validate(MessageKind.Heartbeat, gossip(heartbeat(1), { setIndex: 1 }), NOW), 'unknown_signer', 'reject')
  })

  it('rejects a forged or cross-network signature as bad_signature', () => {
    // Guardian 2 signs a heartbeat in guardian 1's name and slot.
    expectRefused(validator().validate(MessageKind.Heartbeat, gossip(heartbeat(1), { signer: 1, key: 2 }), NOW), 'bad_signature', 'reject')
    // Signed for another network.
    expectRefused(validator().validate(MessageKind.Heartbeat, gossip(heartbeat(1), { network: new Uint8Array(32).fill(7) }), NOW), 'bad_signature', 'reject')
    // A flipped signature bit.
    const bytes = gossip(heartbeat(1))
    bytes[bytes.length - 10]! ^= 1
    expectRefused(validator().validate(MessageKind.Heartbeat, bytes, NOW), 'bad_signature', 'reject')
  })

  it('rejects a heartbeat naming another guardian as identity_mismatch', () => {
    const other = guardians.at(3)!
    const v = validator()
    // Guardian 1 signs a heartbeat claiming to be guardian 3.
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(3), { signer: 1 }), NOW), 'identity_mismatch', 'reject')
    // Right name, someone else's peer id.
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { peerId: other.peerId }), { signer: 1 }), NOW), 'identity_mismatch', 'reject')
    // Right peer id, someone else's name.
    const verdict = v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { name: other.name }), { signer: 1 }), NOW)
    expectRefused(verdict, 'identity_mismatch', 'reject')
    expect(!verdict.accepted && verdict.signer).toBe(guardians.at(1))
  })

  it('ignores a replay of the same heartbeat, and an older one, as replayed', () => {
    const v = validator()
    const bytes = gossip(heartbeat(1, { timestampMs: NOW }))
    expect(v.validate(MessageKind.Heartbeat, bytes, NOW).accepted).toBe(true)
    expectRefused(v.validate(MessageKind.Heartbeat, bytes, NOW + 10), 'replayed', 'ignore')
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW - 1 })), NOW + 10), 'replayed', 'ignore')
    // A different heartbeat with the same timestamp is a replay too.
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW, height: 101n })), NOW + 10), 'replayed', 'ignore')
    // A newer one is fine, and the watermark is per guardian.
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW + 1 })), NOW + 10).accepted).toBe(true)
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(2, { timestampMs: NOW - 5 }), { signer: 2 }), NOW + 10).accepted).toBe(true)
  })

  it('ignores a heartbeat too far in the future as clock_skew, without moving the watermark', () => {
    const v = validator({ maxClockSkewMs: 1000 })
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW + 1001 })), NOW), 'clock_skew', 'ignore')
    // The far-future heartbeat was not recorded: a current one still gets through.
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW })), NOW).accepted).toBe(true)
  })

  it('ignores a heartbeat older than maxAgeMs as stale', () => {
    const v = validator({ maxAgeMs: 5000 })
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW - 5001 })), NOW), 'stale', 'ignore')
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW - 4000 })), NOW).accepted).toBe(true)
  })

  it('uses 30 s of clock skew and 120 s of age by default', () => {
    const v = validator()
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW + 30_001 })), NOW), 'clock_skew', 'ignore')
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW - 120_001 })), NOW), 'stale', 'ignore')
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW - 120_000 })), NOW).accepted).toBe(true)
  })

  it('remember() seeds the replay watermark and never moves it back', () => {
    const v = validator()
    v.remember(1, NOW)
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW })), NOW), 'replayed', 'ignore')
    v.remember(1, NOW - 1000)
    expectRefused(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW - 500 })), NOW), 'replayed', 'ignore')
    // Other guardians are unaffected.
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(0, { timestampMs: NOW }), { signer: 0 }), NOW).accepted).toBe(true)
    expect(v.validate(MessageKind.Heartbeat, gossip(heartbeat(1, { timestampMs: NOW + 1 })), NOW).accepted).toBe(true)
  })

  it('lists every reason it can give', () => {
    expect(new Set(REJECT_REASONS).size).toBe(REJECT_REASONS.length)
    for (const r of ['oversize', 'malformed', 'non_canonical', 'wrong_topic', 'unknown_signer', 'bad_signature', 'identity_mismatch', 'replayed', 'clock_skew', 'stale'] as const) {
      expect(REJECT_REASONS).toContain(r)
    }
  })
})
