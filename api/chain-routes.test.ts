import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { afterEach, describe, expect, it } from 'vitest'
import { blockHash, decodeBlock, decodeCertificate, MAX_TX_BYTES, txHash } from '../protocol/index.js'
import { type ApiServer, type BlockView, type NodeApiSource, type OperationsQuery } from './index.js'
import { fakeApiServer, OPERATION, sampleCommittedBlock, STATUS } from './test-helpers/fake-source.js'

const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function api(overrides: Partial<NodeApiSource> = {}): Promise<ApiServer> {
  const server = await fakeApiServer(overrides)
  servers.push(server)
  return server
}

async function get(server: ApiServer, url: string) {
  const res = await server.fastify.inject({ method: 'GET', url })
  return { status: res.statusCode, body: res.json() }
}

describe('GET /v1/status', () => {
  it('includes the state root and the syncing flag', async () => {
    const server = await api({ status: () => ({ ...STATUS, height: 9, syncing: true }) })
    const { status, body } = await get(server, '/v1/status')
    expect(status).toBe(200)
    expect(body).toMatchObject({ height: 9, stateRoot: 'ab'.repeat(32), syncing: true })
  })
})

describe('GET /v1/blocks/:height', () => {
  const committed = sampleCommittedBlock(7)
  const { block, certificate } = committed

  it('returns the header, transactions, certificate and canonical encodings', async () => {
    const server = await api({ block: async (h) => (h === 7 ? committed : undefined) })
    const { status, body } = await get(server, '/v1/blocks/7')
    expect(status).toBe(200)
    const view = body as BlockView
    const hash = bytesToHex(blockHash(block.header))
    expect(view).toEqual({
      height: 7,
      hash,
      header: {
        height: 7,
        timeMs: 1_700_000_000_123,
        time: '2023-11-14T22:13:20.123Z',
        proposer: 2,
        guardianSetIndex: 0,
        parentHash: '11'.repeat(32),
        lastCommitHash: bytesToHex(block.header.lastCommitHash),
        txRoot: bytesToHex(block.header.txRoot),
        stateRoot: '22'.repeat(32),
      },
      txs: block.txs.map((tx) => ({ hash: bytesToHex(txHash(tx)), envelope: bytesToHex(tx) })),
      certificate: {
        height: 7,
        round: 1,
        blockHash: hash,
        signatures: certificate.signatures.map((s) => ({ signer: s.signer, timestampMs: s.timestampMs, signature: bytesToHex(s.signature) })),
      },
      raw: { block: expect.stringMatching(/^[0-9a-f]+$/), certificate: expect.stringMatching(/^[0-9a-f]+$/) },
    })
    // The raw encodings decode back to exactly what the node holds.
    expect(decodeBlock(hexToBytes(view.raw.block))).toEqual(block)
    expect(decodeCertificate(hexToBytes(view.raw.certificate))).toEqual(certificate)
  })

  it('latest resolves to the node’s latest height', async () => {
    const asked: number[] = []
    const server = await api({ block: async (h) => (asked.push(h), h === 7 ? committed : undefined) })
    const { status, body } = await get(server, '/v1/blocks/latest')
    expect(status).toBe(200)
    expect((body as BlockView).height).toBe(7)
    expect(asked).toEqual([7])
  })

  it('404 for a height not committed yet, naming the latest', async () => {
    const server = await api()
    expect(await get(server, '/v1/blocks/8')).toEqual({ status: 404, body: { error: 'not_found', message: 'no block at height 8 (latest is 7)' } })
  })

  it('404 for latest before the first block', async () => {
    const server = await api({ latestHeight: () => 0, block: async () => undefined })
    expect(await get(server, '/v1/blocks/latest')).toEqual({ status: 404, body: { error: 'not_found', message: 'no block committed yet' } })
  })

  it.each(['0', '-1', 'abc', '1.5', '07', '1e3', 'LATEST', '12345678901234567', '9007199254740993'])('400 for height %s', async (height) => {
    let called = false
    const server = await api({ block: async () => ((called = true), undefined) })
    const { status, body } = await get(server, `/v1/blocks/${height}`)
    expect(status).toBe(400)
    expect(body).toEqual({ error: 'bad_request', message: expect.any(String) })
    expect(called).toBe(false)
  })

  it('a failing store → 500 internal', async () => {
    const server = await api({
      block: async () => {
        throw new Error('disk on fire')
      },
    })
    expect(await get(server, '/v1/blocks/7')).toEqual({ status: 500, body: { error: 'internal', message: 'internal error' } })
  })
})

