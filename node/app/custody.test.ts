import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { Psbt } from 'bitcoinjs-lib'
import { Verifier } from 'bip322-js'
import { verifySchnorr } from 'tiny-secp256k1'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bip322TaprootSighash, encodeSimpleSignature, p2trAddress, p2trScript, parseReservePsbt, verifySimpleSignature } from '../../chains/index.js'
import { frostDkg, frostSign, type FrostGroup } from '../../testnet/local-frost.js'
import {
  dkgSessionId,
  encodeEnvelope,
  encodeTx,
  MessageKind,
  reserveKeyDigest,
  signDigest,
  signEnvelope,
  TxType,
  validationId,
  type ObservationTx,
  type ReserveKey,
  type Transaction,
} from '../../protocol/index.js'
import { ChainDriver, makeNetwork, observationTx, openApp, removeTempDirs, voteTx, type OpenedApp, type TestNetwork } from './test-helpers/network.js'

const PAY = '0x' + 'ab'.repeat(20)

let net: TestNetwork
let group: FrostGroup
let reserveKey: ReserveKey
const opened: OpenedApp[] = []

function tx(signer: number, body: Transaction): Uint8Array {
  return encodeEnvelope(signEnvelope(net.genesis.hash, MessageKind.Tx, 0, signer, encodeTx(body), net.keys[signer]!.votePrivateKey))
}

function reserveKeyTx(key: ReserveKey, signingKeys: readonly Uint8Array[] = net.keys.map((k) => k.votePrivateKey)): Uint8Array {
  const digest = reserveKeyDigest(net.genesis.hash, key)
  return tx(0, { type: TxType.ReserveKey, key, signatures: signingKeys.map((k, guardian) => ({ guardian, signature: signDigest(digest, k) })) })
}

function keyOf(g: FrostGroup): ReserveKey {
  const pub = g.keys[0]!.public
  return {
    sessionId: dkgSessionId(net.genesis.hash, 0),
    threshold: 3,
    internalKey: g.internalKey,
    groupKey: pub.commitments[0]!,
    commitments: pub.commitments,
    verifyingShares: g.ids.map((id) => pub.verifyingShares[id]!),
  }
}

let counter = 0
function payment(message = 'proof of reserves, please'): Omit<ObservationTx, 'type'> {
  counter++
  return { chain: 'ethereum', txHash: '0x' + counter.toString(16).padStart(64, '0'), from: '0x' + 'cd'.repeat(20), to: PAY, amount: 5_000n, message: utf8ToBytes(message), blockHeight: 7, blockHash: '0x' + 'ee'.repeat(32) }
}

async function withReserve(): Promise<{ o: OpenedApp; chain: ChainDriver }> {
  const o = await openApp(net)
  opened.push(o)
  const chain = new ChainDriver(net, o.app)
  const block = await chain.step([reserveKeyTx(reserveKey)])
  expect(block.txs).toHaveLength(1)
  return { o, chain }
}

async function approved(chain: ChainDriver, message?: string): Promise<string> {
  const p = payment(message)
  await chain.step([0, 1, 2].map((g) => observationTx(net, g, p)))
  return validationId(p.chain, p.txHash)
}

beforeAll(async () => {
  net = await makeNetwork({ genesis: { chains: { ethereum: { kind: 'evm', chainId: 1, paymentAddress: PAY, minPaymentWei: '1000', confirmations: 1 } } } })
  group = frostDkg(3, 5)
  reserveKey = keyOf(group)
})

afterEach(async () => {
  for (const o of opened.splice(0)) if (o.db.status === 'open') await o.close()
})

afterAll(async () => {
  await removeTempDirs()
})

