import { hexToBytes } from '@noble/hashes/utils.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { submitTxSchema } from '../schemas.js'
import type { NodeApiSource } from '../types.js'

/** POST /v1/tx — hands a signed transaction to the node, which validates it before accepting it into the mempool. */
export function registerTxRoute(app: FastifyInstance, source: NodeApiSource): void {
  app.post('/v1/tx', { schema: submitTxSchema, preValidation: requireStringTx }, async (request, reply) => {
    // The schema guarantees an even number of hex digits within the size limit.
    const bytes = hexToBytes((request.body as { tx: string }).tx)
    const result = await source.submitTx(bytes)
    // A full mempool is the node's condition, not the client's mistake: retry later.
    if (!result.ok) return reply.code(result.code === 'mempool_full' ? 503 : 400).send({ error: result.code, message: result.reason })
    return reply.code(202).send({ hash: result.hash, status: 'accepted' })
  })
}

/** Validation coerces scalars to the schema's string (42 → "42"): a transaction must arrive as a JSON string. */
async function requireStringTx(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const tx = (request.body as { tx?: unknown } | null)?.tx
  if (tx !== undefined && typeof tx !== 'string') {
    await reply.code(400).send({ error: 'bad_request', message: 'body/tx must be a hex string' })
  }
}
