import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Operation } from '../../protocol/index.js'
import { adminDkgSchema, adminPsbtSchema, adminVoteSchema } from '../schemas.js'
import type { AdminSource, SubmitTxResult } from '../types.js'

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * POST /admin/dkg, /admin/psbts and /admin/operations/:operation/:operationId/vote — operator
 * actions of this guardian. Without an admin token every admin route answers 403; with one, a
 * request needs `Authorization: Bearer <token>` (compared in constant time).
 */
export function registerAdminRoutes(app: FastifyInstance, admin: AdminSource | undefined, token: string | undefined): void {
  const authorize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (admin === undefined || token === undefined || token === '') {
      await reply.code(403).send({ error: 'admin_disabled', message: 'admin routes are disabled: set api.adminToken in the node config' })
      return
    }
    const header = request.headers.authorization ?? ''
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '')
    const expected = Buffer.from(token)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      await reply.code(401).send({ error: 'unauthorized', message: 'admin routes need Authorization: Bearer <api.adminToken>' })
    }
  }

  app.post('/admin/dkg', { schema: adminDkgSchema, preHandler: authorize }, async (_request, reply) => {
    try {
      return reply.code(202).send(await admin!.startDkg())
    } catch (err) {
      return reply.code(409).send({ error: 'conflict', message: (err as Error).message })
    }
  })

  app.post('/admin/psbts', { schema: adminPsbtSchema, preHandler: authorize }, async (request, reply) => {
    const psbt = (request.body as { psbt: string }).psbt
    if (!BASE64.test(psbt)) return reply.code(400).send({ error: 'bad_request', message: 'body/psbt must be base64' })
    return submitted(reply, await admin!.proposePsbt(new Uint8Array(Buffer.from(psbt, 'base64'))))
  })

  app.post('/admin/operations/:operation/:operationId/vote', { schema: adminVoteSchema, preHandler: authorize }, async (request, reply) => {
    const { operation, operationId } = request.params as { operation: Operation; operationId: string }
    const { decision } = request.body as { decision: 'approve' | 'reject' }
    return submitted(reply, await admin!.vote(operation, operationId, decision))
  })
}

function submitted(reply: FastifyReply, result: SubmitTxResult): FastifyReply {
  if (!result.ok) return reply.code(result.code === 'mempool_full' ? 503 : 400).send({ error: result.code, message: result.reason })
  return reply.code(202).send({ hash: result.hash, status: 'accepted' })
}