describe('reserve key', () => {
  it('is set once by a DKG result that every guardian signed, with its P2TR address', async () => {
    const { o, chain } = await withReserve()
    const reserve = await o.app.getReserve()
    const x = reserveKey.groupKey.subarray(1)
    expect(reserve).toMatchObject({ address: p2trAddress(x, 'regtest'), committedHeight: 1 })
    expect(reserve!.address).toMatch(/^bcrt1p/)
    expect(reserve!.signatures).toHaveLength(5)
    expect(await o.app.checkTx(reserveKeyTx(reserveKey))).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringMatching(/already set/) })
    expect((await chain.propose([reserveKeyTx(keyOf(frostDkg(3, 5)))])).txs).toHaveLength(0)
  })

  it('refuses a result that is not vouched for by all, not for this set, or not consistent', async () => {
    const o = await openApp(net)
    opened.push(o)
    const keys = net.keys.map((k) => k.votePrivateKey)
    const check = async (bytes: Uint8Array): Promise<string> => {
      const result = await o.app.checkTx(bytes)
      return result.ok ? 'ok' : result.reason
    }
    expect(await check(reserveKeyTx(reserveKey, [keys[0]!, keys[1]!, keys[2]!, keys[3]!, keys[0]!]))).toMatch(/bad signature of guardian 4/)
    expect(await check(reserveKeyTx({ ...reserveKey, threshold: 2, commitments: reserveKey.commitments.slice(0, 2) }))).toMatch(/threshold 2 differs/)
    const shares = [...reserveKey.verifyingShares]
    shares[3] = shares[2]!
    expect(await check(reserveKeyTx({ ...reserveKey, verifyingShares: shares }))).toMatch(/verifying share of guardian 3/)
    expect(await check(reserveKeyTx({ ...reserveKey, internalKey: frostDkg(3, 5).internalKey }))).toMatch(/not the BIP-341 output key/)
    const offCurve = new Uint8Array(33).fill(0xff)
    offCurve[0] = 2
    expect(await check(reserveKeyTx({ ...reserveKey, internalKey: offCurve }))).toMatch(/invalid point/)
    expect(await check(reserveKeyTx(reserveKey))).toBe('ok')
  })
})

