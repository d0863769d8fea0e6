import { createServer, type Server } from 'node:http'
import { ethers } from 'ethers'
import type { Logger } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EvmChainConfig } from '../../protocol/index.js'
import { startAnvil, type AnvilInstance } from '../../testnet/anvil.js'
import { ChainError } from '../errors.js'
import type { ChainCursor, PollResult } from '../types.js'
import { EvmAdapter } from './evm-adapter.js'

const CHAIN_ID = 31337
// anvil's default dev accounts 0 and 1
const KEY0 = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const KEY1 = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const signal = new AbortController().signal

let anvil: AnvilInstance
let provider: ethers.JsonRpcProvider
let wallet: ethers.Wallet
const adapters: EvmAdapter[] = []

function config(paymentAddress: string, confirmations: number): EvmChainConfig {
  return { kind: 'evm', chainId: CHAIN_ID, paymentAddress, minPaymentWei: '1', confirmations }
}

/** Warn-level log messages, captured through a minimal stand-in for a pino Logger. */
function captureLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = []
  const logger = { warn: (_obj: unknown, msg: string) => warnings.push(msg), debug: () => {} } as unknown as Logger
  return { logger, warnings }
}

function adapter(paymentAddress: string, confirmations: number, rpcUrls = [anvil.url], logger?: Logger): EvmAdapter {
  const a = new EvmAdapter({ chain: 'ethereum', config: config(paymentAddress, confirmations), rpcUrls, requestTimeoutMs: 3000, logger })
  adapters.push(a)
  return a
}

const randomAddress = (): string => ethers.Wallet.createRandom().address
const mine = (n: number): Promise<unknown> => provider.send('anvil_mine', [ethers.toQuantity(n)])
const poll = (a: EvmAdapter, cursor: ChainCursor | null): Promise<PollResult> => a.poll(cursor, { maxBlocks: 100, signal })

async function pay(to: string, value: bigint, message: string, from = wallet): Promise<ethers.TransactionReceipt> {
  const tx = await from.sendTransaction({ to, value, data: ethers.hexlify(ethers.toUtf8Bytes(message)) })
  const receipt = await tx.wait()
  if (!receipt) throw new Error('no receipt')
  return receipt
}

beforeAll(async () => {
  anvil = await startAnvil({ chainId: CHAIN_ID, port: 0 })
  provider = new ethers.JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 })
  wallet = new ethers.Wallet(KEY0, provider)
})

afterAll(async () => {
  for (const a of adapters) a.close()
  provider?.destroy()
  await anvil?.stop()
})

describe('startAnvil', () => {
  it('serves the requested chain id and the stopped process is gone', async () => {
    const extra = await startAnvil({ chainId: 4242, port: 0 })
    expect(Number((await new ethers.JsonRpcProvider(extra.url, 4242, { staticNetwork: true }).getNetwork()).chainId)).toBe(4242)
    await extra.stop()
    expect(extra.process.exitCode !== null || extra.process.signalCode !== null).toBe(true)
    await extra.stop() // idempotent
  })

  it('interval mining with blockTimeMs; an aborted signal refuses to start', async () => {
    const timed = await startAnvil({ chainId: 777, blockTimeMs: 200 })
    const p = new ethers.JsonRpcProvider(timed.url, 777, { staticNetwork: true, cacheTimeout: -1 })
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(await p.getBlockNumber()).toBeGreaterThanOrEqual(2)
    p.destroy()
    await timed.stop()
    const ac = new AbortController()
    ac.abort()
    await expect(startAnvil({ chainId: 1, signal: ac.signal })).rejects.toThrow()
  })
})