describe('GET /v1/consensus/operations', () => {
  function recording(page = { items: [OPERATION], nextCursor: null as string | null }) {
    const queries: OperationsQuery[] = []
    return { queries, operations: async (q: OperationsQuery) => (queries.push(q), page) }
  }

  it('lists records with their id; limit defaults to 50', async () => {
    const { queries, operations } = recording()
    const server = await api({ operations })
    const { status, body } = await get(server, '/v1/consensus/operations')
    expect(status).toBe(200)
    expect(body).toEqual({ items: [{ id: 'validation:deposit:42', ...OPERATION }], nextCursor: null })
    expect(queries).toEqual([{ limit: 50 }])
  })

  it('passes filters, limit and cursor through and returns the next cursor', async () => {
    const { queries, operations } = recording({ items: [], nextCursor: 'page-3' })
    const server = await api({ operations })
    const { status, body } = await get(server, '/v1/consensus/operations?operation=dlc_emergency&status=pending&limit=2&cursor=page-2')
    expect(status).toBe(200)
    expect(body).toEqual({ items: [], nextCursor: 'page-3' })
    expect(queries).toEqual([{ operation: 'dlc_emergency', status: 'pending', limit: 2, cursor: 'page-2' }])
  })

  it.each(['operation=withdrawal', 'status=done', 'limit=0', 'limit=101', 'limit=ten', 'limit=1.5', 'cursor=', `cursor=${'c'.repeat(513)}`])('400 for %s', async (query) => {
    const { queries, operations } = recording()
    const server = await api({ operations })
    const { status, body } = await get(server, `/v1/consensus/operations?${query}`)
    expect(status).toBe(400)
    expect(body).toEqual({ error: 'bad_request', message: expect.stringContaining('querystring') })
    expect(queries).toEqual([])
  })
})

describe('GET /v1/consensus/operations/:id', () => {
  it('returns the record, splitting the id at the first colon', async () => {
    const asked: string[][] = []
    const server = await api({ operation: async (op, id) => (asked.push([op, id]), op === 'validation' && id === 'deposit:42' ? OPERATION : undefined) })
    expect(await get(server, '/v1/consensus/operations/validation:deposit:42')).toEqual({ status: 200, body: { id: 'validation:deposit:42', ...OPERATION } })
    // Percent-encoded colons work too.
    expect((await get(server, '/v1/consensus/operations/validation%3Adeposit%3A42')).status).toBe(200)
    expect(asked).toEqual([
      ['validation', 'deposit:42'],
      ['validation', 'deposit:42'],
    ])
  })

  it('accepts the longest operation id', async () => {
    const id = 'x'.repeat(128)
    const server = await api({ operation: async (op, operationId) => ({ ...OPERATION, operation: op, operationId }) })
    expect(await get(server, `/v1/consensus/operations/dlc_emergency:${id}`)).toMatchObject({ status: 200, body: { id: `dlc_emergency:${id}` } })
  })

  it('404 for an unknown record', async () => {
    const server = await api()
    expect(await get(server, '/v1/consensus/operations/lp_liquidation:nope')).toEqual({
      status: 404,
      body: { error: 'not_found', message: 'no operation lp_liquidation:nope' },
    })
  })

  it.each(['nocolon', 'validation:', ':deposit', 'withdrawal:x', 'validation:has%20space', `validation:${'x'.repeat(129)}`])('400 for malformed id %s', async (id) => {
    let called = false
    const server = await api({ operation: async () => ((called = true), undefined) })
    const { status, body } = await get(server, `/v1/consensus/operations/${id}`)
    expect(status).toBe(400)
    expect(body).toEqual({ error: 'bad_request', message: expect.any(String) })
    expect(called).toBe(false)
  })
})