describe('signing jobs of validations', () => {
  it('lists an approved validation, takes a threshold signature of its BIP-322 sighash and serves the proof', async () => {
    const { o, chain } = await withReserve()
    const id = await approved(chain, 'Hello World')
    const jobs = await o.app.pendingSigningJobs(10)
    expect(jobs).toEqual([{ ref: { kind: 'validation', id }, signableAtMs: (await o.app.getValidation(id))!.processedAtMs }])
    const [message] = (await o.app.jobMessages({ kind: 'validation', id }))!
    const signature = frostSign(group, [0, 2, 4], message!)
    expect(verifySchnorr(message!, reserveKey.groupKey.subarray(1), signature)).toBe(true)

    const signed = tx(3, { type: TxType.ThresholdSignature, job: { kind: 'validation', id }, signatures: [signature], signers: [0, 2, 4] })
    // any coordinator's signature settles the job: mempools keep one per job
    expect(await o.app.checkTx(signed)).toMatchObject({ ok: true, slot: `signature/validation/${id}` })
    const block = await chain.step([signed])
    expect(block.txs).toHaveLength(1)
    const record = (await o.app.getValidation(id))!
    const address = (await o.app.getReserve())!.address
    expect(record).toMatchObject({ status: 'signed', signature: { bitcoinAddress: address, signers: [0, 2, 4], signedHeight: block.header.height } })
    const proof = record.signature!.bitcoinSignature
    expect(verifySimpleSignature({ address, message: 'Hello World', signature: proof })).toEqual({ valid: true, type: 'p2tr' })
    expect(verifySimpleSignature({ address, message: 'Hello World!', signature: proof }).valid).toBe(false)
    expect(await o.app.pendingSigningJobs(10)).toEqual([])
    expect(await o.app.jobMessages({ kind: 'validation', id })).toBeUndefined()
    expect((await o.app.auditLog({ limit: 10 })).map((e) => [e.operationId, e.status])).toEqual([
      [id, 'approved'],
      [id, 'signed'],
    ])
    expect((await o.app.listValidations({ status: 'signed', limit: 10 })).items.map((v) => v.id)).toEqual([id])
    // signed once: a second signature of the same job is invalid
    expect(await o.app.checkTx(tx(1, { type: TxType.ThresholdSignature, job: { kind: 'validation', id }, signatures: [frostSign(group, [1, 2, 3], message!)], signers: [1, 2, 3] }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/does not await a signature/),
    })
  })

  it('the proof verifies with an independent BIP-322 verifier (bip322-js) on a mainnet-encoded address too', () => {
    const x = reserveKey.groupKey.subarray(1)
    const address = p2trAddress(x, 'mainnet')
    // The state machine signs bip322TaprootSighash(p2trScript(Q), message): recompute it the way a user would check it.
    const message = 'independent check'
    const proof = signedProof(message)
    expect(Verifier.verifySignature(address, message, proof)).toBe(true)
    expect(Verifier.verifySignature(address, 'another message', proof)).toBe(false)
    expect(Verifier.verifySignature(p2trAddress(frostDkg(3, 5).outputKey.subarray(1), 'mainnet'), message, proof)).toBe(false)
  })

  it('refuses wrong signatures, too few signers and jobs that do not await a signature', async () => {
    const { o, chain } = await withReserve()
    const id = await approved(chain)
    const [message] = (await o.app.jobMessages({ kind: 'validation', id }))!
    const reason = async (body: Transaction): Promise<string> => {
      const r = await o.app.checkTx(tx(0, body))
      return r.ok ? 'ok' : r.reason
    }
    const job = { kind: 'validation' as const, id }
    expect(await reason({ type: TxType.ThresholdSignature, job, signatures: [frostSign(group, [0, 1, 2], utf8ToBytes('x'.repeat(32)))], signers: [0, 1, 2] })).toMatch(/not a BIP-340 signature/)
    expect(await reason({ type: TxType.ThresholdSignature, job, signatures: [frostSign(group, [0, 1, 2], message!)], signers: [0, 1] })).toMatch(/2 signers, the reserve needs 3/)
    expect(await reason({ type: TxType.ThresholdSignature, job, signatures: [frostSign(group, [0, 1, 2], message!), frostSign(group, [0, 1, 2], message!)], signers: [0, 1, 2] })).toMatch(/signs 1 messages, got 2/)
    expect(await reason({ type: TxType.ThresholdSignature, job: { kind: 'validation', id: 'ab'.repeat(32) }, signatures: [frostSign(group, [0, 1, 2], message!)], signers: [0, 1, 2] })).toMatch(/does not await/)
    expect(await reason({ type: TxType.ThresholdSignature, job, signatures: [frostSign(group, [0, 1, 2], message!)], signers: [0, 1, 2] })).toBe('ok')
  })

  it('has no jobs and signs nothing before the reserve key is committed', async () => {
    const o = await openApp(net)
    opened.push(o)
    const chain = new ChainDriver(net, o.app)
    const id = await approved(chain)
    expect(await o.app.pendingSigningJobs(10)).toEqual([])
    expect(await o.app.jobMessages({ kind: 'validation', id })).toBeUndefined()
    await chain.step([reserveKeyTx(reserveKey)])
    const reserve = (await o.app.getReserve())!
    // approved before the key existed: signable from the key's commit
    expect(await o.app.pendingSigningJobs(10)).toEqual([{ ref: { kind: 'validation', id }, signableAtMs: reserve.committedAtMs }])
  })
})

