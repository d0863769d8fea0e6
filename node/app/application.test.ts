import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  blockHash,
  certificateHash,
  encodeBlock,
  generateVotePrivateKey,
  MessageKind,
  txHash,
  txRoot,
  ZERO_HASH,
  type Block,
  type BlockHeader,
  type Certificate,
} from '../../protocol/index.js'
import { AppError } from './errors.js'
import { AppState } from './state.js'
import { AUDIT_GENESIS_HASH, auditHash, type AuditEntry } from './records.js'
import { certify, ChainDriver, makeNetwork, openApp, removeTempDirs, voteTx, type OpenedApp, type TestNetwork } from './test-helpers/network.js'

let net: TestNetwork
const opened: OpenedApp[] = []

async function fresh(network: TestNetwork = net): Promise<OpenedApp> {
  const o = await openApp(network)
  opened.push(o)
  return o
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(AppError)
    return (err as AppError).code
  }
  throw new Error('expected an AppError')
}

function withHeader(block: Block, patch: Partial<BlockHeader>): Block {
  return { ...block, header: { ...block.header, ...patch } }
}

function expectChain(entries: AuditEntry[]): void {
  entries.forEach((e, i) => {
    expect(e.seq).toBe(i)
    expect(e.prevHash).toBe(i === 0 ? AUDIT_GENESIS_HASH : entries[i - 1]!.hash)
    const { hash, ...body } = e
    expect(hash).toBe(auditHash(body))
  })
}

beforeAll(async () => {
  net = await makeNetwork()
})

afterEach(async () => {
  for (const o of opened.splice(0)) {
    if (o.db.status === 'open') await o.close()
  }
})

afterAll(async () => {
  await removeTempDirs()
})

describe('genesis', () => {
  it('initialises height 0 with a deterministic root, equal on two fresh apps', async () => {
    const a = await fresh()
    const b = await fresh()
    expect(a.app.height).toBe(0)
    expect(a.app.lastBlockHash).toEqual(ZERO_HASH)
    expect(a.app.lastBlockTimeMs).toBe(net.genesisTimeMs)
    expect(bytesToHex(a.app.stateRoot)).toBe(bytesToHex(b.app.stateRoot))
    expect(a.app.stateRoot).toHaveLength(32)
    const other = await fresh(await makeNetwork())
    expect(bytesToHex(other.app.stateRoot)).not.toBe(bytesToHex(a.app.stateRoot))
    expect(await a.app.auditLog({ limit: 10 })).toEqual([])
    expect(await a.app.getBlock(0)).toBeUndefined()
  })

  it('refuses a database of another network', async () => {
    const a = await fresh()
    const dir = a.dir
    await a.close()
    const otherNet = await makeNetwork()
    expect(await codeOf(openApp(net, dir, otherNet.genesis))).toBe('wrong_network')
  })
})

