import { decodeEnvelope, encodeEnvelope, encodeHeartbeat, MessageKind, signEnvelope, verifyEnvelope } from '../protocol/index.js'
import { GossipValidator } from '../node/network/index.js'
import { heartbeatOf, type BenchFixture } from './fixture.js'
import { measureRate, progress, type RateResult } from './measure.js'

export interface MicroResults {
  readonly sign: RateResult
  readonly verify: RateResult
  readonly validate: RateResult
  readonly envelopeBytes: number
}

/** Signing, verification and the whole gossip validation path on heartbeat envelopes, without a network. */
export function runMicro(fixture: BenchFixture, durationMs: number): MicroResults {
  const { genesis, keys } = fixture
  const kind = MessageKind.Heartbeat
  const payload = encodeHeartbeat(heartbeatOf(fixture, 0, Date.now()))
  const key = keys[0]!.votePrivateKey

  let sink = 0
  const sign = measureRate(() => {
    sink ^= signEnvelope(genesis.hash, kind, genesis.guardianSetIndex, 0, payload, key).signature[0]!
  }, durationMs)
  progress(`envelope sign: ${Math.round(sign.perSecond)}/s (${sign.ops} ops in ${sign.seconds.toFixed(2)} s)`)

  const bytes = encodeEnvelope(signEnvelope(genesis.hash, kind, genesis.guardianSetIndex, 0, payload, key))
  const verify = measureRate(() => {
    sink ^= verifyEnvelope(genesis.hash, fixture.guardians, decodeEnvelope(bytes)).index
  }, durationMs)
  progress(`envelope decode+verify: ${Math.round(verify.perSecond)}/s (${verify.ops} ops, envelope ${bytes.length} bytes)`)

  const validate = measureValidate(fixture, durationMs)
  progress(`gossip validate: ${Math.round(validate.perSecond)}/s (${validate.ops} ops)`)
  if (sink === -1) progress('unreachable')
  return { sign, verify, validate, envelopeBytes: bytes.length }
}

/**
 * GossipValidator.validate on fresh, valid heartbeats: a pool of envelopes with strictly
 * increasing timestamps, rotating over all signers, is signed up front; each pass over the
 * pool uses a new validator (whose replay watermark starts empty), so every message is new to it.
 */
function measureValidate(fixture: BenchFixture, durationMs: number): RateResult {
  const { genesis, keys, guardians } = fixture
  const poolSize = 4096
  const base = Date.now()
  const pool = Array.from({ length: poolSize }, (_, i) => {
    const signer = i % guardians.size
    const payload = encodeHeartbeat(heartbeatOf(fixture, signer, base + i))
    return encodeEnvelope(signEnvelope(genesis.hash, MessageKind.Heartbeat, genesis.guardianSetIndex, signer, payload, keys[signer]!.votePrivateKey))
  })
  const nowMs = base + poolSize
  let validator = new GossipValidator({ networkId: genesis.hash, guardians })
  let rejected = 0
  const result = measureRate((i) => {
    const slot = i % poolSize
    if (slot === 0) validator = new GossipValidator({ networkId: genesis.hash, guardians })
    if (!validator.validate(MessageKind.Heartbeat, pool[slot]!, nowMs).accepted) rejected++
  }, durationMs)
  if (rejected > 0) throw new Error(`gossip validate bench: ${rejected} valid heartbeats were rejected`)
  return result
}
