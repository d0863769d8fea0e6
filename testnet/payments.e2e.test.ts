import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { address } from '@solana/kit'
import { JsonRpcProvider, Wallet, hexlify, parseEther, toUtf8Bytes } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoIx, SolanaTestClient, transferIx } from '../chains/solana/solana-test-helpers.js'
import { validationId, type ChainName } from '../protocol/index.js'
import { DEV_EVM_PAYMENT_ADDRESS, DEV_SOLANA_PAYMENT_ADDRESS, findFreeBasePort, LocalTestnet, startDevChains, type DevChains } from './index.js'
import { until } from './test-helpers/until.js'

/** Approved, and signed by the reserve once the testnet's DKG has run. */
const APPROVED = /^(approved|signed)$/
const DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'

interface ValidationView {
  id: string
  chain: string
  txHash: string
  status: string
  reason: string | null
  amount: string
  message: string | null
  observations: Array<{ guardian: string }>
}


describe('payments on local chains become validations on every guardian', () => {
  let dir: string
  let chains: DevChains
  let testnet: LocalTestnet

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-pay-'))
    chains = await startDevChains()
    // A short rate-limit window, so a burst can be seen delayed and then approved.
    testnet = await LocalTestnet.create({ dir, guardians: 5, basePort: await findFreeBasePort(5), chains, rateLimit: { perWindow: 2, windowMs: 10_000 } })
    testnet.startAll()
    await testnet.waitAllConnected(90_000)
  })

  afterAll(async () => {
    await testnet?.stopAll('SIGKILL')
    await chains?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  /** Waits until every guardian's API shows validation `id` in a final status. */
  async function decidedEverywhere(id: string): Promise<ValidationView[]> {
    return Promise.all(
      testnet.guardians.map((g) =>
        until(`${g.name} to decide ${id}`, async () => {
          const response = await fetch(`${g.apiUrl}/v1/validations/${id}`)
          if (!response.ok) return undefined
          const v = (await response.json()) as ValidationView
          return v.status === 'pending' ? undefined : v
        }),
      ),
    )
  }

  async function evmPay(chain: 'ethereum' | 'polygon', to: string, value: bigint, message: string, key = DEV_KEY): Promise<string> {
    const provider = new JsonRpcProvider(chain === 'ethereum' ? chains.ethereum.url : chains.polygon.url, undefined, { cacheTimeout: -1 })
    try {
      const wallet = new Wallet(key, provider)
      const tx = await wallet.sendTransaction({ to, value, data: message === '' ? '0x' : hexlify(toUtf8Bytes(message)) })
      await tx.wait()
      return tx.hash.toLowerCase()
    } finally {
      provider.destroy()
    }
  }

  it('approves payments on ethereum, polygon and solana on every node', async () => {
    const ethHash = await evmPay('ethereum', DEV_EVM_PAYMENT_ADDRESS, parseEther('0.01'), 'prove your reserves, ethereum')
    const polHash = await evmPay('polygon', DEV_EVM_PAYMENT_ADDRESS, parseEther('0.01'), 'prove your reserves, polygon')
    const solana = new SolanaTestClient(chains.solana.url)
    const payer = await solana.fundedSigner()
    const solSig = await solana.send(payer, [transferIx(payer, address(DEV_SOLANA_PAYMENT_ADDRESS), 2_000_000n), memoIx('prove your reserves, solana')])

    const expected: Array<[ChainName, string, string]> = [
      ['ethereum', ethHash, 'prove your reserves, ethereum'],
      ['polygon', polHash, 'prove your reserves, polygon'],
      ['solana', solSig, 'prove your reserves, solana'],
    ]
    for (const [chain, txHash, message] of expected) {
      const views = await decidedEverywhere(validationId(chain, txHash))
      for (const v of views) {
        expect(v).toMatchObject({ chain, status: APPROVED, reason: null, message })
        expect(v.observations.length).toBeGreaterThanOrEqual(3)
      }
      const byTx = await fetch(`${testnet.guardian(0).apiUrl}/v1/validations/by-tx/${chain}/${txHash}`)
      expect(byTx.status).toBe(200)
    }
  })

  it('never approves a payment orphaned by a reorg before its confirmation depth', async () => {
    const provider = new JsonRpcProvider(chains.ethereum.url, undefined, { cacheTimeout: -1 })
    try {
      // Stop the block timer so the reorg is deterministic: the payment gets one block, then that block is undone.
      await provider.send('evm_setIntervalMining', [0])
      const snapshot = (await provider.send('evm_snapshot', [])) as string
      const wallet = new Wallet(DEV_KEY, provider)
      const orphan = await wallet.sendTransaction({ to: DEV_EVM_PAYMENT_ADDRESS, value: parseEther('0.02'), data: hexlify(toUtf8Bytes('orphaned by a reorg')) })
      await provider.send('evm_mine', [])
      expect(await provider.getTransactionReceipt(orphan.hash)).not.toBeNull()
      await provider.send('evm_revert', [snapshot])
      await provider.send('evm_setIntervalMining', [1])
      expect(await provider.getTransactionReceipt(orphan.hash)).toBeNull()
      // A later payment is approved everywhere: every watcher has scanned past where the orphan was.
      const later = await evmPay('ethereum', DEV_EVM_PAYMENT_ADDRESS, parseEther('0.01'), 'after the reorg')
      for (const v of await decidedEverywhere(validationId('ethereum', later))) expect(v.status).toMatch(APPROVED)
      for (const g of testnet.guardians) expect((await fetch(`${g.apiUrl}/v1/validations/${validationId('ethereum', orphan.hash.toLowerCase())}`)).status).toBe(404)
    } finally {
      provider.destroy()
    }
  })

  it('approves while one guardian cannot reach the chain', async () => {
    await testnet.stop(4)
    testnet.start(4, ['--polygon-rpc-urls', 'http://127.0.0.1:1'])
    await testnet.waitAllConnected(60_000)
    const hash = await evmPay('polygon', DEV_EVM_PAYMENT_ADDRESS, parseEther('0.01'), 'guardian-4 is blind')
    for (const v of await decidedEverywhere(validationId('polygon', hash))) {
      expect(v.status).toMatch(APPROVED)
      expect(v.observations.map((o) => o.guardian)).not.toContain('guardian-4')
    }
    const errors = await (await fetch(`${testnet.guardian(4).apiUrl}/metrics`)).text()
    expect(Number(errors.match(/ubtc_chain_rpc_errors_total\{chain="polygon"\} (\d+)/)?.[1] ?? 0)).toBeGreaterThan(0)
  })

  it('delays a burst above the rate limit, then approves it when the window frees', async () => {
    // anvil's dev account 1, which no other test pays from: 2 approvals per 10 s, the third waits.
    const key = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
    const hashes: string[] = []
    for (const n of [1, 2, 3]) hashes.push(await evmPay('ethereum', DEV_EVM_PAYMENT_ADDRESS, parseEther('0.01'), `burst ${n}`, key))
    const third = validationId('ethereum', hashes[2]!)
    const firstViews = await Promise.all(hashes.map((h) => decidedEverywhere(validationId('ethereum', h))))
    expect(firstViews[0]!.every((v) => APPROVED.test(v.status))).toBe(true)
    expect(firstViews[1]!.every((v) => APPROVED.test(v.status))).toBe(true)
    expect(firstViews[2]!.every((v) => v.status === 'delayed' && v.reason === 'rate_limited')).toBe(true)
    for (const g of testnet.guardians) {
      await until(`${g.name} to approve the delayed payment`, async () => {
        const v = (await (await fetch(`${g.apiUrl}/v1/validations/${third}`)).json()) as ValidationView
        return APPROVED.test(v.status) ? v : undefined
      }, 60_000)
    }
  })

  it('rejects a below-minimum payment with its reason; a transfer to another address or without a message creates nothing', async () => {
    const elsewhere = await evmPay('ethereum', '0x000000000000000000000000000000000000dead', parseEther('0.01'), 'not for us')
    const plain = await evmPay('ethereum', DEV_EVM_PAYMENT_ADDRESS, parseEther('0.01'), '')
    const small = await evmPay('ethereum', DEV_EVM_PAYMENT_ADDRESS, 1000n, 'too small')
    const views = await decidedEverywhere(validationId('ethereum', small))
    for (const v of views) expect(v).toMatchObject({ status: 'rejected', reason: 'below_minimum' })
    // Mined before `small`, so every watcher has scanned past it by now.
    for (const g of testnet.guardians) {
      for (const hash of [elsewhere, plain]) expect((await fetch(`${g.apiUrl}/v1/validations/${validationId('ethereum', hash)}`)).status).toBe(404)
    }
  })
})
