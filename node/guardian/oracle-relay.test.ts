import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { beforeAll, describe, expect, it } from 'vitest'
import { announceEvent, attestOutcome, createOracleNonce, encodeOracleAnnouncement, encodeOracleAttestation } from '../../dlc/index.js'
import { MAX_ORACLE_MESSAGE_BYTES, TxType, type Genesis, type Transaction } from '../../protocol/index.js'
import { makeNetwork } from '../app/test-helpers/network.js'
import { OracleRelay } from './oracle-relay.js'

const EVENT = { eventId: 'relay-event', outcomes: ['yes', 'no'], maturity: 1_800_000_000 }

let genesis: Genesis
const oracleKey = schnorr.utils.randomSecretKey()

beforeAll(async () => {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  genesis = (await makeNetwork({ genesis: { oracles: [{ name: 'oracle-0', peerId, publicKey: bytesToHex(schnorr.getPublicKey(oracleKey)) }] } })).genesis
})

function relay(): { relay: OracleRelay; submitted: Transaction[]; registry: Registry; settled: () => Promise<void> } {
  const submitted: Transaction[] = []
  const pending: Array<Promise<unknown>> = []
  const registry = new Registry()
  const r = new OracleRelay({
    genesis,
    submit: (tx) => {
      submitted.push(tx)
      const result = Promise.resolve({ ok: true as const, hash: '00'.repeat(32) })
      pending.push(result)
      return result
    },
    registry,
    logger: pino({ level: 'silent' }),
  })
  return { relay: r, submitted, registry, settled: async () => void (await Promise.all(pending)) }
}

async function count(registry: Registry, kind: string, result: string): Promise<number> {
  const metric = await registry.getSingleMetric('ubtc_oracle_messages_total')!.get()
  return metric.values.find((v) => v.labels.kind === kind && v.labels.result === result)?.value ?? 0
}

describe('OracleRelay', () => {
  it('accepts a genesis oracle’s announcement and attestation and relays each into the log as an OracleMessage', async () => {
    const { relay: r, submitted, registry, settled } = relay()
    const nonce = createOracleNonce()
    const announcement = encodeOracleAnnouncement(announceEvent(oracleKey, EVENT, nonce.secret))
    const attestation = encodeOracleAttestation(attestOutcome(oracleKey, nonce.secret, announceEvent(oracleKey, EVENT, nonce.secret), 'yes'))
    expect(r.validate(announcement, 'peer-a')).toBe('accept')
    expect(r.validate(attestation, 'peer-a')).toBe('accept')
    await settled()
    expect(submitted).toEqual([
      { type: TxType.OracleMessage, message: announcement },
      { type: TxType.OracleMessage, message: attestation },
    ])
    expect(await count(registry, 'announcement', 'accepted')).toBe(1)
    expect(await count(registry, 'attestation', 'accepted')).toBe(1)
  })

  it('rejects and counts malformed, oversized, unsigned and unknown-oracle messages, relaying none', async () => {
    const { relay: r, submitted, registry, settled } = relay()
    const nonce = createOracleNonce()
    const announced = announceEvent(oracleKey, EVENT, nonce.secret)
    const unsigned = encodeOracleAnnouncement({ ...announced, signature: new Uint8Array(64) })
    const tampered = encodeOracleAttestation({ ...attestOutcome(oracleKey, nonce.secret, announced, 'yes'), outcomes: ['no'] })
    const strangerKey = schnorr.utils.randomSecretKey()
    const stranger = encodeOracleAnnouncement(announceEvent(strangerKey, EVENT, createOracleNonce().secret))
    for (const bytes of [new Uint8Array([1, 2, 3]), new Uint8Array(MAX_ORACLE_MESSAGE_BYTES + 1), unsigned, tampered, stranger]) {
      expect(r.validate(bytes, 'peer-b')).toBe('reject')
    }
    await settled()
    expect(submitted).toEqual([])
    expect(await count(registry, 'unknown', 'malformed')).toBe(1)
    expect(await count(registry, 'unknown', 'oversize')).toBe(1)
    expect(await count(registry, 'announcement', 'bad_signature')).toBe(1)
    expect(await count(registry, 'attestation', 'bad_signature')).toBe(1)
    expect(await count(registry, 'announcement', 'unknown_oracle')).toBe(1)
  })
})