describe('guardian_consensus', () => {
  it('approves a validation operation on the third of five votes, with a chained audit log', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    await chain.step([voteTx(net, 0, 'validation', 'v-1'), voteTx(net, 1, 'validation', 'v-1')])
    const pending = await app.getOperation('validation', 'v-1')
    expect(pending).toMatchObject({ status: 'pending', threshold: 3, approvals: [0, 1], rejections: [], createdHeight: 1, createdAtMs: net.genesisTimeMs, decidedAtMs: null, decidedHeight: null })
    expect(pending!.expiresAtMs).toBe(net.genesisTimeMs + net.genesis.operationTtlMs)

    const b2 = await chain.step([voteTx(net, 4, 'validation', 'v-1', 'reject'), voteTx(net, 2, 'validation', 'v-1')])
    const approved = await app.getOperation('validation', 'v-1')
    expect(approved).toMatchObject({ status: 'approved', approvals: [0, 1, 2], rejections: [4], decidedHeight: 2, decidedAtMs: b2.header.timeMs })

    // more decisions: the audit log is a hash chain across blocks
    await chain.step([voteTx(net, 0, 'lp_liquidation', 'l-1'), voteTx(net, 1, 'lp_liquidation', 'l-1'), voteTx(net, 3, 'lp_liquidation', 'l-1')])
    await chain.step([0, 1, 2].map((g) => voteTx(net, g, 'validation', 'v-2', 'reject')))
    const log = await app.auditLog({ limit: 10 })
    expect(log.map((e) => [e.operation, e.operationId, e.status, e.height])).toEqual([
      ['validation', 'v-1', 'approved', 2],
      ['lp_liquidation', 'l-1', 'approved', 3],
      ['validation', 'v-2', 'rejected', 4],
    ])
    expectChain(log)
    expect(await app.auditLog({ fromSeq: 1, limit: 1 })).toEqual([log[1]])
    expect(await app.auditLog({ fromSeq: 5, limit: 1 })).toEqual([])
  })

  it('needs four approvals for dlc_emergency', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    await chain.step([0, 1, 2].map((g) => voteTx(net, g, 'dlc_emergency', 'e-1')))
    expect(await app.getOperation('dlc_emergency', 'e-1')).toMatchObject({ status: 'pending', threshold: 4 })
    await chain.step([voteTx(net, 3, 'dlc_emergency', 'e-1')])
    expect(await app.getOperation('dlc_emergency', 'e-1')).toMatchObject({ status: 'approved', approvals: [0, 1, 2, 3] })
  })

  it('rejects as soon as the threshold can no longer be reached', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    // validation: threshold 3 of 5 → rejected at 3 rejections
    await chain.step([voteTx(net, 0, 'validation', 'v', 'reject'), voteTx(net, 1, 'validation', 'v', 'reject'), voteTx(net, 2, 'validation', 'v')])
    expect(await app.getOperation('validation', 'v')).toMatchObject({ status: 'pending' })
    await chain.step([voteTx(net, 3, 'validation', 'v', 'reject')])
    expect(await app.getOperation('validation', 'v')).toMatchObject({ status: 'rejected', rejections: [0, 1, 3], decidedHeight: 2 })
    // dlc_emergency: threshold 4 of 5 → rejected at 2 rejections
    await chain.step([voteTx(net, 0, 'dlc_emergency', 'e', 'reject')])
    expect(await app.getOperation('dlc_emergency', 'e')).toMatchObject({ status: 'pending' })
    await chain.step([voteTx(net, 1, 'dlc_emergency', 'e', 'reject')])
    expect(await app.getOperation('dlc_emergency', 'e')).toMatchObject({ status: 'rejected' })
    expect((await app.auditLog({ limit: 10 })).map((e) => e.status)).toEqual(['rejected', 'rejected'])
  })

  it('treats a second vote by the same guardian, or a vote on a decided operation, as invalid', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const first = voteTx(net, 0, 'validation', 'dup')
    const again = voteTx(net, 0, 'validation', 'dup', 'reject')
    const block = await chain.propose([first, again, first])
    expect(block.txs).toEqual([first])
    const forced = withHeader({ ...block, txs: [first, again] }, { txRoot: txRoot([first, again]) })
    expect(await app.validateBlock(forced)).toMatchObject({ ok: false, reason: expect.stringMatching(/tx 1: invalid: guardian 0 already voted/) })
    await chain.commit(block)
    expect(await app.checkTx(again)).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringMatching(/already voted/) })
    await chain.step([1, 2].map((g) => voteTx(net, g, 'validation', 'dup')))
    expect(await app.checkTx(voteTx(net, 4, 'validation', 'dup'))).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringMatching(/already approved/) })
  })

  it('expires pending operations by block time, at the start of a block', async () => {
    const ttl = 60_000
    const n2 = await makeNetwork({ operationTtlMs: ttl })
    const { app } = await fresh(n2)
    const chain = new ChainDriver(n2, app)
    const g = n2.genesisTimeMs
    await chain.step([voteTx(n2, 0, 'validation', 'x'), voteTx(n2, 0, 'validation', 'y')], { timestampMs: g + ttl / 2 })
    await chain.step([voteTx(n2, 1, 'validation', 'y'), voteTx(n2, 2, 'validation', 'y')], { timestampMs: g + ttl - 1 })
    expect(app.lastBlockTimeMs).toBe(g + ttl / 2)
    expect(await app.getOperation('validation', 'y')).toMatchObject({ status: 'approved' })
    await chain.step([], { timestampMs: g + ttl })
    expect(app.lastBlockTimeMs).toBe(g + ttl - 1)
    expect(await app.getOperation('validation', 'x')).toMatchObject({ status: 'pending' })
    // block 4 has time g + ttl = expiresAtMs: x expires before the block's transactions run
    const late = voteTx(n2, 1, 'validation', 'x')
    const b4 = await chain.propose([late])
    expect(b4.header.timeMs).toBe(g + ttl)
    expect(b4.txs).toEqual([])
    await chain.commit(b4)
    expect(await app.getOperation('validation', 'x')).toMatchObject({ status: 'expired', approvals: [0], decidedAtMs: g + ttl, decidedHeight: 4 })
    const log = await app.auditLog({ limit: 10 })
    expect(log.map((e) => [e.operationId, e.status, e.height])).toEqual([
      ['y', 'approved', 2],
      ['x', 'expired', 4],
    ])
    expectChain(log)
    expect(await app.checkTx(late)).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringMatching(/already expired/) })
  })
})

