import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonRpcProvider, Wallet, toUtf8Bytes, hexlify } from 'ethers'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EvmAdapter, type ConfirmedPayment } from '../../chains/index.js'
import { startAnvil } from '../../testnet/index.js'
import { LevelNodeStore } from '../store/index.js'
import { ChainWatcher } from './chain-watcher.js'
import { WatcherMetrics } from './metrics.js'

const DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const PAYMENT_ADDRESS = '0x000000000000000000000000000000000000beef'

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe('ChainWatcher on a real anvil chain', () => {
  let dir: string
  let anvil: Awaited<ReturnType<typeof startAnvil>>
  let store: LevelNodeStore

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-watcher-'))
    anvil = await startAnvil({ chainId: 31337 })
    store = new LevelNodeStore(join(dir, 'db'), new Uint8Array(32).fill(7))
    await store.open()
  })

  afterAll(async () => {
    await store?.close()
    await anvil?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('hands over confirmed payments, persists its cursor, retries through an RPC outage, and resumes from the cursor after a restart', async () => {
    const config = { kind: 'evm' as const, chainId: 31337, paymentAddress: PAYMENT_ADDRESS, minPaymentWei: '1', confirmations: 1 }
    const seen: ConfirmedPayment[] = []
    const registry = new Registry()
    const metrics = new WatcherMetrics(registry)
    const cursors = { load: (chain: string) => store.loadCursor(chain), save: (chain: string, cursor: { height: number; hash: string }) => store.saveCursor(chain, cursor) }
    // The first URL is dead: every poll fails over to anvil; the watcher must not care.
    const make = (urls: string[]) =>
      new ChainWatcher({
        adapter: new EvmAdapter({ chain: 'ethereum', config, rpcUrls: urls }),
        cursors,
        onPayments: async (payments) => void seen.push(...payments),
        pollIntervalMs: 50,
        retryMinMs: 50,
        retryMaxMs: 200,
        metrics,
        logger: pino({ level: 'silent' }),
      })

    const provider = new JsonRpcProvider(anvil.url, 31337, { staticNetwork: true, cacheTimeout: -1 })
    const wallet = new Wallet(DEV_KEY, provider)
    const pay = async (message: string): Promise<string> => {
      const tx = await wallet.sendTransaction({ to: PAYMENT_ADDRESS, value: 1000n, data: hexlify(toUtf8Bytes(message)) })
      await provider.send('anvil_mine', ['0x2'])
      return tx.hash.toLowerCase()
    }

    // An outage first: nothing but failures, counted, retried with backoff.
    const down = make(['http://127.0.0.1:1'])
    down.start()
    const rpcErrors = async (): Promise<number> => Number((await registry.getSingleMetricAsString('ubtc_chain_rpc_errors_total')).match(/ethereum"} (\d+)/)?.[1] ?? 0)
    await until('RPC errors to be counted', async () => (await rpcErrors()) >= 2)
    await down.stop()

    const watcher = make(['http://127.0.0.1:1', anvil.url])
    watcher.start()
    await until('a first cursor', async () => (await store.loadCursor('ethereum')) !== undefined)
    const first = await pay('hello guardians')
    await until('the payment', () => seen.some((p) => p.txHash === first))
    expect(seen.find((p) => p.txHash === first)).toMatchObject({ chain: 'ethereum', amount: 1000n, message: toUtf8Bytes('hello guardians') })
    await watcher.stop()

    // While it is stopped another payment confirms; a new watcher resumes from the persisted cursor.
    const second = await pay('while you were away')
    const restarted = make([anvil.url])
    restarted.start()
    await until('the payment made while stopped', () => seen.some((p) => p.txHash === second))
    await restarted.stop()
    expect(seen.filter((p) => p.txHash === first)).toHaveLength(1)
    provider.destroy()
  })
})
