import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSigner, type Address } from '@solana/kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SolanaChainConfig } from '../../protocol/genesis.js'
import { startSolanaDevRpc, type SolanaDevRpc } from '../../testnet/solana-rpc/index.js'
import { ChainError } from '../errors.js'
import type { ChainCursor, PollResult } from '../types.js'
import { SolanaAdapter, type SolanaAdapterOptions } from './solana-adapter.js'
import { memoIx, SolanaTestClient, transferIx } from './solana-test-helpers.js'

const RENT_SAFE = 1_000_000n // above the rent-exempt minimum of an empty account
const DEAD_URL = 'http://127.0.0.1:9' // discard port: connection refused

let dev: SolanaDevRpc
let client: SolanaTestClient

beforeAll(async () => {
  dev = await startSolanaDevRpc({ port: 0 })
  client = new SolanaTestClient(dev.url)
})
afterAll(async () => {
  await dev.stop()
})

function config(paymentAddress: Address): SolanaChainConfig {
  return { kind: 'solana', paymentAddress, minPaymentLamports: '1' }
}

async function setup(opts: Partial<SolanaAdapterOptions> = {}) {
  const payTo = (await generateKeyPairSigner()).address
  const adapter = new SolanaAdapter({ config: config(payTo), rpcUrls: [dev.url], ...opts })
  const signal = new AbortController().signal
  const poll = (cursor: ChainCursor | null, maxBlocks = 1000): Promise<PollResult> => adapter.poll(cursor, { maxBlocks, signal })
  const payer = await client.fundedSigner()
  return { payTo, adapter, poll, payer }
}

describe('SolanaAdapter against the LiteSVM dev RPC', () => {
  it('reports a transfer + memo to the payment address with the right fields', async () => {
    const { payTo, adapter, poll, payer } = await setup()
    const start = await poll(null)
    expect(start.payments).toEqual([])

    const sig = await client.send(payer, [transferIx(payer, payTo, RENT_SAFE + 42n), memoIx('mint:bc1qexample')])
    const { payments, cursor } = await poll(start.cursor)
    const [entry] = await client.rpc.getSignaturesForAddress(payTo).send()
    const slot = Number(entry!.slot)
    expect(payments).toEqual([
      {
        chain: 'solana',
        txHash: sig,
        from: payer.address,
        to: payTo,
        amount: RENT_SAFE + 42n,
        message: new TextEncoder().encode('mint:bc1qexample'),
        blockHeight: slot,
        blockHash: String(slot),
      },
    ])
    expect(cursor).toEqual({ height: slot, hash: sig })
    expect(adapter.health()).toMatchObject({ chain: 'solana', ok: true, lag: 0, lastError: null })

    // Nothing new: no payments, same cursor.
    expect(await poll(cursor)).toEqual({ payments: [], cursor })
  })

  it('ignores a plain transfer, a memo to another address, and a failed payment, but advances past them', async () => {
    const { payTo, poll, payer } = await setup()
    const other = (await generateKeyPairSigner()).address
    const start = await poll(null)
    await client.send(payer, [transferIx(payer, payTo, RENT_SAFE)]) // no memo
    await client.send(payer, [transferIx(payer, other, RENT_SAFE), memoIx('not for us')]) // other address
    const poorPayer = await client.fundedSigner(1n)
    const failed = await client.send(poorPayer, [transferIx(poorPayer, payTo, 5_000_000_000n), memoIx('too much')], { skipPreflight: true })
    await client.send(payer, [memoIx('memo only'), transferIx(payer, other, RENT_SAFE)])

    const { payments, cursor } = await poll(start.cursor)
    expect(payments).toEqual([])
    expect(cursor.hash).toBe(failed) // the newest transaction touching the payment address
    const good = await client.send(payer, [transferIx(payer, payTo, RENT_SAFE), memoIx('ok')])
    expect((await poll(cursor)).payments.map((p) => p.txHash)).toEqual([good])
  })

  it('accepts the memo before the transfer (instruction order does not matter)', async () => {
    const { payTo, poll, payer } = await setup()
    const start = await poll(null)
    const sig = await client.send(payer, [memoIx('first'), transferIx(payer, payTo, RENT_SAFE)])
    const [p] = (await poll(start.cursor)).payments
    expect(p?.txHash).toBe(sig)
    expect(new TextDecoder().decode(p!.message)).toBe('first')
  })

  it('pages through more signatures than one page, oldest first, and honours maxBlocks', async () => {
    const { payTo, poll, payer } = await setup({ pageLimit: 3 })
    const start = await poll(null)
    const sent: string[] = []
    for (let i = 0; i < 8; i++) sent.push(await client.send(payer, [transferIx(payer, payTo, RENT_SAFE + BigInt(i)), memoIx(`p${i}`)]))

    // Each transaction is in its own slot: maxBlocks = 5 processes the oldest five.
    const first = await poll(start.cursor, 5)
    expect(first.payments.map((p) => p.txHash)).toEqual(sent.slice(0, 5))
    expect(first.cursor.hash).toBe(sent[4])
    const rest = await poll(first.cursor, 5)
    expect(rest.payments.map((p) => p.txHash)).toEqual(sent.slice(5))
    expect(rest.payments.map((p) => new TextDecoder().decode(p.message))).toEqual(['p5', 'p6', 'p7'])
    expect((await poll(rest.cursor)).payments).toEqual([])

    // From the address's very beginning (empty hash), all eight come back in order.
    const all = await poll({ height: 0, hash: '' })
    expect(all.payments.map((p) => p.txHash)).toEqual(sent)
  })

  it('falls back to the next RPC URL when the first is dead', async () => {
    const payTo = (await generateKeyPairSigner()).address
    const adapter = new SolanaAdapter({ config: config(payTo), rpcUrls: [DEAD_URL, dev.url] })
    const res = await adapter.poll(null, { maxBlocks: 10, signal: new AbortController().signal })
    expect(res.payments).toEqual([])
    expect(adapter.health().ok).toBe(true)
  })
})

describe('SolanaAdapter failures', () => {
  let garbage: Server
  let garbageUrl: string

  beforeAll(async () => {
    garbage = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}')
    })
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve))
    garbageUrl = `http://127.0.0.1:${(garbage.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    garbage.closeAllConnections()
    await new Promise((resolve) => garbage.close(resolve))
  })

  const payTo = '11111111111111111111111111111112'
  const signal = new AbortController().signal

  it('throws ChainError rpc_unavailable when every RPC is dead, and reports it in health', async () => {
    const adapter = new SolanaAdapter({ config: config(payTo as Address), rpcUrls: [DEAD_URL], timeoutMs: 2000 })
    const err = await adapter.poll(null, { maxBlocks: 1, signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainError)
    expect((err as ChainError).code).toBe('rpc_unavailable')
    expect(adapter.health()).toMatchObject({ ok: false, lastError: expect.stringContaining('getSlot') })
  })

  it('throws ChainError rpc_bad_response on garbage', async () => {
    const adapter = new SolanaAdapter({ config: config(payTo as Address), rpcUrls: [garbageUrl] })
    const err = await adapter.poll(null, { maxBlocks: 1, signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainError)
    expect((err as ChainError).code).toBe('rpc_bad_response')
  })

  it('refuses a misconfigured payment address', () => {
    expect(() => new SolanaAdapter({ config: config('0xnope' as Address), rpcUrls: [dev.url] })).toThrow(ChainError)
  })
})