describe('proposeBlock', () => {
  it('keeps the valid candidates in order and skips the rest', async () => {
    const { app } = await fresh()
    const stranger = generateVotePrivateKey()
    const good = [voteTx(net, 0, 'validation', 'a'), voteTx(net, 1, 'validation', 'a'), voteTx(net, 2, 'lp_liquidation', 'b')]
    const candidates = [
      new Uint8Array([1, 2, 3]),
      good[0]!,
      voteTx(net, 3, 'validation', 'a', 'approve', { signingKey: stranger }),
      voteTx(net, 9, 'validation', 'a', 'approve', { signingKey: stranger }),
      voteTx(net, 3, 'validation', 'a', 'approve', { kind: MessageKind.Heartbeat }),
      good[0]!,
      voteTx(net, 0, 'validation', 'a', 'reject'),
      good[1]!,
      good[2]!,
    ]
    const chain = new ChainDriver(net, app)
    const block = await chain.propose(candidates)
    expect(block.txs).toEqual(good)
    expect(block.header).toMatchObject({ height: 1, timeMs: net.genesisTimeMs, proposer: 0, guardianSetIndex: 0 })
    expect(block.header.parentHash).toEqual(ZERO_HASH)
    expect(block.header.lastCommitHash).toEqual(ZERO_HASH)
    expect(block.header.txRoot).toEqual(txRoot(good))
    expect(block.lastCommit).toBeNull()
    expect(await app.validateBlock(block)).toEqual({ ok: true })
    expect((await chain.propose(candidates, { maxTxs: 2 })).txs).toEqual(good.slice(0, 2))
    // speculative execution left the committed state alone
    expect(app.height).toBe(0)
    expect(await app.getOperation('validation', 'a')).toBeUndefined()
  })

  it('sets the time from the last commit: median of its precommits, and later than the last block', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const g = net.genesisTimeMs
    await chain.step([], { timestampMs: [g + 5000, g + 1000, g + 9000, g + 3000] })
    const b2 = await chain.propose([])
    expect(b2.header.timeMs).toBe(g + 3000) // lower median of 1000, 3000, 5000, 9000
    expect(b2.header.lastCommitHash).toEqual(certificateHash(chain.lastCommit!))
    expect(b2.header.parentHash).toEqual(app.lastBlockHash)
    await chain.commit(b2, { timestampMs: g }) // precommit clocks behind the last block
    const b3 = await chain.propose([])
    expect(b3.header.timeMs).toBe(g + 3001)
  })

  it('refuses a wrong height or last commit', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    expect(await codeOf(app.proposeBlock({ height: 2, proposer: 0, lastCommit: null, candidates: [] }))).toBe('invalid_argument')
    expect(await codeOf(app.proposeBlock({ height: 1, proposer: 5, lastCommit: null, candidates: [] }))).toBe('invalid_argument')
    await chain.step([])
    expect(await codeOf(app.proposeBlock({ height: 2, proposer: 0, lastCommit: null, candidates: [] }))).toBe('invalid_argument')
  })
})

