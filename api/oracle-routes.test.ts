import { afterEach, describe, expect, it } from 'vitest'
import type { ApiServer, NodeApiSource } from './index.js'
import { fakeApiServer, ORACLE_EVENT } from './test-helpers/fake-source.js'

const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function api(source: Partial<NodeApiSource> = {}): Promise<ApiServer> {
  const server = await fakeApiServer(source)
  servers.push(server)
  return server
}

describe('GET /v1/oracle/events/:id', () => {
  it('serves the event by its URL-encoded event id, with announcements, attestations and the decided outcome', async () => {
    const server = await api()
    const res = await server.fastify.inject({ url: `/v1/oracle/events/${encodeURIComponent(ORACLE_EVENT.eventId)}` })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual(ORACLE_EVENT)
  })

  it('is 404 with a JSON error for an unknown event', async () => {
    const res = await (await api()).fastify.inject({ url: '/v1/oracle/events/unknown-event' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'not_found', message: 'no oracle event "unknown-event"' })
  })

  it('refuses an id longer than any event id', async () => {
    const res = await (await api()).fastify.inject({ url: `/v1/oracle/events/${'x'.repeat(257)}` })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: expect.any(String), message: expect.stringMatching(/id/) })
  })
})

describe('GET /v1/oracle/events', () => {
  it('pages with the limit and cursor it was given', async () => {
    const queries: Array<{ limit: number; cursor?: string }> = []
    const server = await api({
      oracleEvents: async (q) => {
        queries.push(q)
        return { items: [ORACLE_EVENT], nextCursor: `${'0'.repeat(15)}3/${ORACLE_EVENT.key}` }
      },
    })
    const first = await server.fastify.inject({ url: '/v1/oracle/events?limit=1' })
    expect(first.statusCode).toBe(200)
    expect(first.json()).toEqual({ items: [ORACLE_EVENT], nextCursor: `${'0'.repeat(15)}3/${ORACLE_EVENT.key}` })
    await server.fastify.inject({ url: `/v1/oracle/events?cursor=${'0'.repeat(15)}3/${ORACLE_EVENT.key}` })
    expect(queries).toEqual([{ limit: 1 }, { limit: 50, cursor: `${'0'.repeat(15)}3/${ORACLE_EVENT.key}` }])
  })

  it.each([['limit=0'], ['limit=101'], ['cursor=nope']])('refuses %s with a 400 JSON error', async (query) => {
    const res = await (await api()).fastify.inject({ url: `/v1/oracle/events?${query}` })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: expect.any(String), message: expect.any(String) })
  })
})
