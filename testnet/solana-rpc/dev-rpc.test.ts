import { generateKeyPairSigner, lamports, signature } from '@solana/kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoIx, SolanaTestClient, transferIx } from '../../chains/solana/solana-test-helpers.js'
import { startSolanaDevRpc, type SolanaDevRpc } from './dev-rpc.js'

let dev: SolanaDevRpc
let client: SolanaTestClient

async function raw(body: unknown): Promise<any> {
  const res = await fetch(dev.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return res.json()
}

beforeAll(async () => {
  dev = await startSolanaDevRpc({ port: 0 })
  client = new SolanaTestClient(dev.url)
})
afterAll(async () => {
  await dev.stop()
})

describe('Solana dev RPC (LiteSVM)', () => {
  it('answers getHealth and getSlot', async () => {
    expect(await raw({ jsonrpc: '2.0', id: 1, method: 'getHealth' })).toEqual({ jsonrpc: '2.0', id: 1, result: 'ok' })
    expect(typeof (await client.rpc.getSlot({ commitment: 'finalized' }).send())).toBe('bigint')
  })

  it('rejects unknown methods with -32601 and malformed requests with -32600/-32602/-32700', async () => {
    expect((await raw({ jsonrpc: '2.0', id: 7, method: 'getBlockProduction' })).error.code).toBe(-32601)
    expect((await raw({ id: 1, method: 'getHealth' })).error.code).toBe(-32600)
    expect((await raw({ jsonrpc: '2.0', id: 1, method: 'getBalance', params: [42] })).error.code).toBe(-32602)
    expect((await raw({ jsonrpc: '2.0', id: 1, method: 'getBalance', params: ['not-an-address'] })).error.code).toBe(-32602)
    const res = await fetch(dev.url, { method: 'POST', body: '{nope' })
    expect(((await res.json()) as any).error.code).toBe(-32700)
  })

  it('executes a real transfer and serves its history in Solana RPC shapes', async () => {
    const payer = await client.fundedSigner()
    const to = (await generateKeyPairSigner()).address
    const slotBefore = await client.rpc.getSlot().send()
    const sig = await client.send(payer, [transferIx(payer, to, 1_234_567n), memoIx('hello')])
    expect((await client.rpc.getBalance(to).send()).value).toBe(lamports(1_234_567n))
    expect(await client.rpc.getSlot().send()).toBeGreaterThan(slotBefore)

    const sigs = await client.rpc.getSignaturesForAddress(to, { commitment: 'finalized' }).send()
    expect(sigs).toHaveLength(1)
    expect(sigs[0]).toMatchObject({ signature: sig, err: null, memo: '[5] hello', confirmationStatus: 'finalized' })

    const tx = await client.rpc.getTransaction(signature(sig), { encoding: 'json', commitment: 'finalized', maxSupportedTransactionVersion: 0 }).send()
    expect(tx).not.toBeNull()
    expect(tx!.slot).toBe(sigs[0]!.slot)
    expect(tx!.meta!.err).toBeNull()
    expect(tx!.meta!.fee).toBe(lamports(5000n))
    expect(tx!.transaction.signatures).toEqual([sig])
    const keys = tx!.transaction.message.accountKeys
    expect(keys[0]).toBe(payer.address)
    expect(keys).toContain(to)
    const ix = tx!.transaction.message.instructions[0]!
    expect(keys[ix.programIdIndex]).toBe('11111111111111111111111111111111')
    const toIndex = keys.indexOf(to)
    expect(tx!.meta!.postBalances[toIndex]! - tx!.meta!.preBalances[toIndex]!).toBe(1_234_567n)

    // A v0 transaction needs maxSupportedTransactionVersion, like on a real node.
    expect((await raw({ jsonrpc: '2.0', id: 1, method: 'getTransaction', params: [sig, { encoding: 'json' }] })).error.code).toBe(-32015)
    expect((await raw({ jsonrpc: '2.0', id: 1, method: 'getTransaction', params: ['1'.repeat(64), { encoding: 'json', maxSupportedTransactionVersion: 0 }] })).result).toBeNull()
  })

  it('refuses a failing transaction at preflight, and lands it with its error when preflight is skipped', async () => {
    const payer = await client.fundedSigner(1n)
    const to = (await generateKeyPairSigner()).address
    const tooMuch = [transferIx(payer, to, 5_000_000_000n), memoIx('x')]
    await expect(client.send(payer, tooMuch)).rejects.toThrow(/simulation failed/i)
    const sig = await client.send(payer, tooMuch, { skipPreflight: true })
    const [entry] = await client.rpc.getSignaturesForAddress(to).send()
    expect(entry?.signature).toBe(sig)
    expect(entry?.err).toEqual({ InstructionError: [0n, { Custom: 1n }] })
    expect((await client.rpc.getBalance(to).send()).value).toBe(0n)
  })

  it('pages getSignaturesForAddress newest first with before/until/limit', async () => {
    const payer = await client.fundedSigner()
    const to = (await generateKeyPairSigner()).address
    const sent: string[] = []
    for (let i = 0; i < 5; i++) sent.push(await client.send(payer, [transferIx(payer, to, BigInt(1_000_000 + i))]))
    const all = (await client.rpc.getSignaturesForAddress(to).send()).map((s) => s.signature)
    expect(all).toEqual([...sent].reverse())
    const page = await client.rpc.getSignaturesForAddress(to, { limit: 2, before: signature(sent[3]!) }).send()
    expect(page.map((s) => s.signature)).toEqual([sent[2], sent[1]])
    const until = await client.rpc.getSignaturesForAddress(to, { until: signature(sent[2]!) }).send()
    expect(until.map((s) => s.signature)).toEqual([sent[4], sent[3]])
  })
})
