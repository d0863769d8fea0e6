import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hexToBytes } from '@noble/hashes/utils.js'
import { Psbt } from 'bitcoinjs-lib'
import { Verifier } from 'bip322-js'
import { verifySchnorr } from 'tiny-secp256k1'
import { JsonRpcProvider, Wallet, hexlify, keccak256, toUtf8Bytes } from 'ethers'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { p2trAddress, p2trScript, parseReservePsbt, reserveInputSighashes, taprootOutputKey } from '../chains/index.js'
import { loadGenesis } from '../node/guardian/index.js'
import { PROJECT_ROOT } from '../node/version.js'
import { signerRank, signingCoordinator, validationId, verifyDigest, type Genesis, type SigningJobRef } from '../protocol/index.js'
import { DEV_EVM_PAYMENT_ADDRESS, findFreeBasePort, LocalTestnet, startDevChains, UBTC_BIN, type DevChains } from './index.js'
import { until } from './test-helpers/until.js'

/**
 * Threshold custody on a real 5-guardian testnet (3-of-5 FROST) with anvil: the DKG at first
 * start, BIP-322 proofs of reserves for payments, a guardian returning bad signature shares,
 * and signing with guardians stopped (paused with SIGSTOP, or killed).
 *
 * Committing needs 4 of 5 guardians (the BFT quorum) while signing needs 3: with 2 guardians
 * stopped the 3 others make the signature, and it enters the log once a fourth is back.
 */

const DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const SIGNING_TIMEOUT_MS = 6000
const FLAGS = ['--signing-timeout-ms', String(SIGNING_TIMEOUT_MS)]
const BAD_SHARE_GUARDIAN = join(PROJECT_ROOT, 'dist', 'testnet', 'faults', 'bad-share-guardian.js')

interface ReserveView {
  address: string
  groupKey: string
  internalKey: string
  threshold: number
  guardians: number
  dkgCertificate: { sessionId: string; digest: string; signatures: Array<{ guardian: string; signature: string }> }
}

interface ValidationView {
  id: string
  status: string
  message: string | null
  bitcoinSignature: string | null
  bitcoinAddress: string | null
  signers: string[]
}


async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return response.ok ? ((await response.json()) as T) : undefined
  } catch {
    return undefined
  }
}