describe('validateBlock', () => {
  let o: OpenedApp
  let chain: ChainDriver
  let block: Block

  async function setup(): Promise<void> {
    o = await fresh()
    chain = new ChainDriver(net, o.app)
    await chain.step([voteTx(net, 0, 'validation', 'p')])
    block = await chain.propose([voteTx(net, 1, 'validation', 'p'), voteTx(net, 2, 'validation', 'q')])
  }

  function withLastCommit(lastCommit: Certificate): Block {
    return withHeader({ ...block, lastCommit }, { lastCommitHash: certificateHash(lastCommit) })
  }

  it('accepts a valid proposal and rejects every kind of tampering', async () => {
    await setup()
    const { app } = o
    expect(await app.validateBlock(block)).toEqual({ ok: true })
    const reject = async (b: Block, reason: RegExp): Promise<void> => {
      expect(await app.validateBlock(b)).toEqual({ ok: false, reason: expect.stringMatching(reason) })
    }
    await reject(withHeader(block, { height: 3 }), /height 3, expected 2/)
    await reject(withHeader(block, { parentHash: new Uint8Array(32).fill(7) }), /parentHash/)
    await reject(withHeader(block, { timeMs: block.header.timeMs + 1 }), /time .* expected/)
    await reject(withHeader(block, { proposer: 5 }), /proposer/)
    await reject(withHeader(block, { guardianSetIndex: 1 }), /guardian set/)
    await reject(withHeader(block, { stateRoot: new Uint8Array(32).fill(1) }), /stateRoot/)
    await reject(withHeader(block, { txRoot: txRoot([]) }), /txRoot/)
    await reject({ ...block, txs: block.txs.slice(1) }, /txRoot/)
    await reject(withHeader(block, { lastCommitHash: ZERO_HASH }), /lastCommitHash/)
    await reject({ ...block, lastCommit: null }, /needs the certificate/)

    // lastCommit with a forged signature, too few signatures, or for another block
    const cert = chain.lastCommit!
    const forged: Certificate = {
      ...cert,
      signatures: cert.signatures.map((s, i) => (i === 1 ? { ...s, signature: Uint8Array.from(s.signature, (b, j) => (j === 5 ? b ^ 1 : b)) } : s)),
    }
    await reject(withLastCommit(forged), /lastCommit: .*(does not verify|signature)/)
    await reject(withLastCommit({ ...cert, signatures: cert.signatures.slice(0, 3) }), /lastCommit: .*3 signatures, quorum is 4/)
    await reject(withLastCommit(certify(net, block)), /lastCommit: .*expected height 1/)

    // an invalid transaction (a second vote), with a consistent txRoot
    const txs = [...block.txs, voteTx(net, 0, 'validation', 'p', 'reject')]
    await reject(withHeader({ ...block, txs }, { txRoot: txRoot(txs) }), /tx 2: invalid: guardian 0 already voted/)
    const garbage = [...block.txs, new Uint8Array([0xff])]
    await reject(withHeader({ ...block, txs: garbage }, { txRoot: txRoot(garbage) }), /tx 2: malformed/)

    // none of it changed anything
    expect(app.height).toBe(1)
    expect(await app.validateBlock(block)).toEqual({ ok: true })
  })

  it('validates another node\'s proposal by executing it (no cache)', async () => {
    await setup()
    const other = await fresh()
    await other.app.commitBlock(chain.committed[0]!.block, chain.committed[0]!.certificate)
    expect(await other.app.validateBlock(block)).toEqual({ ok: true })
    expect(await other.app.validateBlock(withHeader(block, { stateRoot: o.app.stateRoot }))).toMatchObject({ ok: false, reason: expect.stringMatching(/stateRoot/) })
  })
})

