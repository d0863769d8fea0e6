import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { validationId } from '../protocol/index.js'
import { createApiServer, type ApiServer, type NodeApiSource, type ValidationsQuery } from './index.js'
import { fakeSource, VALIDATION } from './test-helpers/fake-source.js'

const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function api(overrides: Partial<NodeApiSource> = {}): Promise<ApiServer> {
  const server = await createApiServer({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), registry: new Registry(), version: '0.1.0', source: fakeSource(overrides) })
  servers.push(server)
  return server
}

async function get(server: ApiServer, url: string) {
  const res = await server.fastify.inject({ method: 'GET', url })
  return { status: res.statusCode, body: res.json() }
}

const SERVED = {
  id: VALIDATION.id,
  chain: 'ethereum',
  txHash: VALIDATION.txHash,
  fromAddress: VALIDATION.fromAddress,
  amount: '1000000000000000000',
  message: 'bc1qdestination',
  status: 'approved',
  reason: null,
  observations: [
    { guardian: 'guardian-0', signature: '01'.repeat(65) },
    { guardian: 'guardian-2', signature: '02'.repeat(65) },
  ],
  conflicting: [{ guardian: 'guardian-1', observationHash: 'cc'.repeat(32) }],
  bitcoinSignature: null,
  bitcoinAddress: null,
  signers: [],
  signedAt: null,
  createdAt: '2023-11-14T22:13:20.000Z',
  processedAt: '2023-11-14T22:14:20.000Z',
}

describe('GET /v1/validations/:id', () => {
  it('serves a validation with guardian names and ISO times', async () => {
    const { status, body } = await get(await api(), `/v1/validations/${VALIDATION.id}`)
    expect(status).toBe(200)
    expect(body).toEqual(SERVED)
  })

  it('serves pending ones with null processedAt and a null message for non-UTF-8', async () => {
    const server = await api({ validation: async () => ({ ...VALIDATION, status: 'pending', processedAtMs: null, messageText: null }) })
    const { body } = await get(server, `/v1/validations/${VALIDATION.id}`)
    expect(body).toMatchObject({ status: 'pending', processedAt: null, message: null })
  })

  it('404 for an unknown id, 400 for a malformed one', async () => {
    const server = await api()
    expect(await get(server, `/v1/validations/${'00'.repeat(32)}`)).toMatchObject({ status: 404, body: { error: 'not_found' } })
    for (const id of ['xyz', 'AA'.repeat(32), 'aa'.repeat(31)]) {
      expect(await get(server, `/v1/validations/${id}`)).toMatchObject({ status: 400, body: { error: 'bad_request' } })
    }
  })
})

describe('GET /v1/validations/by-tx/:chain/:txHash', () => {
  it('looks the validation up by validationId(chain, txHash)', async () => {
    const asked: string[] = []
    const server = await api({
      validation: async (id) => {
        asked.push(id)
        return id === validationId('ethereum', VALIDATION.txHash) ? { ...VALIDATION, id } : undefined
      },
    })
    const { status, body } = await get(server, `/v1/validations/by-tx/ethereum/${VALIDATION.txHash}`)
    expect(status).toBe(200)
    expect(body).toMatchObject({ txHash: VALIDATION.txHash, id: validationId('ethereum', VALIDATION.txHash) })
    expect(await get(server, `/v1/validations/by-tx/solana/${VALIDATION.txHash}`)).toMatchObject({ status: 404 })
    expect(asked).toEqual([validationId('ethereum', VALIDATION.txHash), validationId('solana', VALIDATION.txHash)])
  })

  it('400 for an unknown chain or a malformed hash', async () => {
    const server = await api()
    expect((await get(server, '/v1/validations/by-tx/dogecoin/0xabc')).status).toBe(400)
    expect((await get(server, '/v1/validations/by-tx/ethereum/0x%20ab')).status).toBe(400)
    expect((await get(server, `/v1/validations/by-tx/ethereum/${'a'.repeat(129)}`)).status).toBe(400)
  })
})

describe('GET /v1/validations', () => {
  it('passes filters, limit and cursor through', async () => {
    const queries: ValidationsQuery[] = []
    const cursor = `${'0'.repeat(15)}7/${'ab'.repeat(32)}`
    const server = await api({
      validations: async (q) => {
        queries.push(q)
        return { items: [VALIDATION], nextCursor: cursor }
      },
    })
    const { status, body } = await get(server, `/v1/validations?chain=ethereum&status=delayed&from=0xAbC&limit=2&cursor=${cursor}`)
    expect(status).toBe(200)
    expect(body).toEqual({ items: [SERVED], nextCursor: cursor })
    expect(queries).toEqual([{ chain: 'ethereum', status: 'delayed', from: '0xAbC', limit: 2, cursor }])
    await get(server, '/v1/validations')
    expect(queries[1]).toEqual({ limit: 50 })
  })

  it.each(['chain=bitcoin', 'status=done', 'limit=0', 'limit=101', 'from=a/b', 'cursor=abc'])('400 for %s', async (query) => {
    const { status, body } = await get(await api(), `/v1/validations?${query}`)
    expect(status).toBe(400)
    expect(body.error).toBe('bad_request')
  })

  it('documents the routes with their responses', async () => {
    const server = await api()
    const doc = (await get(server, '/docs/json')).body as { paths: Record<string, { get: { responses: Record<string, unknown> } }> }
    expect(Object.keys(doc.paths['/v1/validations']!.get.responses)).toEqual(expect.arrayContaining(['200', '400']))
    expect(Object.keys(doc.paths['/v1/validations/{id}']!.get.responses)).toEqual(expect.arrayContaining(['200', '400', '404']))
    expect(Object.keys(doc.paths['/v1/validations/by-tx/{chain}/{txHash}']!.get.responses)).toEqual(expect.arrayContaining(['200', '400', '404']))
  })
})