describe('threshold custody on a 5-guardian testnet', () => {
  let dir: string
  let chains: DevChains
  let testnet: LocalTestnet
  let genesis: Genesis
  let provider: JsonRpcProvider
  let wallet: Wallet
  let reserve: ReserveView
  const logs: string[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-custody-'))
    chains = await startDevChains()
    testnet = await LocalTestnet.create({ dir, guardians: 5, basePort: await findFreeBasePort(5), chains, onLog: (name, line) => logs.push(`${name} ${line}`) })
    genesis = await loadGenesis(join(dir, 'genesis.json'))
    for (const g of testnet.guardians) testnet.start(g.index, FLAGS)
    provider = new JsonRpcProvider(chains.ethereum.url, undefined, { cacheTimeout: -1 })
    wallet = new Wallet(DEV_KEY, provider)
    await testnet.waitAllConnected(90_000)
  })

  afterAll(async () => {
    // UBTC_E2E_LOG=FILE keeps every guardian's log of the run, for a failure's post-mortem.
    if (process.env.UBTC_E2E_LOG !== undefined) await writeFile(process.env.UBTC_E2E_LOG, logs.join('\n'))
    provider?.destroy()
    await testnet?.stopAll('SIGKILL')
    await chains?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const apiOf = (index: number): string => testnet.guardian(index).apiUrl
  const validation = (index: number, id: string): Promise<ValidationView | undefined> => getJson<ValidationView>(`${apiOf(index)}/v1/validations/${id}`)

  /** A signed payment transaction (not yet sent) whose validation satisfies `wanted`; tries message variants. */
  async function preparePayment(message: string, wanted: (job: SigningJobRef) => boolean = () => true): Promise<{ id: string; message: string; send: () => Promise<void> }> {
    const base = await wallet.populateTransaction({ to: DEV_EVM_PAYMENT_ADDRESS, value: 10n ** 16n, data: '0x' })
    for (let k = 0; ; k++) {
      const text = `${message} #${k}`
      const raw = await wallet.signTransaction({ ...base, data: hexlify(toUtf8Bytes(text)), gasLimit: 100_000n })
      const id = validationId('ethereum', keccak256(raw).toLowerCase())
      if (!wanted({ kind: 'validation', id })) continue
      return {
        id,
        message: text,
        send: async () => {
          await (await provider.broadcastTransaction(raw)).wait()
        },
      }
    }
  }

  async function signedOn(indexes: readonly number[], id: string, timeoutMs = 60_000): Promise<ValidationView[]> {
    return Promise.all(indexes.map((i) => until(`${testnet.guardian(i).name} to sign ${id}`, async () => ((await validation(i, id))?.status === 'signed' ? validation(i, id) : undefined), timeoutMs)))
  }

  /** A counter of guardian `index`; NaN while the guardian does not answer (so no comparison holds). */
  async function counter(index: number, name: string, labels: string): Promise<number> {
    const text = await fetch(`${apiOf(index)}/metrics`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => (r.ok ? r.text() : undefined),
      () => undefined,
    )
    if (text === undefined) return Number.NaN
    const line = text.split('\n').find((l) => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}}`))
    return line === undefined ? 0 : Number(line.split(' ').pop())
  }

  /**
   * Restarts guardian `index` (as `entry`, default `ubtc node`) and waits until it is connected,
   * caught up with the others' height and ready to sign (its share loaded, its nonce pool filled).
   */
  async function restart(index: number, entry?: string): Promise<void> {
    await testnet.stop(index)
    testnet.start(index, FLAGS, entry)
    await testnet.waitAllConnected(60_000)
    const tip = Math.max(...(await testnet.waitFor(() => true, 'statuses')).map((s) => s.height))
    await testnet.waitFor((s) => s.height >= tip, `${testnet.guardian(index).name} to catch up`, 30_000)
    await until(`${testnet.guardian(index).name} to be ready to sign`, async () => ((await counter(index, 'ubtc_custody_nonce_pool_size', '')) > 0 ? true : undefined), 30_000)
  }

  function preferredSigners(job: SigningJobRef, attempt: number, coordinator: number, among: readonly number[]): number[] {
    const others = among.filter((i) => i !== coordinator).sort((a, b) => signerRank(job, attempt, a) - signerRank(job, attempt, b))
    return [coordinator, ...others.slice(0, reserve.threshold - 1)]
  }

  it('runs the DKG at first start: every guardian reports the same reserve address, certified by all', async () => {
    const views = await Promise.all(testnet.guardians.map((g) => until(`${g.name} to commit the reserve key`, () => getJson<ReserveView>(`${g.apiUrl}/v1/reserves/address`), 90_000)))
    reserve = views[0]!
    for (const v of views) expect(v).toEqual(reserve)
    expect(reserve).toMatchObject({ threshold: 3, guardians: 5 })
    expect(reserve.address).toMatch(/^bcrt1p/)
    expect(reserve.address).toBe(p2trAddress(hexToBytes(reserve.groupKey), 'regtest'))
    // BIP-341, no script tree: Q = P + int(hashTapTweak(x(P)))·G
    expect(Buffer.from(taprootOutputKey(hexToBytes(reserve.internalKey).subarray(1)).outputKey).toString('hex')).toBe(reserve.groupKey)
    const digest = hexToBytes(reserve.dkgCertificate.digest)
    expect(reserve.dkgCertificate.signatures.map((s) => s.guardian)).toEqual(genesis.guardians.map((g) => g.name))
    for (const [i, s] of reserve.dkgCertificate.signatures.entries()) expect(verifyDigest(digest, hexToBytes(s.signature), genesis.guardians[i]!.votePublicKey)).toBe(true)
  }, 120_000)

  it('signs a payment on every guardian with a BIP-322 proof that an independent verifier accepts', async () => {
    const payment = await preparePayment('proof of reserves for alice')
    await payment.send()
    const views = await signedOn([0, 1, 2, 3, 4], payment.id)
    for (const v of views) expect(v).toMatchObject({ bitcoinAddress: reserve.address, bitcoinSignature: views[0]!.bitcoinSignature, message: payment.message })
    const proof = views[0]!.bitcoinSignature!
    expect(Verifier.verifySignature(reserve.address, payment.message, proof)).toBe(true)
    expect(Verifier.verifySignature(reserve.address, `${payment.message}!`, proof)).toBe(false)
    const cli = spawnSync(process.execPath, [UBTC_BIN, 'verify-message', '--address', reserve.address, '--message', payment.message, '--signature', proof], { encoding: 'utf8' })
    expect(cli.status).toBe(0)
    expect(JSON.parse(cli.stdout)).toMatchObject({ valid: true, type: 'p2tr' })
  }, 90_000)

  it('names a guardian that returns bad signature shares, and signs without it', async () => {
    const faulty = 2
    // Caught up and ready: a guardian a block behind refuses to sign (not_signable) and is just left out.
    await restart(faulty, BAD_SHARE_GUARDIAN)
    // A payment whose attempt-0 coordinator is another guardian that prefers the faulty one as co-signer.
    const payment = await preparePayment('bad shares are named', (job) => {
      const c = signingCoordinator(job, 0, 5)
      return c !== faulty && preferredSigners(job, 0, c, [0, 1, 2, 3, 4]).includes(faulty)
    })
    const coordinator = signingCoordinator({ kind: 'validation', id: payment.id }, 0, 5)
    await payment.send()
    const views = await signedOn([0, 1, 2, 3, 4], payment.id)
    expect(views[0]!.signers).not.toContain(testnet.guardian(faulty).name)
    expect(Verifier.verifySignature(reserve.address, payment.message, views[0]!.bitcoinSignature!)).toBe(true)
    expect(await counter(coordinator, 'ubtc_custody_invalid_shares_total', `guardian="${testnet.guardian(faulty).name}"`)).toBeGreaterThanOrEqual(1)
    const named = logs.filter((l) => l.startsWith(testnet.guardian(coordinator).name) && l.includes(`invalid signature share from ${testnet.guardian(faulty).name}`))
    expect(named.length).toBeGreaterThanOrEqual(1)
    await restart(faulty)
  }, 150_000)

  it('signs with 2 guardians stopped; with 3 stopped the validation waits approved and is signed once one returns', async () => {
    // c0 coordinates attempt 0 and is paused before the payment; the next attempt's coordinator c1 stays up.
    const payment = await preparePayment('signed with guardians down', (job) => signingCoordinator(job, 0, 5) !== signingCoordinator(job, 1, 5))
    const job: SigningJobRef = { kind: 'validation', id: payment.id }
    const c0 = signingCoordinator(job, 0, 5)
    const c1 = signingCoordinator(job, 1, 5)
    const killed = [0, 1, 2, 3, 4].filter((i) => i !== c0 && i !== c1).slice(0, 2)
    const running = [0, 1, 2, 3, 4].filter((i) => i !== c0 && !killed.includes(i))
    // A session without a signature: too few signers, or a paused one that never answers.
    const unsigned = async (): Promise<number> =>
      (await counter(c1, 'ubtc_custody_signing_sessions_total', 'outcome="insufficient_signers"')) + (await counter(c1, 'ubtc_custody_signing_sessions_total', 'outcome="failed"'))
    const unsignedBefore = await unsigned()
    const signers = [c0, ...running]
    const signedBefore = await Promise.all(signers.map((i) => counter(i, 'ubtc_custody_signing_sessions_total', 'outcome="signed"')))

    testnet.pause(c0, true)
    // Whatever happens below, the paused guardian is resumed for the tests after this one.
    onTestFinished(() => {
      if (testnet.isRunning(c0)) testnet.pause(c0, false)
    })
    await payment.send()
    // Four guardians commit: the validation is approved, not signed (its coordinator is paused).
    // Two are killed as soon as one guardian shows the approval, well before attempt 1 begins.
    await until('the approval', async () => ((await Promise.all([...running, ...killed].map((i) => validation(i, payment.id)))).some((v) => v?.status === 'approved') ? true : undefined), 60_000, 50)
    await Promise.all(killed.map((i) => testnet.stop(i, 'SIGKILL')))
    for (const i of running) await until(`${testnet.guardian(i).name} to approve`, async () => ((await validation(i, payment.id))?.status === 'approved' ? true : undefined))

    // 3 stopped (c0 paused, 2 killed): attempt 1's coordinator gets 2 signers of 3 and the validation waits.
    await until('the next coordinator to fail for want of signers', async () => ((await unsigned()) > unsignedBefore ? true : undefined), 30_000)
    for (const i of running) expect((await validation(i, payment.id))?.status).toBe('approved')

    // One returns: 3 guardians up, 2 stopped. The three sign; the log commits it once a fourth is back.
    testnet.pause(c0, false)
    await until(
      'a signature by the 3 running guardians',
      async () => {
        const now = await Promise.all(signers.map((i) => counter(i, 'ubtc_custody_signing_sessions_total', 'outcome="signed"')))
        return now.some((v, k) => v > signedBefore[k]!) ? true : undefined
      },
      60_000,
    )
    for (const i of running) expect((await validation(i, payment.id))?.status).toBe('approved')

    // The log commits a signature once a fourth guardian is back (the one made by the three, or
    // an equivalent one of a later attempt if the returning guardian coordinates it first).
    testnet.start(killed[0]!, FLAGS)
    await signedOn([c0, ...running, killed[0]!], payment.id, 90_000)
    testnet.start(killed[1]!, FLAGS)
    const last = await signedOn([killed[1]!], payment.id, 90_000)
    expect(Verifier.verifySignature(reserve.address, payment.message, last[0]!.bitcoinSignature!)).toBe(true)
  }, 240_000)

  it('co-signs the reserve inputs of a PSBT that the guardians approved (reserve_spend, 4 of 5)', async () => {
    const token = async (index: number): Promise<string> => ((JSON.parse(await readFile(testnet.guardian(index).configFile, 'utf8')) as { api: { adminToken: string } }).api.adminToken)
    const admin = async (index: number, path: string, body: unknown): Promise<Response> =>
      fetch(`${apiOf(index)}${path}`, { method: 'POST', headers: { authorization: `Bearer ${await token(index)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const key = hexToBytes(reserve.groupKey)
    const psbt = new Psbt()
    psbt.addInput({ hash: '5a'.repeat(32), index: 1, witnessUtxo: { script: p2trScript(key), value: 250_000n } })
    psbt.addInput({ hash: '6b'.repeat(32), index: 0, witnessUtxo: { script: hexToBytes('0014' + '77'.repeat(20)), value: 1_000n } })
    psbt.addOutput({ script: hexToBytes('0014' + '88'.repeat(20)), value: 240_000n })
    const bytes = psbt.toBuffer()
    const parsed = parseReservePsbt(bytes, key)
    expect(parsed.inputs).toEqual([0])

    expect((await admin(0, '/admin/psbts', { psbt: Buffer.from(bytes).toString('base64') })).status).toBe(202)
    await Promise.all([0, 1, 2, 3, 4].map((i) => until(`${testnet.guardian(i).name} to commit the proposal`, () => getJson(`${apiOf(i)}/v1/reserves/psbts/${parsed.id}`))))
    for (const i of [0, 1, 2, 3]) expect((await admin(i, `/admin/operations/reserve_spend/${parsed.id}/vote`, { decision: 'approve' })).status).toBe(202)
    const views = await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        until(`${testnet.guardian(i).name} to sign the PSBT`, async () => {
          const v = await getJson<{ signedPsbt: string | null; signers: string[] }>(`${apiOf(i)}/v1/reserves/psbts/${parsed.id}`)
          return v?.signedPsbt == null ? undefined : v
        }),
      ),
    )
    for (const v of views) expect(v.signedPsbt).toBe(views[0]!.signedPsbt)
    const signed = Psbt.fromBase64(views[0]!.signedPsbt!)
    const witness = signed.data.inputs[0]!.finalScriptWitness!
    // witness stack: 1 item of 64 bytes (key path, SIGHASH_DEFAULT)
    expect([...witness.subarray(0, 2)]).toEqual([1, 64])
    expect(verifySchnorr(reserveInputSighashes(parsed)[0]!, key, witness.subarray(2))).toBe(true)
    expect(views[0]!.signers).toHaveLength(3)
  }, 90_000)
})
