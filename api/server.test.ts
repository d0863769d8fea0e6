import { connect } from 'node:net'
import { pino, type Logger } from 'pino'
import { Gauge, Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiError, createApiServer, type ApiServer, type NodeApiSource, type StatusView } from './index.js'
import { fakeSource, STATUS } from './test-helpers/fake-source.js'

interface Harness {
  readonly server: ApiServer
  readonly registry: Registry
  readonly logs: Array<Record<string, unknown>>
}

const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

function captureLogger(logs: Array<Record<string, unknown>>, level = 'debug'): Logger {
  return pino({ level }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) })
}

async function harness(source: Partial<NodeApiSource> = {}, port = 0, registry = new Registry()): Promise<Harness> {
  const logs: Array<Record<string, unknown>> = []
  const server = await createApiServer({
    host: '127.0.0.1',
    port,
    logger: captureLogger(logs),
    registry,
    version: '0.1.0',
    source: fakeSource(source),
  })
  servers.push(server)
  return { server, registry, logs }
}

describe('api server', () => {
  it('GET /healthz answers ok', async () => {
    const { server } = await harness()
    const res = await server.fastify.inject({ method: 'GET', url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })

  it('GET /readyz is 200 when ready', async () => {
    const { server } = await harness()
    const res = await server.fastify.inject({ method: 'GET', url: '/readyz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ready: true, storeOpen: true, connectedGuardians: 3, requiredGuardians: 3 })
  })

  it('GET /readyz is 503 with the reason when not ready', async () => {
    const { server } = await harness({
      readiness: () => ({ ready: false, storeOpen: true, connectedGuardians: 2, requiredGuardians: 3 }),
    })
    const res = await server.fastify.inject({ method: 'GET', url: '/readyz' })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toEqual({
      error: 'not_ready',
      message: '2 of 3 required guardian peers connected',
      ready: false,
      storeOpen: true,
      connectedGuardians: 2,
      requiredGuardians: 3,
    })
  })

  it('GET /v1/status returns the StatusView exactly', async () => {
    // Extra fields from the node must not leak through the schema.
    const { server } = await harness({ status: () => ({ ...STATUS, secret: 'x' }) as StatusView })
    const res = await server.fastify.inject({ method: 'GET', url: '/v1/status' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.json()).toEqual(STATUS)
  })

  it('GET /metrics serves the registry, including API request metrics', async () => {
    const { server, registry } = await harness()
    const gauge = new Gauge({ name: 'ubtc_test_gauge', help: 'test gauge', registers: [registry] })
    gauge.set(7)
    await server.fastify.inject({ method: 'GET', url: '/healthz' })
    await server.fastify.inject({ method: 'GET', url: '/no/such/thing' })
    const res = await server.fastify.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe(registry.contentType)
    expect(res.body).toContain('ubtc_test_gauge 7')
    expect(res.body).toContain('ubtc_api_requests_total{method="GET",route="/healthz",status="200"} 1')
    expect(res.body).toContain('ubtc_api_requests_total{method="GET",route="unmatched",status="404"} 1')
    expect(res.body).toContain('ubtc_api_request_duration_seconds_count{method="GET",route="/healthz"} 1')
    expect(res.body).not.toContain('/no/such/thing')
  })

  it('tolerates several servers in one process, on distinct or shared registries', async () => {
    const shared = new Registry()
    const a = await harness({}, 0, shared)
    const b = await harness({}, 0, shared)
    const c = await harness()
    await a.server.fastify.inject({ method: 'GET', url: '/healthz' })
    await b.server.fastify.inject({ method: 'GET', url: '/healthz' })
    await c.server.fastify.inject({ method: 'GET', url: '/healthz' })
    expect(await shared.metrics()).toContain('ubtc_api_requests_total{method="GET",route="/healthz",status="200"} 2')
    expect(await c.registry.metrics()).toContain('ubtc_api_requests_total{method="GET",route="/healthz",status="200"} 1')
  })

  it('serves an OpenAPI 3 document at /docs/json and the UI at /docs', async () => {
    const { server } = await harness()
    const res = await server.fastify.inject({ method: 'GET', url: '/docs/json' })
    expect(res.statusCode).toBe(200)
    const doc = res.json<{ openapi: string; info: { title: string; version: string }; paths: Record<string, unknown> }>()
    expect(doc.openapi).toMatch(/^3\./)
    expect(doc.info).toEqual({ title: 'Universal Bitcoin guardian node API', version: '0.1.0' })
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics', '/v1/status']))
    const ui = await server.fastify.inject({ method: 'GET', url: '/docs' })
    expect(ui.statusCode).toBeLessThan(400)
  })

  it('unknown route → 404 JSON', async () => {
    const { server } = await harness()
    const res = await server.fastify.inject({ method: 'GET', url: '/x?y=1' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'not_found', message: 'route GET /x not found' })
  })

  it('wrong method on a known path → 405 JSON with Allow', async () => {
    const { server } = await harness()
    const res = await server.fastify.inject({ method: 'DELETE', url: '/healthz' })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe('GET, HEAD')
    expect(res.json()).toMatchObject({ error: 'method_not_allowed' })
  })

  it('a throwing handler → 500 internal, no stack in the body, real error logged', async () => {
    const { server, logs } = await harness({
      status: () => {
        throw new Error('store exploded')
      },
    })
    const res = await server.fastify.inject({ method: 'GET', url: '/v1/status' })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ error: 'internal', message: 'internal error' })
    expect(res.body).not.toContain('store exploded')
    expect(res.body).not.toContain('stack')
    const logged = logs.find((l) => l.level === 50)
    expect(logged).toBeDefined()
    expect(JSON.stringify(logged)).toContain('store exploded')
  })

  it('malformed requests → 4xx JSON with an error code', async () => {
    const { server } = await harness()
    // A test route, to exercise body parsing and validation in isolation.
    server.fastify.post(
      '/test/echo',
      {
        schema: {
          body: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
        },
      },
      async (request) => request.body,
    )
    const post = (payload: string, contentType = 'application/json') =>
      server.fastify.inject({ method: 'POST', url: '/test/echo', payload, headers: { 'content-type': contentType } })

    const invalid = await post('{"n":"nope"}')
    expect(invalid.statusCode).toBe(400)
    expect(invalid.json()).toEqual({ error: 'bad_request', message: expect.stringContaining('body/n') })

    const badJson = await post('{"n":')
    expect(badJson.statusCode).toBe(400)
    expect(badJson.json()).toMatchObject({ error: 'bad_request' })

    const tooLarge = await post(JSON.stringify({ n: 1, pad: 'x'.repeat(70 * 1024) }))
    expect(tooLarge.statusCode).toBe(413)
    expect(tooLarge.json()).toMatchObject({ error: 'payload_too_large' })

    const mediaType = await post('n=1', 'application/x-www-form-urlencoded')
    expect(mediaType.statusCode).toBe(415)
    expect(mediaType.json()).toMatchObject({ error: 'unsupported_media_type' })
    for (const res of [invalid, badJson, tooLarge, mediaType]) expect(Object.keys(res.json())).toEqual(['error', 'message'])
  })

  it('logs requests at debug only', async () => {
    const logs: Array<Record<string, unknown>> = []
    const server = await createApiServer({
      host: '127.0.0.1',
      port: 0,
      logger: captureLogger(logs, 'info'),
      registry: new Registry(),
      version: '0.1.0',
      source: fakeSource(),
    })
    servers.push(server)
    await server.fastify.inject({ method: 'GET', url: '/healthz' })
    expect(logs).toEqual([])

    const debug = await harness()
    await debug.server.fastify.inject({ method: 'GET', url: '/healthz' })
    expect(debug.logs).toContainEqual(expect.objectContaining({ level: 20, method: 'GET', url: '/healthz', status: 200 }))
  })

  it('listens over TCP on port 0 and answers fetch and malformed HTTP with JSON', async () => {
    const { server } = await harness()
    const url = await server.listen()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const res = await fetch(`${url}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })

    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'))
      let data = ''
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()))
      socket.on('close', () => resolve(data))
      socket.on('error', reject)
    })
    expect(raw).toMatch(/^HTTP\/1\.1 400 /)
    expect(raw).toContain('{"error":"bad_request","message":"malformed HTTP request"}')
  })

  it('port already in use → ApiError port_in_use', async () => {
    const first = await harness()
    const port = Number(new URL(await first.server.listen()).port)
    const second = await harness({}, port)
    const err = await second.server.listen().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).code).toBe('port_in_use')
    expect((err as ApiError).message).toBe(`api: port ${port} already in use on 127.0.0.1`)
  })

  it('other listen failures → ApiError listen_failed', async () => {
    const { server } = await harness({}, 0)
    const bad = await createApiServer({
      host: '203.0.113.1', // TEST-NET-3: not a local address, so bind fails with EADDRNOTAVAIL
      port: 0,
      logger: captureLogger([]),
      registry: new Registry(),
      version: '0.1.0',
      source: fakeSource(),
    })
    servers.push(bad, server)
    const err = await bad.listen().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).code).toBe('listen_failed')
  })

  it('close is idempotent', async () => {
    const { server } = await harness()
    await server.listen()
    await server.close()
    await server.close()
    await Promise.all([server.close(), server.close()])
  })
})
