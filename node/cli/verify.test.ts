import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { bytesToHex } from '@noble/hashes/utils.js'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blockView, createApiServer, type BlockView } from '../../api/index.js'
import { fakeSource } from '../../api/test-helpers/fake-source.js'
import {
  blockHash,
  certificateHash,
  encodeEnvelope,
  encodeTx,
  genesisToJson,
  MessageKind,
  precommitDigest,
  signDigest,
  signEnvelope,
  TxType,
  txRoot,
  ZERO_HASH,
  type Block,
  type Certificate,
  type Genesis,
} from '../../protocol/index.js'
import { generateGuardianKeys, publicInfo, type GuardianKeys } from '../keystore/index.js'
import { testnetGenesis } from '../setup/index.js'
import { CommandError } from './usage-error.js'
import { verifyBlockFromApi, verifyCommand } from './verify.js'

interface Network {
  readonly genesis: Genesis
  readonly keys: readonly GuardianKeys[]
}

async function network(name: string, keys?: readonly GuardianKeys[]): Promise<Network> {
  const all = keys ?? (await Promise.all(Array.from({ length: 5 }, () => generateGuardianKeys())))
  return { genesis: testnetGenesis(all.map(publicInfo), name), keys: all }
}

/** A certificate for `block` with genuine precommits of `signers`, signed for `net` (keys default to net's). */
function certify(net: Network, block: Block, signers: readonly number[], opts: { keys?: readonly GuardianKeys[]; round?: number } = {}): Certificate {
  const keys = opts.keys ?? net.keys
  const core = { height: block.header.height, round: opts.round ?? 0, blockHash: blockHash(block.header) }
  return {
    ...core,
    signatures: signers.map((signer) => {
      const timestampMs = 1_700_000_000_000 + signer * 7
      return { signer, timestampMs, signature: signDigest(precommitDigest(net.genesis.hash, net.genesis.guardianSetIndex, core, { timestampMs }), keys[signer]!.votePrivateKey) }
    }),
  }
}

function voteTx(net: Network, signer: number, operationId: string): Uint8Array {
  const payload = encodeTx({ type: TxType.GuardianVote, operation: 'validation', operationId, decision: 'approve' })
  return encodeEnvelope(signEnvelope(net.genesis.hash, MessageKind.Tx, 0, signer, payload, net.keys[signer]!.votePrivateKey))
}

function makeBlock(height: number, opts: { parent?: Block; lastCommit?: Certificate | null; txs?: Uint8Array[]; stateRoot?: number } = {}): Block {
  const txs = opts.txs ?? []
  const lastCommit = opts.lastCommit ?? null
  return {
    header: {
      height,
      timeMs: 1_700_000_000_000 + height * 1000,
      proposer: height % 5,
      guardianSetIndex: 0,
      parentHash: opts.parent === undefined ? ZERO_HASH : blockHash(opts.parent.header),
      lastCommitHash: lastCommit === null ? ZERO_HASH : certificateHash(lastCommit),
      txRoot: txRoot(txs),
      stateRoot: new Uint8Array(32).fill(opts.stateRoot ?? height),
    },
    txs,
    lastCommit,
  }
}

/** A node API that serves whatever the test puts in `blocks` (by height and as latest). */
class FakeNode {
  readonly blocks = new Map<string, unknown>()
  private readonly app: FastifyInstance = Fastify()
  url = ''

  async start(): Promise<void> {
    this.app.get('/v1/blocks/:height', async (request, reply) => {
      const body = this.blocks.get((request.params as { height: string }).height)
      return body === undefined ? reply.code(404).send({ error: 'not_found', message: 'no such block here' }) : body
    })
    this.url = await this.app.listen({ host: '127.0.0.1', port: 0 })
  }

  serve(view: unknown, height = (view as BlockView).height): void {
    this.blocks.clear()
    this.blocks.set(String(height), view)
    this.blocks.set('latest', view)
  }