describe('commitBlock', () => {
  it('two independent apps applying the same blocks reach identical roots and records', async () => {
    const a = await fresh()
    const b = await fresh()
    const chain = new ChainDriver(net, a.app)
    const rounds = [
      [voteTx(net, 0, 'validation', 'm1'), voteTx(net, 1, 'dlc_emergency', 'm2', 'reject')],
      [voteTx(net, 1, 'validation', 'm1'), voteTx(net, 2, 'validation', 'm1'), voteTx(net, 3, 'dlc_emergency', 'm2', 'reject')],
      [],
      [voteTx(net, 4, 'lp_liquidation', 'm3')],
    ]
    for (const txs of rounds) {
      const block = await chain.propose(txs)
      expect(await b.app.validateBlock(block)).toEqual({ ok: true })
      const cert = await chain.commit(block)
      await b.app.commitBlock(block, cert)
      expect(bytesToHex(b.app.stateRoot)).toBe(bytesToHex(a.app.stateRoot))
      expect(b.app.lastBlockHash).toEqual(a.app.lastBlockHash)
      expect(bytesToHex(block.header.stateRoot)).toBe(bytesToHex(a.app.stateRoot))
    }
    // a third app catches up from the stored blocks alone (sync path: commit without validate)
    const c = await fresh()
    for (let h = 1; h <= a.app.height; h++) {
      const stored = await a.app.getBlock(h)
      expect(stored).toBeDefined()
      await c.app.commitBlock(stored!.block, stored!.certificate)
    }
    expect(bytesToHex(c.app.stateRoot)).toBe(bytesToHex(a.app.stateRoot))
    for (const app of [b.app, c.app]) {
      expect(await app.getOperation('validation', 'm1')).toEqual(await a.app.getOperation('validation', 'm1'))
      expect(await app.auditLog({ limit: 10 })).toEqual(await a.app.auditLog({ limit: 10 }))
      expect(await app.listOperations({ limit: 10 })).toEqual(await a.app.listOperations({ limit: 10 }))
    }
  })

  it('writes everything in one synced batch and survives close and reopen', async () => {
    const o = await fresh()
    const chain = new ChainDriver(net, o.app)
    await chain.step([voteTx(net, 0, 'validation', 'r1')])
    const block = await chain.propose([voteTx(net, 1, 'validation', 'r1'), voteTx(net, 2, 'validation', 'r1'), voteTx(net, 3, 'lp_liquidation', 'r2')])
    const spy = vi.spyOn(o.db, 'batch')
    const executions = vi.spyOn(AppState, 'at')
    const cert = await chain.commit(block)
    expect(executions).not.toHaveBeenCalled() // the proposal's speculative execution is reused
    executions.mockRestore()
    expect(spy).toHaveBeenCalledTimes(1)
    const [ops, options] = spy.mock.calls[0]! as unknown as [Array<{ sublevel?: { prefix: string } }>, { sync?: boolean }]
    expect(options).toMatchObject({ sync: true })
    const prefixes = new Set(ops.map((op) => op.sublevel?.prefix))
    expect([...prefixes].sort()).toEqual(['!app-meta!', '!blocks!', '!certs!', '!ops-index!', '!trie!'])
    spy.mockRestore()

    const before = { height: o.app.height, root: bytesToHex(o.app.stateRoot), hash: bytesToHex(o.app.lastBlockHash), time: o.app.lastBlockTimeMs }
    const records = await o.app.listOperations({ limit: 10 })
    const log = await o.app.auditLog({ limit: 10 })
    const again = await o.reopen()
    opened.push(again)
    const { app } = again
    expect({ height: app.height, root: bytesToHex(app.stateRoot), hash: bytesToHex(app.lastBlockHash), time: app.lastBlockTimeMs }).toEqual(before)
    expect(app.height).toBe(2)
    expect(await app.listOperations({ limit: 10 })).toEqual(records)
    expect(await app.auditLog({ limit: 10 })).toEqual(log)
    expect(await app.getOperation('validation', 'r1')).toMatchObject({ status: 'approved', approvals: [0, 1, 2] })
    const stored = await app.getBlock(2)
    expect(encodeBlock(stored!.block)).toEqual(encodeBlock(block))
    expect(certificateHash(stored!.certificate)).toEqual(certificateHash(cert))
    // and it goes on from there
    const next = new ChainDriver(net, app)
    next.lastCommit = cert
    await next.step([voteTx(net, 4, 'lp_liquidation', 'r2')])
    expect(app.height).toBe(3)
  })

  it('leaves nothing behind when the batch fails, and the commit can be retried', async () => {
    const o = await fresh()
    const chain = new ChainDriver(net, o.app)
    await chain.step([])
    const block = await chain.propose([voteTx(net, 0, 'validation', 'f')])
    const cert = certify(net, block)
    const rootBefore = bytesToHex(o.app.stateRoot)
    const spy = vi.spyOn(o.db, 'batch').mockRejectedValueOnce(new Error('disk full'))
    await expect(o.app.commitBlock(block, cert)).rejects.toThrow('disk full')
    spy.mockRestore()
    expect(o.app.height).toBe(1)
    expect(bytesToHex(o.app.stateRoot)).toBe(rootBefore)
    expect(await o.app.getBlock(2)).toBeUndefined()
    expect(await o.app.getOperation('validation', 'f')).toBeUndefined()
    await o.app.commitBlock(block, cert)
    expect(o.app.height).toBe(2)
    expect(await o.app.getOperation('validation', 'f')).toMatchObject({ status: 'pending' })
  })

  it('replaying a committed block is a no-op; another block at a committed height is an error', async () => {
    const o = await fresh()
    const chain = new ChainDriver(net, o.app)
    const b1 = await chain.step([voteTx(net, 0, 'validation', 'z')])
    await chain.step([])
    const root = bytesToHex(o.app.stateRoot)
    const spy = vi.spyOn(o.db, 'batch')
    await o.app.commitBlock(b1, chain.committed[0]!.certificate)
    await o.app.commitBlock(b1, certify(net, b1, { signers: [1, 2, 3, 4] }))
    expect(spy).not.toHaveBeenCalled()
    spy.mockRestore()
    expect(o.app.height).toBe(2)
    expect(bytesToHex(o.app.stateRoot)).toBe(root)

    const other = withHeader(b1, { proposer: 3 })
    expect(await codeOf(o.app.commitBlock(other, certify(net, other)))).toBe('conflicting_commit')
  })

  it('refuses bad certificates, gaps and certified blocks that do not execute to their header', async () => {
    const o = await fresh()
    const chain = new ChainDriver(net, o.app)
    const b1 = await chain.propose([voteTx(net, 0, 'validation', 'c')])
    expect(await codeOf(o.app.commitBlock(b1, certify(net, b1, { signers: [0, 1, 2] })))).toBe('bad_certificate')
    const other = await chain.propose([])
    expect(await codeOf(o.app.commitBlock(b1, certify(net, other)))).toBe('bad_certificate')
    const tampered = withHeader(b1, { stateRoot: new Uint8Array(32).fill(3) })
    expect(await codeOf(o.app.commitBlock(tampered, certify(net, tampered)))).toBe('invalid_block')
    expect(o.app.height).toBe(0)
    await chain.commit(b1)
    const b2 = await chain.propose([])
    const b3 = withHeader(b2, { height: 3 })
    expect(await codeOf(o.app.commitBlock(b3, certify(net, b3)))).toBe('out_of_order')
    expect(blockHash(b2.header)).not.toEqual(blockHash(b3.header))
  })
})

