import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  announceEvent,
  attestOutcome,
  createOracleNonce,
  encodeOracleAnnouncement,
  encodeOracleAttestation,
  type OracleAnnouncement,
  type OracleAttestation,
} from '../../dlc/index.js'
import { encodeEnvelope, encodeTx, MessageKind, signEnvelope, TxType } from '../../protocol/index.js'
import { ChainDriver, makeNetwork, openApp, removeTempDirs, type OpenedApp, type TestNetwork } from './test-helpers/network.js'

interface TestOracle {
  readonly name: string
  readonly secretKey: Uint8Array
  readonly publicKey: Uint8Array
}

const EVENT = { eventId: 'btc-usd-above-100k-2026-12-01', outcomes: ['above', 'below'], maturity: 1_764_547_200 }

let net: TestNetwork
let oracles: TestOracle[]
const opened: OpenedApp[] = []

function oracle(name: string): TestOracle {
  const secretKey = schnorr.utils.randomSecretKey()
  return { name, secretKey, publicKey: schnorr.getPublicKey(secretKey) }
}

/** An OracleMessage transaction carrying `message`, relayed by guardian `relayer`. */
function relayed(message: Uint8Array, relayer = 0): Uint8Array {
  const payload = encodeTx({ type: TxType.OracleMessage, message })
  return encodeEnvelope(signEnvelope(net.genesis.hash, MessageKind.Tx, 0, relayer, payload, net.keys[relayer]!.votePrivateKey))
}

/** Each oracle's announcement of `event`, with the nonce secret it attests with later. */
function announceAll(event = EVENT, by: readonly TestOracle[] = oracles): Array<{ announcement: OracleAnnouncement; nonceSecret: Uint8Array }> {
  return by.map((o) => {
    const nonce = createOracleNonce()
    return { announcement: announceEvent(o.secretKey, event, nonce.secret), nonceSecret: nonce.secret }
  })
}

async function started(): Promise<{ o: OpenedApp; chain: ChainDriver }> {
  const o = await openApp(net)
  opened.push(o)
  return { o, chain: new ChainDriver(net, o.app) }
}