  close(): Promise<void> {
    return this.app.close()
  }
}

let net: Network
let block1: Block
let cert1: Certificate
let block2: Block
let cert2: Certificate
const node = new FakeNode()

beforeAll(async () => {
  net = await network('ubtc-verify-test')
  block1 = makeBlock(1)
  cert1 = certify(net, block1, [0, 1, 2, 3, 4])
  block2 = makeBlock(2, { parent: block1, lastCommit: cert1, txs: [voteTx(net, 1, 'deposit-1'), voteTx(net, 3, 'deposit-2')] })
  cert2 = certify(net, block2, [0, 1, 2, 4], { round: 2 })
  await node.start()
})

afterAll(async () => {
  await node.close()
})

/** Expects verification to fail with not_verified and returns the reason. */
async function rejection(height: number | 'latest' = 2, genesis = net.genesis): Promise<string> {
  const err = await verifyBlockFromApi(node.url, genesis, height).then(
    () => {
      throw new Error('expected the block not to verify')
    },
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(CommandError)
  const { code, message } = err as CommandError
  expect({ code, message }).toEqual({ code: 'not_verified', message: expect.stringMatching(/^block \S+ NOT verified: /) })
  return message.replace(/^block \S+ NOT verified: /, '')
}

describe('verifyBlockFromApi', () => {
  it('(a) verifies a genuinely committed block, by height and as latest', async () => {
    node.serve(blockView(block2, cert2))
    const expected = {
      verified: true,
      network: 'ubtc-verify-test',
      height: 2,
      hash: bytesToHex(blockHash(block2.header)),
      round: 2,
      guardianSetIndex: 0,
      signers: ['guardian-0', 'guardian-1', 'guardian-2', 'guardian-4'],
      guardians: 5,
      quorum: 4,
      stateRoot: '02'.repeat(32),
      timeMs: 1_700_000_002_000,
      time: '2023-11-14T22:13:22.000Z',
      txs: 2,
    }
    expect(await verifyBlockFromApi(node.url, net.genesis, 2)).toEqual(expected)
    expect(await verifyBlockFromApi(node.url, net.genesis, 'latest')).toEqual(expected)
  })

  it('verifies block 1 (no parent, no last commit) with all five signatures', async () => {
    node.serve(blockView(block1, cert1))
    expect(await verifyBlockFromApi(node.url, net.genesis, 1)).toMatchObject({ height: 1, signers: ['guardian-0', 'guardian-1', 'guardian-2', 'guardian-3', 'guardian-4'] })
  })

  it('verifies a block served by the real API server', async () => {
    const server = await createApiServer({
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      registry: new Registry(),
      version: '0.1.0',
      source: fakeSource({ latestHeight: () => 2, block: async (h) => (h === 2 ? { block: block2, certificate: cert2 } : undefined) }),
    })
    try {
      const url = await server.listen()
      expect(await verifyBlockFromApi(url, net.genesis, 'latest')).toMatchObject({ verified: true, height: 2 })
      const err = (await verifyBlockFromApi(url, net.genesis, 3).catch((e: unknown) => e)) as CommandError
      expect(err).toBeInstanceOf(CommandError)
      expect(err.code).toBe('http_error')
      expect(err.message).toMatch(/^block 3 NOT verified: .*answered HTTP 404: no block at height 3 \(latest is 2\)$/)
    } finally {
      await server.close()
    }
  })

  it('(b) rejects a certificate below the commit quorum', async () => {
    node.serve(blockView(block2, certify(net, block2, [0, 1, 4])))
    expect(await rejection()).toBe('certificate for height 2: 3 signatures, quorum is 4')
  })

  it('(c) rejects a certificate with a forged signature', async () => {
    const genuine = certify(net, block2, [0, 1, 2, 3])
    // guardian-2's slot signed by a key that is not guardian-2's.
    const forged = certify(net, block2, [2], { keys: net.keys.map(() => net.keys[0]!) }).signatures[0]!
    const cert = { ...genuine, signatures: genuine.signatures.map((s) => (s.signer === 2 ? forged : s)) }
    node.serve(blockView(block2, cert))
    expect(await rejection()).toBe('certificate for height 2: signature of guardian-2 does not verify')
  })

  it('rejects a certificate that repeats a signer to reach the quorum', async () => {
    const cert = certify(net, block2, [0, 1, 2])
    node.serve(blockView(block2, { ...cert, signatures: [...cert.signatures, cert.signatures[2]!] }))
    expect(await rejection()).toMatch(/signers not strictly increasing/)
  })

  it('(d) rejects a node whose JSON disagrees with the signed encodings', async () => {
    const genuine = blockView(block2, cert2)
    const lie = (edit: (v: BlockView) => BlockView) => node.serve(edit(structuredClone(genuine)))

    lie((v) => ({ ...v, header: { ...v.header, stateRoot: 'ee'.repeat(32) } }))
    expect(await rejection()).toBe('the served JSON disagrees with the signed block at header.stateRoot')

    lie((v) => ({ ...v, header: { ...v.header, time: '2030-01-01T00:00:00.000Z' } }))
    expect(await rejection()).toBe('the served JSON disagrees with the signed block at header.time')

    lie((v) => ({ ...v, txs: v.txs.slice(1) }))
    expect(await rejection()).toBe('the served JSON disagrees with the signed block at txs')

    lie((v) => ({ ...v, certificate: { ...v.certificate, signatures: v.certificate.signatures.map((s, i) => (i === 0 ? { ...s, signer: 3 } : s)) } }))
    expect(await rejection()).toBe('the served JSON disagrees with the signed block at certificate.signatures[0].signer')

    lie((v) => ({ ...v, hash: 'ab'.repeat(32) }))
    expect(await rejection()).toMatch(/^the served hash abab\S+ is not the hash of the served header/)

    lie((v) => ({ ...v, raw: { ...v.raw, block: v.raw.block.slice(0, -2) } }))
    expect(await rejection()).toMatch(/^raw\.block does not decode: /)

    lie((v) => ({ ...v, raw: { block: v.raw.block } }) as BlockView)
    expect(await rejection()).toBe('raw.certificate is missing or not lower-case hex')
  })

  it('(e) rejects a certificate for another block', async () => {
    // Same height, different state: a genuine certificate, just not for this header.
    const other = makeBlock(2, { parent: block1, lastCommit: cert1, stateRoot: 0x99 })
    node.serve(blockView(other, cert2))
    expect(await rejection()).toMatch(/^the certificate commits block [0-9a-f]{64}, not this header/)

    // The certificate of block 1 passed off as block 2's.
    node.serve({ ...blockView(block2, cert1), height: 2 })
    expect(await rejection()).toBe('the certificate is for height 1')
  })

  it('rejects a committed header served with other transactions or another last commit', async () => {
    node.serve(blockView({ ...block2, txs: [voteTx(net, 1, 'deposit-1')] }, cert2))
    expect(await rejection()).toBe("the transactions do not match the header's txRoot")

    node.serve(blockView({ ...block2, lastCommit: certify(net, block1, [0, 1, 2, 3]) }, cert2))
    expect(await rejection()).toBe("the last commit does not match the header's lastCommitHash")
  })

  it('(f) rejects a certificate signed by the guardians of another network', async () => {
    // Another network with its own guardians: a perfectly valid certificate there.
    const other = await network('ubtc-other')
    node.serve(blockView(block2, certify(other, block2, [0, 1, 2, 3])))
    expect(await rejection()).toBe('certificate for height 2: signature of guardian-0 does not verify')

    // The same guardian keys on another network: signatures are bound to the genesis hash.
    const sameKeys = await network('ubtc-fork', net.keys)
    node.serve(blockView(block2, certify(sameKeys, block2, [0, 1, 2, 3])))
    expect(await rejection()).toBe('certificate for height 2: signature of guardian-0 does not verify')

    // …and the genuine block does not verify against the other network's genesis.
    node.serve(blockView(block2, cert2))
    expect(await rejection(2, other.genesis)).toBe('certificate for height 2: signature of guardian-0 does not verify')
  })

  it('rejects a block of another guardian set or another height than asked', async () => {
    const otherSet = { ...block2, header: { ...block2.header, guardianSetIndex: 1 } }
    node.serve(blockView(otherSet, certify(net, otherSet, [0, 1, 2, 3])))
    expect(await rejection()).toBe('the block is for guardian set 1, the genesis has guardian set 0')

    node.serve(blockView(block1, cert1), 2)
    expect(await rejection(2)).toBe('the node served block 1 for height 2')
  })

  it('reports unreachable nodes and non-JSON answers', async () => {
    const closed = Fastify()
    const url = await closed.listen({ host: '127.0.0.1', port: 0 })
    await closed.close()
    const err = (await verifyBlockFromApi(url, net.genesis, 'latest').catch((e: unknown) => e)) as CommandError
    expect(err).toBeInstanceOf(CommandError)
    expect(err.code).toBe('unreachable')
    expect(err.message).toMatch(/^block latest NOT verified: cannot fetch http:\/\/127\.0\.0\.1:\d+\/v1\/blocks\/latest: /)

    node.serve('<html>not JSON</html>', 2)
    expect(await rejection()).toMatch(/\/v1\/blocks\/2 did not answer JSON$/)
    node.serve([1, 2], 2)
    expect(await rejection()).toMatch(/\/v1\/blocks\/2 did not answer a JSON object$/)
  })
})

describe('ubtc verify', () => {
  let dir: string
  let genesisFile: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-verify-'))
    genesisFile = join(dir, 'genesis.json')
    await writeFile(genesisFile, JSON.stringify(genesisToJson(net.genesis)))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function run(args: string[]): Promise<string[]> {
    const lines: string[] = []
    await verifyCommand(args, (line) => lines.push(line))
    return lines
  }

  it('prints who committed the block', async () => {
    node.serve(blockView(block2, cert2))
    expect(await run(['--api', node.url, '--genesis', genesisFile, '--height', '2'])).toEqual([
      `block 2 ${bytesToHex(blockHash(block2.header))} verified: committed by 4 of 5 guardians (guardian-0, guardian-1, guardian-2, guardian-4), quorum 4; ` +
        `state root ${'02'.repeat(32)}; time 2023-11-14T22:13:22.000Z`,
    ])
  })

  it('--json prints one JSON object; height defaults to latest', async () => {
    node.serve(blockView(block2, cert2))
    const [line, ...rest] = await run(['--api', node.url, '--genesis', genesisFile, '--json'])
    expect(rest).toEqual([])
    expect(JSON.parse(line!)).toMatchObject({ verified: true, height: 2, quorum: 4, signers: ['guardian-0', 'guardian-1', 'guardian-2', 'guardian-4'] })
  })

  it('fails with the reason', async () => {
    node.serve(blockView(block2, certify(net, block2, [0, 1, 4])))
    await expect(run(['--api', node.url, '--genesis', genesisFile, '--height', 'latest'])).rejects.toThrow('block 2 NOT verified: certificate for height 2: 3 signatures, quorum is 4')
  })

  it('usage errors', async () => {
    await expect(run(['--genesis', genesisFile])).rejects.toThrow('--api URL is required')
    await expect(run(['--api', node.url])).rejects.toThrow('--genesis FILE is required')
    await expect(run(['--api', 'nope', '--genesis', genesisFile])).rejects.toThrow('--api: not a URL: nope')
    await expect(run(['--api', node.url, '--genesis', genesisFile, '--height', '0'])).rejects.toThrow('--height must be')
  })
})