describe('checkTx', () => {
  it('explains each refusal', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    const tx = voteTx(net, 0, 'validation', 'ct')
    expect(await app.checkTx(tx)).toEqual({ ok: true, hash: bytesToHex(txHash(tx)) })
    expect(await app.checkTx(new Uint8Array([0x83, 1, 2]))).toMatchObject({ ok: false, code: 'malformed' })
    expect(await app.checkTx(voteTx(net, 0, 'validation', 'ct', 'approve', { kind: MessageKind.Vote }))).toMatchObject({ ok: false, code: 'malformed', reason: expect.stringMatching(/kind Tx/) })
    expect(await app.checkTx(voteTx(net, 0, 'validation', 'ct', 'approve', { signingKey: net.keys[1]!.votePrivateKey }))).toMatchObject({ ok: false, code: 'bad_signature' })
    expect(await app.checkTx(voteTx(net, 7, 'validation', 'ct'))).toMatchObject({ ok: false, code: 'unknown_signer' })
    expect(await app.checkTx(voteTx(net, 0, 'validation', 'ct', 'approve', { setIndex: 1 }))).toMatchObject({ ok: false, code: 'unknown_signer' })
    await chain.step([tx])
    expect(await app.checkTx(tx)).toMatchObject({ ok: false, code: 'invalid', reason: expect.stringMatching(/guardian 0 already voted/) })
    expect(await app.checkTx(voteTx(net, 1, 'validation', 'ct', 'reject'))).toMatchObject({ ok: true })
  })
})