describe('PSBT co-signing', () => {
  function reservePsbt(): Uint8Array {
    const script = p2trScript(reserveKey.groupKey.subarray(1))
    const psbt = new Psbt()
    psbt.addInput({ hash: 'aa'.repeat(32), index: 0, witnessUtxo: { script, value: 50_000n } })
    psbt.addInput({ hash: 'bb'.repeat(32), index: 1, witnessUtxo: { script: hexToBytes('0014' + '11'.repeat(20)), value: 10_000n } })
    psbt.addInput({ hash: 'cc'.repeat(32), index: 2, witnessUtxo: { script, value: 70_000n } })
    psbt.addOutput({ script: hexToBytes('0014' + '22'.repeat(20)), value: 120_000n })
    return psbt.toBuffer()
  }

  it('signs the reserve inputs of a PSBT once reserve_spend is approved', async () => {
    const { o, chain } = await withReserve()
    const bytes = reservePsbt()
    await chain.step([tx(1, { type: TxType.PsbtProposal, psbt: bytes })])
    const id = parseReservePsbt(bytes, reserveKey.groupKey.subarray(1)).id
    const record = (await o.app.getPsbt(id))!
    expect(record).toMatchObject({ id, inputs: [0, 2], proposer: 1, approvedAtMs: null, signedPsbt: null })
    expect(await o.app.pendingSigningJobs(10)).toEqual([])
    expect(await o.app.checkTx(tx(2, { type: TxType.PsbtProposal, psbt: bytes }))).toMatchObject({ ok: false, reason: expect.stringMatching(/already proposed/) })

    // reserve_spend needs the commit quorum (4 of 5)
    await chain.step([voteTx(net, 0, 'reserve_spend', id), voteTx(net, 1, 'reserve_spend', id), voteTx(net, 2, 'reserve_spend', id)])
    expect(await o.app.pendingSigningJobs(10)).toEqual([])
    const approval = await chain.step([voteTx(net, 3, 'reserve_spend', id)])
    expect(await o.app.pendingSigningJobs(10)).toEqual([{ ref: { kind: 'psbt', id }, signableAtMs: approval.header.timeMs }])

    const messages = (await o.app.jobMessages({ kind: 'psbt', id }))!
    expect(messages).toHaveLength(2)
    const signatures = messages.map((m) => frostSign(group, [1, 3, 4], m))
    await chain.step([tx(4, { type: TxType.ThresholdSignature, job: { kind: 'psbt', id }, signatures, signers: [1, 3, 4] })])
    const signed = (await o.app.getPsbt(id))!
    expect(signed.signers).toEqual([1, 3, 4])
    const psbt = Psbt.fromHex(signed.signedPsbt!)
    for (const [k, input] of [0, 2].entries()) {
      const witness = psbt.data.inputs[input]!.finalScriptWitness ?? psbt.data.inputs[input]!.tapKeySig
      expect(witness).toBeDefined()
      expect(verifySchnorr(messages[k]!, reserveKey.groupKey.subarray(1), signatures[k]!)).toBe(true)
    }
    expect(await o.app.pendingSigningJobs(10)).toEqual([])
  })

  it('refuses votes on a PSBT nobody proposed and PSBTs that spend no reserve output', async () => {
    const { o } = await withReserve()
    expect(await o.app.checkTx(voteTx(net, 0, 'reserve_spend', 'ab'.repeat(32)))).toMatchObject({ ok: false, reason: expect.stringMatching(/no proposed PSBT/) })
    const foreign = new Psbt()
    foreign.addInput({ hash: 'bb'.repeat(32), index: 1, witnessUtxo: { script: hexToBytes('0014' + '11'.repeat(20)), value: 10_000n } })
    foreign.addOutput({ script: hexToBytes('0014' + '22'.repeat(20)), value: 9_000n })
    expect(await o.app.checkTx(tx(0, { type: TxType.PsbtProposal, psbt: foreign.toBuffer() }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^psbt: /) })
    expect(await o.app.checkTx(tx(0, { type: TxType.PsbtProposal, psbt: new Uint8Array([1, 2, 3]) }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^psbt: /) })
  })
})

/** A BIP-322 proof by the reserve, as the state machine builds it. */
function signedProof(message: string): string {
  const sighash = bip322TaprootSighash(p2trScript(reserveKey.groupKey.subarray(1)), utf8ToBytes(message))
  return encodeSimpleSignature([frostSign(group, [1, 2, 3], sighash)])
}