describe('POST /v1/tx', () => {
  const tx = sampleCommittedBlock().block.txs[0]!

  async function post(server: ApiServer, payload: unknown) {
    const res = await server.fastify.inject({ method: 'POST', url: '/v1/tx', payload: payload as Record<string, unknown> })
    return { status: res.statusCode, body: res.json() }
  }

  it('202 with the hash when the node accepts it; the node gets the exact bytes', async () => {
    const got: Uint8Array[] = []
    const hash = bytesToHex(txHash(tx))
    const server = await api({ submitTx: async (bytes) => (got.push(bytes), { ok: true, hash }) })
    expect(await post(server, { tx: bytesToHex(tx) })).toEqual({ status: 202, body: { hash, status: 'accepted' } })
    // Upper-case hex is hex too.
    expect((await post(server, { tx: bytesToHex(tx).toUpperCase() })).status).toBe(202)
    expect(got).toEqual([tx, tx])
  })

  it('400 with the node’s reason code when it rejects the transaction', async () => {
    const server = await api({ submitTx: async () => ({ ok: false, code: 'bad_signature', reason: 'envelope signature does not match guardian guardian-2' }) })
    expect(await post(server, { tx: bytesToHex(tx) })).toEqual({
      status: 400,
      body: { error: 'bad_signature', message: 'envelope signature does not match guardian guardian-2' },
    })
  })

  it.each([
    ['not hex', { tx: 'zz' }],
    ['0x prefix', { tx: `0x${bytesToHex(tx)}` }],
    ['odd length', { tx: 'abc' }],
    ['empty', { tx: '' }],
    ['missing', {}],
    ['not a string', { tx: 42 }],
    ['an array', { tx: ['ab'] }],
    ['over the size limit', { tx: 'ab'.repeat(MAX_TX_BYTES + 1) }],
  ])('400 bad_request for a body that is %s, without bothering the node', async (_what, payload) => {
    let called = false
    const server = await api({ submitTx: async () => ((called = true), { ok: true, hash: '' }) })
    const { status, body } = await post(server, payload)
    expect(status).toBe(400)
    expect(body).toEqual({ error: 'bad_request', message: expect.any(String) })
    expect(called).toBe(false)
  })

  it('accepts a transaction at the size limit', async () => {
    const server = await api()
    expect((await post(server, { tx: 'ab'.repeat(MAX_TX_BYTES) })).status).toBe(202)
  })

  it('GET /v1/tx → 405 with Allow: POST', async () => {
    const server = await api()
    const res = await server.fastify.inject({ method: 'GET', url: '/v1/tx' })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe('POST')
    expect(res.json()).toEqual({ error: 'method_not_allowed', message: 'method GET not allowed on /v1/tx' })
  })
})

describe('OpenAPI', () => {
  it('documents the chain and consensus routes with their schemas', async () => {
    const server = await api()
    const doc = (await get(server, '/docs/json')).body as { paths: Record<string, Record<string, any>> }
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/blocks/{height}', '/v1/consensus/operations', '/v1/consensus/operations/{id}', '/v1/tx']),
    )
    expect(Object.keys(doc.paths['/v1/blocks/{height}']!.get.responses)).toEqual(expect.arrayContaining(['200', '400', '404']))
    expect(Object.keys(doc.paths['/v1/consensus/operations/{id}']!.get.responses)).toEqual(expect.arrayContaining(['200', '400', '404']))
    expect(doc.paths['/v1/tx']!.post.requestBody.content['application/json'].schema.required).toEqual(['tx'])
    expect(Object.keys(doc.paths['/v1/tx']!.post.responses)).toEqual(expect.arrayContaining(['202', '400']))
    const params = doc.paths['/v1/consensus/operations']!.get.parameters.map((p: { name: string }) => p.name)
    expect(params).toEqual(expect.arrayContaining(['operation', 'status', 'limit', 'cursor']))
    expect(doc.paths['/v1/status']!.get.responses['200'].content['application/json'].schema.required).toEqual(expect.arrayContaining(['stateRoot', 'syncing']))
  })
})
