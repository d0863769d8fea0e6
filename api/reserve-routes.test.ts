import { afterEach, describe, expect, it } from 'vitest'
import { type AdminSource, type ApiServer, type NodeApiSource } from './index.js'
import { fakeApiServer, RESERVE } from './test-helpers/fake-source.js'

const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})


interface AdminCalls {
  dkg: number
  psbts: Uint8Array[]
  votes: Array<[string, string, string]>
}

async function api(opts: { source?: Partial<NodeApiSource>; token?: string } = {}): Promise<{ server: ApiServer; calls: AdminCalls }> {
  const calls: AdminCalls = { dkg: 0, psbts: [], votes: [] }
  const admin: AdminSource = {
    startDkg: async () => {
      calls.dkg++
      return { state: 'running', attempt: 1, sessionId: null, phase: 'joining', round1: 0, shares: 0, signatures: 0, culprit: null, reason: null }
    },
    proposePsbt: async (psbt) => {
      calls.psbts.push(psbt)
      return psbt.length > 3 ? { ok: true, hash: 'ee'.repeat(32) } : { ok: false, code: 'invalid', reason: 'psbt: PSBT does not parse' }
    },
    vote: async (operation, operationId, decision) => {
      calls.votes.push([operation, operationId, decision])
      return { ok: true, hash: 'ff'.repeat(32) }
    },
  }
  const server = await fakeApiServer(opts.source, { admin, ...(opts.token !== undefined ? { adminToken: opts.token } : {}) })
  servers.push(server)
  return { server, calls }
}

describe('GET /v1/reserves/address', () => {
  it('is 404 until the DKG result is committed, then serves the key, the address and the certificate with guardian names', async () => {
    expect((await (await api()).server.fastify.inject({ url: '/v1/reserves/address' })).json()).toMatchObject({ error: 'not_found', message: expect.stringMatching(/no reserve key yet/) })
    const { server } = await api({ source: { reserve: async () => RESERVE } })
    const res = await server.fastify.inject({ url: '/v1/reserves/address' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      ...RESERVE,
      committedAt: '2023-11-14T22:13:20.000Z',
      committedAtMs: undefined,
      dkgCertificate: { ...RESERVE.dkgCertificate, signatures: RESERVE.dkgCertificate.signatures.map((s) => ({ guardian: `guardian-${s.guardian}`, signature: s.signature })) },
    })
  })

  it('serves the DKG status and a PSBT (404 when unknown, 400 on a malformed id)', async () => {
    const { server } = await api()
    expect((await server.fastify.inject({ url: '/v1/reserves/dkg' })).json()).toMatchObject({ state: 'idle', attempt: 0 })
    expect((await server.fastify.inject({ url: `/v1/reserves/psbts/${'ab'.repeat(32)}` })).statusCode).toBe(404)
    expect((await server.fastify.inject({ url: '/v1/reserves/psbts/xyz' })).statusCode).toBe(400)
  })
})

describe('admin routes', () => {
  it('answer 403 when no admin token is configured, 401 without the right bearer token', async () => {
    const off = await api()
    expect((await off.server.fastify.inject({ method: 'POST', url: '/admin/dkg' })).json()).toMatchObject({ error: 'admin_disabled' })
    const on = await api({ token: 'right-token' })
    for (const authorization of [undefined, 'Bearer wrong-token', 'right-token', 'Bearer right-token-and-more']) {
      const res = await on.server.fastify.inject({ method: 'POST', url: '/admin/dkg', ...(authorization === undefined ? {} : { headers: { authorization } }) })
      expect(res.statusCode).toBe(401)
    }
    expect(on.calls.dkg).toBe(0)
  })

  it('start a DKG attempt, propose a PSBT and vote with the token', async () => {
    const { server, calls } = await api({ token: 'right-token' })
    const headers = { authorization: 'Bearer right-token' }
    const dkg = await server.fastify.inject({ method: 'POST', url: '/admin/dkg', headers })
    expect(dkg.statusCode).toBe(202)
    expect(dkg.json()).toMatchObject({ state: 'running', attempt: 1 })

    const psbt = Buffer.from('70736274ff01', 'hex').toString('base64')
    expect((await server.fastify.inject({ method: 'POST', url: '/admin/psbts', headers, payload: { psbt } })).json()).toEqual({ hash: 'ee'.repeat(32), status: 'accepted' })
    expect(Buffer.from(calls.psbts[0]!).toString('hex')).toBe('70736274ff01')
    const refused = await server.fastify.inject({ method: 'POST', url: '/admin/psbts', headers, payload: { psbt: 'AAE=' } })
    expect(refused.statusCode).toBe(400)
    expect(refused.json()).toMatchObject({ error: 'invalid' })
    expect((await server.fastify.inject({ method: 'POST', url: '/admin/psbts', headers, payload: { psbt: 'not base64!' } })).statusCode).toBe(400)

    const vote = await server.fastify.inject({ method: 'POST', url: `/admin/operations/reserve_spend/${'ab'.repeat(32)}/vote`, headers, payload: { decision: 'approve' } })
    expect(vote.statusCode).toBe(202)
    expect(calls.votes).toEqual([['reserve_spend', 'ab'.repeat(32), 'approve']])
    expect((await server.fastify.inject({ method: 'POST', url: '/admin/operations/withdrawal/x/vote', headers, payload: { decision: 'approve' } })).statusCode).toBe(400)
    expect((await server.fastify.inject({ method: 'POST', url: '/admin/operations/reserve_spend/x/vote', headers, payload: { decision: 'maybe' } })).statusCode).toBe(400)
  })
})
