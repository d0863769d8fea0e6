import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { observationHash, TxType, validationId, type ObservationTx } from '../../protocol/index.js'
import { ChainDriver, makeNetwork, observationTx, openApp, removeTempDirs, type OpenedApp, type TestNetwork } from './test-helpers/network.js'

const PAY = '0x' + 'ab'.repeat(20)
const SOL_PAY = 'So1PaymentAddress111111111111111111111111111'
const HOUR = 3_600_000

let net: TestNetwork
const opened: OpenedApp[] = []

async function fresh(network: TestNetwork = net): Promise<OpenedApp> {
  const o = await openApp(network)
  opened.push(o)
  return o
}

let counter = 0
function payment(patch: Partial<Omit<ObservationTx, 'type'>> = {}): Omit<ObservationTx, 'type'> {
  counter++
  return {
    chain: 'ethereum',
    txHash: '0x' + counter.toString(16).padStart(64, '0'),
    from: '0x' + 'cd'.repeat(20),
    to: PAY.toUpperCase().replace('0X', '0x'),
    amount: 2_000n,
    message: utf8ToBytes('bc1qdestination'),
    blockHeight: 100,
    blockHash: '0x' + 'ee'.repeat(32),
    ...patch,
  }
}

const idOf = (p: Omit<ObservationTx, 'type'>): string => validationId(p.chain, p.txHash)
const observe = (p: Omit<ObservationTx, 'type'>, guardians: readonly number[], network = net): Uint8Array[] => guardians.map((g) => observationTx(network, g, p))

beforeAll(async () => {
  net = await makeNetwork({
    genesis: {
      chains: {
        ethereum: { kind: 'evm', chainId: 1, paymentAddress: PAY, minPaymentWei: '1000', confirmations: 12 },
        solana: { kind: 'solana', paymentAddress: SOL_PAY, minPaymentLamports: '500' },
      },
      validationRateLimitPerHour: 2,
    },
  })
})

afterEach(async () => {
  for (const o of opened.splice(0)) if (o.db.status === 'open') await o.close()
})

afterAll(async () => {
  await removeTempDirs()
})