describe('EvmAdapter against anvil (automine)', () => {
  it('reports payments with calldata only at confirmation depth, skips other recipients, advances the cursor', async () => {
    const payTo = randomAddress()
    const a = adapter(payTo, 2)
    const start = await poll(a, null)
    expect(start.payments).toEqual([])

    const receipt = await pay(payTo, 12345n, 'bc1qexample')
    await pay(randomAddress(), 999n, 'not for us')
    // Payment block P, then one more block: depth 1 < 2 confirmations.
    let r = await poll(a, start.cursor)
    expect(r.payments).toEqual([])
    expect(r.cursor.height).toBeLessThan(receipt.blockNumber)

    await mine(1) // now P has 2 blocks on top
    r = await poll(a, r.cursor)
    expect(r.payments).toHaveLength(1)
    const p = r.payments[0]!
    expect(p).toMatchObject({
      chain: 'ethereum',
      txHash: receipt.hash.toLowerCase(),
      from: wallet.address.toLowerCase(),
      to: payTo.toLowerCase(),
      amount: 12345n,
      blockHeight: receipt.blockNumber,
      blockHash: receipt.blockHash.toLowerCase(),
    })
    expect(new TextDecoder().decode(p.message)).toBe('bc1qexample')
    expect(r.cursor.height).toBe((await provider.getBlockNumber()) - 2)

    const again = await poll(a, r.cursor)
    expect(again.payments).toEqual([])
    expect(again.cursor).toEqual(r.cursor)
    expect(a.health()).toMatchObject({ ok: true, lag: 2, lastError: null })
  })

  it('does not report a plain transfer (no calldata, so no message); matches the payment address case-insensitively', async () => {
    const payTo = randomAddress()
    const a = adapter(payTo.toUpperCase().replace('0X', '0x'), 0)
    const start = await poll(a, null)
    await pay(payTo, 1n, '')
    const receipt = await pay(payTo, 1n, 'x')
    const r = await poll(a, start.cursor)
    expect(r.payments).toHaveLength(1)
    expect(r.payments[0]!.message).toEqual(new TextEncoder().encode('x'))
    expect(r.payments[0]!.txHash).toBe(receipt.hash.toLowerCase())
  })

  it('skips reverted transactions to the payment address', async () => {
    const payTo = randomAddress()
    await provider.send('anvil_setCode', [payTo, '0x60006000fd']) // PUSH1 0 PUSH1 0 REVERT
    const a = adapter(payTo, 0)
    const start = await poll(a, null)
    const tx = await wallet.sendTransaction({ to: payTo, value: 5n, data: '0x1234', gasLimit: 100_000 })
    const receipt = await provider.waitForTransaction(tx.hash)
    expect(receipt?.status).toBe(0)
    const r = await poll(a, start.cursor)
    expect(r.payments).toEqual([])
    expect(r.cursor.height).toBe(receipt!.blockNumber)
  })

  it('respects maxBlocks', async () => {
    const a = adapter(randomAddress(), 0)
    const start = await poll(a, null)
    await mine(5)
    const r = await a.poll(start.cursor, { maxBlocks: 2, signal })
    expect(r.cursor.height).toBe(start.cursor.height + 2)
  })

  it('recovers from a reorg deeper than the confirmations: rescans, reports the new payment, not the orphaned one', async () => {
    const payTo = randomAddress()
    const { logger, warnings } = captureLogger()
    const a = adapter(payTo, 1, [anvil.url], logger)
    const start = await poll(a, null)
    const snapshot: string = await provider.send('evm_snapshot', [])

    const orphan = await pay(payTo, 111n, 'orphan')
    await mine(2)
    const first = await poll(a, start.cursor)
    expect(first.payments.map((p) => p.txHash)).toEqual([orphan.hash.toLowerCase()])

    expect(await provider.send('evm_revert', [snapshot])).toBe(true)
    const wallet1 = new ethers.Wallet(KEY1, provider)
    const replacement = await pay(payTo, 222n, 'replacement', wallet1)
    await mine(3)

    const second = await poll(a, first.cursor)
    expect(second.payments.map((p) => [p.txHash, p.amount])).toEqual([[replacement.hash.toLowerCase(), 222n]])
    expect(second.cursor.height).toBe((await provider.getBlockNumber()) - 1)
    expect(second.cursor.hash).toBe((await provider.getBlock(second.cursor.height))!.hash!.toLowerCase())
    expect(warnings.some((w) => w.includes('walking back'))).toBe(true)
    expect(warnings.some((w) => w.includes('rescanning from the last block still on the chain'))).toBe(true)
  })

  it('with no remembered block matching (fresh adapter, stale cursor) restarts a window below the confirmed head', async () => {
    const { logger, warnings } = captureLogger()
    const a = adapter(randomAddress(), 0, [anvil.url], logger)
    const head = await provider.getBlockNumber()
    const r = await poll(a, { height: head, hash: '0x' + 'ab'.repeat(32) })
    expect(r.cursor.height).toBe(head)
    expect(r.cursor.hash).toBe((await provider.getBlock(head))!.hash!.toLowerCase())
    expect(warnings.some((w) => w.includes('restarting from height'))).toBe(true)
  })
})

describe('EvmAdapter RPC failures', () => {
  const servers: Server[] = []
  async function serve(body: string, contentType: string): Promise<string> {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': contentType })
      res.end(body)
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const addr = server.address()
    if (typeof addr !== 'object' || addr === null) throw new Error('no address')
    return `http://127.0.0.1:${addr.port}`
  }
  async function deadUrl(): Promise<string> {
    const url = await serve('', 'text/plain')
    const server = servers.pop()!
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return url // nothing listens there any more
  }
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  })

  it('falls back to the next URL when the first is dead', async () => {
    const payTo = randomAddress()
    const a = adapter(payTo, 0, [await deadUrl(), anvil.url])
    const start = await poll(a, null)
    await pay(payTo, 7n, 'via fallback')
    const r = await poll(a, start.cursor)
    expect(r.payments.map((p) => p.amount)).toEqual([7n])
  })

  it('throws ChainError rpc_unavailable naming the chain and URL when all are dead', async () => {
    const dead = await deadUrl()
    const a = adapter(randomAddress(), 0, [dead])
    const err = await poll(a, null).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainError)
    expect((err as ChainError).code).toBe('rpc_unavailable')
    expect((err as ChainError).message).toContain('ethereum')
    expect((err as ChainError).message).toContain(dead)
    expect(a.health()).toMatchObject({ ok: false })
    expect(a.health().lastError).toContain(dead)
  })

  it.each([
    ['{}', 'application/json'],
    ['<html><body>502 Bad Gateway</body></html>', 'text/html'],
    ['{"jsonrpc":"2.0","id":1,"result":"0xnothex"}', 'application/json'],
    ['[]', 'application/json'],
  ])('garbage answer %s → ChainError, no crash', async (body, contentType) => {
    const url = await serve(body, contentType)
    const a = adapter(randomAddress(), 0, [url])
    const err = await poll(a, null).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainError)
    const err2 = await poll(a, { height: 1, hash: '0x' + '00'.repeat(32) }).catch((e: unknown) => e)
    expect(err2).toBeInstanceOf(ChainError)
  })
})