beforeAll(async () => {
  oracles = ['oracle-0', 'oracle-1', 'oracle-2'].map(oracle)
  const peers = await Promise.all(oracles.map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
  net = await makeNetwork({ genesis: { oracles: oracles.map((o, i) => ({ name: o.name, peerId: peers[i], publicKey: bytesToHex(o.publicKey) })) } })
})

afterEach(async () => {
  for (const o of opened.splice(0)) if (o.db.status === 'open') await o.close()
})

afterAll(removeTempDirs)

describe('oracle events in the state', () => {
  it('records announcements, then decides the outcome at the second matching attestation, on every read path', async () => {
    const { o, chain } = await started()
    const announced = announceAll()
    const block = await chain.step(announced.map((a, i) => relayed(encodeOracleAnnouncement(a.announcement), i)))
    expect(block.txs).toHaveLength(3)

    let event = await o.app.getOracleEvent(EVENT.eventId)
    expect(event).toMatchObject({ eventId: EVENT.eventId, outcomes: EVENT.outcomes, maturity: EVENT.maturity, attestations: [], outcome: null, consensusReached: false, createdHeight: 1 })
    expect(event!.announcements.map((a) => [a.oracle, a.publicKey, a.nonce])).toEqual(
      announced.map((a, i) => [oracles[i]!.name, bytesToHex(oracles[i]!.publicKey), bytesToHex(a.announcement.event.nonces[0]!)]),
    )

    const attest = (i: number, outcome: string): OracleAttestation => attestOutcome(oracles[i]!.secretKey, announced[i]!.nonceSecret, announced[i]!.announcement, outcome)
    await chain.step([relayed(encodeOracleAttestation(attest(0, 'above')), 3)])
    event = await o.app.getOracleEvent(EVENT.eventId)
    expect(event).toMatchObject({ outcome: null, consensusReached: false })
    expect(event!.attestations).toMatchObject([{ oracle: 'oracle-0', outcome: 'above' }])

    // A dissenting oracle does not decide anything on its own…
    await chain.step([relayed(encodeOracleAttestation(attest(1, 'below')))])
    expect(await o.app.getOracleEvent(EVENT.eventId)).toMatchObject({ outcome: null, consensusReached: false })

    // …the second matching attestation does.
    await chain.step([relayed(encodeOracleAttestation(attest(2, 'above')))])
    event = await o.app.getOracleEvent(EVENT.eventId)
    expect(event).toMatchObject({ outcome: 'above', consensusReached: true, consensusHeight: 4 })
    expect(event!.attestations.map((a) => [a.oracle, a.outcome])).toEqual([['oracle-0', 'above'], ['oracle-1', 'below'], ['oracle-2', 'above']])

    // The derived index serves the same view, and both survive a restart.
    expect((await o.app.listOracleEvents({ limit: 10 })).items).toEqual([event])
    const reopened = await o.reopen()
    opened.push(reopened)
    expect(await reopened.app.getOracleEvent(EVENT.eventId)).toEqual(event)
    expect((await reopened.app.listOracleEvents({ limit: 10 })).items).toEqual([event])
  })

  it('refuses an attestation without a committed announcement, a forged one, a replayed one, and an unknown oracle', async () => {
    const { o, chain } = await started()
    const event = { ...EVENT, eventId: 'refusals' }
    const [a0, a1] = announceAll(event)
    const early = attestOutcome(oracles[0]!.secretKey, a0!.nonceSecret, a0!.announcement, 'above')
    const earlyCheck = await o.app.checkTx(relayed(encodeOracleAttestation(early)))
    expect(earlyCheck).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringMatching(/no committed announcement/) })

    await chain.step([relayed(encodeOracleAnnouncement(a0!.announcement)), relayed(encodeOracleAnnouncement(a1!.announcement), 1)])

    // Signed with a nonce other than the announced one: the signature is valid, the attestation is not.
    const otherNonce = createOracleNonce()
    const reannounced = announceEvent(oracles[0]!.secretKey, event, otherNonce.secret)
    const wrongNonce = attestOutcome(oracles[0]!.secretKey, otherNonce.secret, reannounced, 'above')
    // A tampered s: the oracle never signed it.
    const forged: OracleAttestation = { ...early, signatures: [Uint8Array.from(early.signatures[0]!, (b, i) => (i === 63 ? b ^ 1 : b))] }
    // Signed by a key that is not in genesis.
    const stranger = oracle('stranger')
    const strangerNonce = createOracleNonce()
    const strangerAnnouncement = announceEvent(stranger.secretKey, event, strangerNonce.secret)

    for (const [message, reason] of [
      [encodeOracleAttestation(wrongNonce), /refused/],
      [encodeOracleAttestation(forged), /refused \(bad_signature\)/],
      [encodeOracleAnnouncement(strangerAnnouncement), /not a genesis oracle/],
      [encodeOracleAnnouncement(reannounced), /already announced/],
      [new Uint8Array([0xfd, 0xd8, 0x24, 0x00]), /refused \(malformed\)/],
    ] as const) {
      expect(await o.app.checkTx(relayed(message))).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringMatching(reason) })
    }
    const block = await chain.step([relayed(encodeOracleAttestation(wrongNonce)), relayed(encodeOracleAttestation(forged)), relayed(encodeOracleAnnouncement(strangerAnnouncement))])
    expect(block.txs).toHaveLength(0)

    await chain.step([relayed(encodeOracleAttestation(early))])
    // The same attestation relayed by another guardian is a duplicate, refused.
    expect(await o.app.checkTx(relayed(encodeOracleAttestation(early), 4))).toMatchObject({ ok: false, reason: expect.stringMatching(/already attested above/) })
    expect((await o.app.getOracleEvent(event.eventId))!.attestations).toHaveLength(1)
  })

  it('gives copies of one oracle message relayed by different guardians one mempool slot', async () => {
    const { o } = await started()
    const [a] = announceAll({ ...EVENT, eventId: 'slots' })
    const message = encodeOracleAnnouncement(a!.announcement)
    const [first, second] = await Promise.all([o.app.checkTx(relayed(message, 0)), o.app.checkTx(relayed(message, 1))])
    expect(first).toMatchObject({ ok: true, slot: expect.stringMatching(/^oracle\/[0-9a-f]{64}$/) })
    expect(second).toMatchObject({ ok: true })
    if (!first.ok || !second.ok) throw new Error('unreachable')
    expect(second.slot).toBe(first.slot)
    expect(second.hash).not.toBe(first.hash)
  })

  it('refuses an announcement whose outcomes or maturity differ from the committed event', async () => {
    const { o, chain } = await started()
    const event = { ...EVENT, eventId: 'conflict' }
    const [a0] = announceAll(event, [oracles[0]!])
    await chain.step([relayed(encodeOracleAnnouncement(a0!.announcement))])
    const [other] = announceAll({ ...event, outcomes: ['above', 'below', 'equal'] }, [oracles[1]!])
    const [late] = announceAll({ ...event, maturity: event.maturity + 1 }, [oracles[2]!])
    for (const a of [other!, late!]) {
      expect(await o.app.checkTx(relayed(encodeOracleAnnouncement(a.announcement)))).toMatchObject({ ok: false, reason: expect.stringMatching(/conflicts with the committed event/) })
    }
  })

  it('keeps an oracle that attests two outcomes as evidence, and stops counting it', async () => {
    const { o, chain } = await started()
    const event = { ...EVENT, eventId: 'equivocation' }
    const announced = announceAll(event)
    await chain.step(announced.map((a) => relayed(encodeOracleAnnouncement(a.announcement))))
    const attest = (i: number, outcome: string) => encodeOracleAttestation(attestOutcome(oracles[i]!.secretKey, announced[i]!.nonceSecret, announced[i]!.announcement, outcome))
    await chain.step([relayed(attest(0, 'above'))])
    await chain.step([relayed(attest(0, 'below'))])
    let view = await o.app.getOracleEvent(event.eventId)
    expect(view!.equivocations).toMatchObject([{ oracle: 'oracle-0', outcome: 'below' }])
    expect(await o.app.checkTx(relayed(attest(0, 'above')))).toMatchObject({ ok: false, reason: expect.stringMatching(/already equivocated/) })

    // oracle-0 no longer counts: one honest "above" is not two.
    await chain.step([relayed(attest(1, 'above'))])
    expect(await o.app.getOracleEvent(event.eventId)).toMatchObject({ outcome: null, consensusReached: false })
    await chain.step([relayed(attest(2, 'above'))])
    view = await o.app.getOracleEvent(event.eventId)
    expect(view).toMatchObject({ outcome: 'above', consensusReached: true })
  })

  it('pages the event list newest first', async () => {
    const { o, chain } = await started()
    for (const eventId of ['page-a', 'page-b', 'page-c']) {
      const [a] = announceAll({ ...EVENT, eventId }, [oracles[0]!])
      await chain.step([relayed(encodeOracleAnnouncement(a!.announcement))])
    }
    const first = await o.app.listOracleEvents({ limit: 2 })
    expect(first.items.map((e) => e.eventId)).toEqual(['page-c', 'page-b'])
    expect(first.nextCursor).not.toBeNull()
    const second = await o.app.listOracleEvents({ limit: 2, cursor: first.nextCursor! })
    expect(second.items.map((e) => e.eventId)).toEqual(['page-a'])
    expect(second.nextCursor).toBeNull()
    await expect(o.app.listOracleEvents({ limit: 2, cursor: 'nope' })).rejects.toThrow(/malformed cursor/)
  })
})