describe('listOperations', () => {
  it('lists newest first, filters by operation and status, pages with a cursor and follows status changes', async () => {
    const { app } = await fresh()
    const chain = new ChainDriver(net, app)
    await chain.step([voteTx(net, 0, 'validation', 'o1'), voteTx(net, 0, 'lp_liquidation', 'o2')])
    await chain.step([voteTx(net, 0, 'validation', 'o3'), voteTx(net, 0, 'validation', 'o4')])
    await chain.step([1, 2].map((g) => voteTx(net, g, 'validation', 'o1')))
    const all = await app.listOperations({ limit: 10 })
    // newest first by creation height; within a height by operation, then id (descending)
    expect(all.items.map((r) => r.operationId)).toEqual(['o4', 'o3', 'o1', 'o2'])
    expect(all.nextCursor).toBeNull()
    expect((await app.listOperations({ status: 'pending', limit: 10 })).items.map((r) => r.operationId)).toEqual(['o4', 'o3', 'o2'])
    expect((await app.listOperations({ status: 'approved', limit: 10 })).items).toEqual([await app.getOperation('validation', 'o1')])
    expect((await app.listOperations({ operation: 'lp_liquidation', limit: 10 })).items.map((r) => r.operationId)).toEqual(['o2'])
    expect((await app.listOperations({ operation: 'validation', status: 'pending', limit: 10 })).items.map((r) => r.operationId)).toEqual(['o4', 'o3'])

    const p1 = await app.listOperations({ limit: 3 })
    expect(p1.items.map((r) => r.operationId)).toEqual(['o4', 'o3', 'o1'])
    expect(p1.nextCursor).not.toBeNull()
    const p2 = await app.listOperations({ limit: 3, cursor: p1.nextCursor! })
    expect(p2.items.map((r) => r.operationId)).toEqual(['o2'])
    expect(p2.nextCursor).toBeNull()
    expect(await codeOf(app.listOperations({ limit: 3, cursor: 'nope' }))).toBe('invalid_argument')
    expect(await codeOf(app.listOperations({ limit: 0 }))).toBe('invalid_argument')
  })
})

describe('close', () => {
  it('refuses work after close but leaves the database to its owner', async () => {
    const o = await fresh()
    await o.app.close()
    expect(o.db.status).toBe('open')
    expect(await codeOf(o.app.checkTx(new Uint8Array([1])))).toBe('closed')
    expect(await codeOf(o.app.validateBlock({} as Block))).toBe('closed')
  })
})