describe('payment validations', () => {
  it('approves on the third of five identical observations, with an audit entry', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const p = payment()
    const id = idOf(p)
    const b1 = await chain.step(observe(p, [0, 1]))
    expect(b1.txs).toHaveLength(2)
    expect(await app.getValidation(id)).toMatchObject({ id, status: 'pending', reason: null, processedAtMs: null, processedHeight: null, createdHeight: 1, amount: '2000' })
    const b2 = await chain.step(observe(p, [2]))
    const v = await app.getValidation(id)
    expect(v).toMatchObject({
      status: 'approved',
      chain: 'ethereum',
      txHash: p.txHash,
      fromAddress: p.from,
      toAddress: p.to,
      message: bytesToHex(p.message),
      messageText: 'bc1qdestination',
      processedAtMs: b2.header.timeMs,
      processedHeight: 2,
      conflicting: [],
    })
    expect(v!.observations.map((o) => [o.guardian, o.observationHash])).toEqual([0, 1, 2].map((g) => [g, observationHash({ type: TxType.Observation, ...p })]))
    expect(v!.observations[0]!.signature).toMatch(/^[0-9a-f]{130}$/)
    expect((await app.auditLog({ limit: 10 })).map((e) => [e.operation, e.operationId, e.status, e.height])).toEqual([['validation', id, 'approved', 2]])
    // late observations are still recorded, without a new decision
    await chain.step(observe(p, [3]))
    expect((await app.getValidation(id))!.observations.map((o) => o.guardian)).toEqual([0, 1, 2, 3])
    expect(await app.auditLog({ limit: 10 })).toHaveLength(1)
    expect(await app.listValidations({ limit: 10 })).toMatchObject({ items: [{ id, status: 'approved' }], nextCursor: null })
  })

  it('keeps conflicting observations apart and does not count them', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const p = payment()
    const forged = { ...p, amount: 999_999n }
    await chain.step([...observe(p, [0, 1]), ...observe(forged, [2])])
    const v = await app.getValidation(idOf(p))
    expect(v).toMatchObject({ status: 'pending', amount: '2000' })
    expect(v!.conflicting).toEqual([{ guardian: 2, observationHash: observationHash({ type: TxType.Observation, ...forged }), signature: expect.any(String) }])
    await chain.step(observe(forged, [3]))
    expect(await app.getValidation(idOf(p))).toMatchObject({ status: 'pending', amount: '2000' })
    await chain.step(observe(p, [4]))
    const decided = await app.getValidation(idOf(p))
    expect(decided).toMatchObject({ status: 'approved', amount: '2000' })
    expect(decided!.observations.map((o) => o.guardian)).toEqual([0, 1, 4])
    expect(decided!.conflicting.map((o) => o.guardian)).toEqual([2, 3])
  })

  it('switches to the content that overtakes the first one and decides with it', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const honest = payment()
    const liar = { ...honest, to: '0x' + '11'.repeat(20) }
    await chain.step([...observe(liar, [0]), ...observe(honest, [1, 2])])
    expect(await app.getValidation(idOf(honest))).toMatchObject({ status: 'pending', toAddress: honest.to, conflicting: [{ guardian: 0 }] })
    await chain.step(observe(honest, [3]))
    expect(await app.getValidation(idOf(honest))).toMatchObject({ status: 'approved', toAddress: honest.to })
  })

  it('rejects with each reason', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const cases: Array<[string, Omit<ObservationTx, 'type'>]> = [
      ['wrong_recipient', payment({ to: '0x' + '12'.repeat(20) })],
      ['below_minimum', payment({ amount: 999n })],
      ['empty_message', payment({ message: new Uint8Array() })],
      ['invalid_utf8', payment({ message: new Uint8Array([0xff, 0xfe]) })],
      ['message_too_long', payment({ message: new Uint8Array(513).fill(0x61) })],
      ['unknown_chain', payment({ chain: 'polygon' })],
      ['wrong_recipient', payment({ chain: 'solana', txHash: '5xSolSig', to: SOL_PAY.toLowerCase() })],
    ]
    await chain.step(cases.flatMap(([, p]) => observe(p, [0, 1, 2])))
    for (const [reason, p] of cases) expect(await app.getValidation(idOf(p)), reason).toMatchObject({ status: 'rejected', reason })
    expect((await app.auditLog({ limit: 20 })).map((e) => e.status)).toEqual(cases.map(() => 'rejected'))
    // exactly 512 bytes, and the exact minimum, pass
    const ok = payment({ amount: 1000n, message: new Uint8Array(512).fill(0x61) })
    const sol = payment({ chain: 'solana', txHash: '5xSolSig2', from: 'SoLsender1', to: SOL_PAY, amount: 500n })
    await chain.step([...observe(ok, [0, 1, 2]), ...observe(sol, [0, 1, 2])])
    expect(await app.getValidation(idOf(ok))).toMatchObject({ status: 'approved' })
    expect(await app.getValidation(idOf(sol))).toMatchObject({ status: 'approved' })
    expect((await app.listValidations({ status: 'rejected', limit: 100 })).items).toHaveLength(cases.length)
    expect((await app.listValidations({ chain: 'solana', limit: 100 })).items.map((v) => v.status).sort()).toEqual(['approved', 'rejected'])
  })

  it('refuses a second observation by the same guardian (checkTx, proposer, validator)', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const p = payment()
    await chain.step(observe(p, [0]))
    const again = observationTx(net, 0, { ...p, amount: 5000n })
    expect(await app.checkTx(again)).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringContaining('already observed') })
    // the proposer skips it (and a duplicate within the block)
    const p2 = payment()
    const block = await chain.propose([again, ...observe(p2, [1]), observationTx(net, 1, { ...p2, amount: 1n })])
    expect(block.txs).toHaveLength(1)
    // a block that carries it is invalid
    const bad = { ...block, txs: [again] }
    expect((await app.validateBlock(bad)).ok).toBe(false)
  })

  it('delays over the rate limit and approves once the window frees', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const from = '0x' + '77'.repeat(20)
    const ps = [0, 1, 2, 3].map(() => payment({ from }))
    // limit is 2 per hour per sender; the sender is matched case-insensitively
    await chain.step([...observe(ps[0]!, [0, 1, 2]), ...observe({ ...ps[1]!, from: from.toUpperCase().replace('0X', '0x') }, [0, 1, 2])])
    const b2 = await chain.step([...observe(ps[2]!, [0, 1, 2]), ...observe(ps[3]!, [0, 1, 2])], { timestampMs: 0 })
    expect(await app.getValidation(idOf(ps[1]!))).toMatchObject({ status: 'approved' })
    expect(await app.getValidation(idOf(ps[2]!))).toMatchObject({ status: 'delayed', reason: 'rate_limited', processedHeight: 2 })
    expect(await app.getValidation(idOf(ps[3]!))).toMatchObject({ status: 'delayed', reason: 'rate_limited' })
    expect((await app.listValidations({ status: 'delayed', from, limit: 10 })).items.map((v) => v.id).sort()).toEqual([idOf(ps[2]!), idOf(ps[3]!)].sort())
    // another sender is not affected
    const other = payment({ from: '0x' + '88'.repeat(20) })
    await chain.step(observe(other, [0, 1, 2]))
    expect(await app.getValidation(idOf(other))).toMatchObject({ status: 'approved' })
    // an hour after block 1 (block 1's two approvals leave the window), both delayed ones are approved at block start, FIFO
    const t1 = chain.committed[0]!.block.header.timeMs
    const b4 = await chain.step([], { timestampMs: t1 + HOUR })
    expect(b4.header.timeMs).toBeGreaterThanOrEqual(b2.header.timeMs)
    const b5 = await chain.step([])
    expect(b5.header.timeMs).toBe(t1 + HOUR)
    expect(await app.getValidation(idOf(ps[2]!))).toMatchObject({ status: 'approved', reason: null, processedHeight: 5, processedAtMs: t1 + HOUR })
    expect(await app.getValidation(idOf(ps[3]!))).toMatchObject({ status: 'approved', processedHeight: 5 })
    const log = await app.auditLog({ limit: 20 })
    expect(log.map((e) => [e.operationId, e.status])).toEqual([
      [idOf(ps[0]!), 'approved'],
      [idOf(ps[1]!), 'approved'],
      [idOf(ps[2]!), 'delayed'],
      [idOf(ps[3]!), 'delayed'],
      [idOf(other), 'approved'],
      [idOf(ps[2]!), 'approved'],
      [idOf(ps[3]!), 'approved'],
    ])
    // the window is full again: the next one is delayed
    const next = payment({ from })
    await chain.step(observe(next, [0, 1, 2]))
    expect(await app.getValidation(idOf(next))).toMatchObject({ status: 'delayed' })
  })

  it('expires pending validations without quorum after operationTtlMs', async () => {
    const network = await makeNetwork({ operationTtlMs: 10_000, genesis: { chains: { ethereum: { kind: 'evm', chainId: 1, paymentAddress: PAY, minPaymentWei: '1', confirmations: 1 } } } })
    const { app } = await fresh(network)
    const chain = new ChainDriver(network, app)
    const p = payment()
    const b1 = await chain.step(observe(p, [0, 1], network), { timestampMs: 0 })
    await chain.step([], { timestampMs: b1.header.timeMs + 10_000 })
    expect(await app.getValidation(idOf(p))).toMatchObject({ status: 'pending' })
    await chain.step([])
    expect(await app.getValidation(idOf(p))).toMatchObject({ status: 'expired', processedHeight: 3 })
    expect((await app.auditLog({ limit: 10 })).map((e) => e.status)).toEqual(['expired'])
    expect(await app.checkTx(observationTx(network, 2, p))).toMatchObject({ ok: true })
  })

  it('reaches identical state roots on two apps, and pages the index newest first', async () => {
    const a = await fresh()
    const b = await fresh()
    const chainA = new ChainDriver(net, a.app)
    const ps = [payment(), payment({ amount: 1n }), payment({ chain: 'solana', txHash: 'SolTx9', to: SOL_PAY, from: 'Sender9' })]
    const block = await chainA.propose(ps.flatMap((p) => observe(p, [0, 1, 2])))
    expect((await b.app.validateBlock(block)).ok).toBe(true)
    const cert = await chainA.commit(block)
    await b.app.commitBlock(block, cert)
    expect(bytesToHex(a.app.stateRoot)).toBe(bytesToHex(b.app.stateRoot))
    const page1 = await b.app.listValidations({ limit: 2 })
    expect(page1.items).toHaveLength(2)
    const page2 = await b.app.listValidations({ limit: 2, cursor: page1.nextCursor! })
    expect(page2).toMatchObject({ nextCursor: null })
    expect([...page1.items, ...page2.items].map((v) => v.id).sort()).toEqual(ps.map(idOf).sort())
    expect((await b.app.listValidations({ chain: 'ethereum', status: 'rejected', limit: 10 })).items.map((v) => v.id)).toEqual([idOf(ps[1]!)])
    expect((await b.app.listValidations({ from: 'Sender9', limit: 10 })).items.map((v) => v.id)).toEqual([idOf(ps[2]!)])
    expect(await b.app.getValidation('00'.repeat(32))).toBeUndefined()
    expect(await b.app.getValidation('nope')).toBeUndefined()
    await expect(b.app.listValidations({ limit: 1, cursor: 'bad' })).rejects.toThrow('malformed cursor')
  })
})
