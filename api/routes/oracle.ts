import type { FastifyInstance } from 'fastify'
import { oracleEventSchema, oracleEventsSchema } from '../schemas.js'
import type { NodeApiSource } from '../types.js'

/** GET /v1/oracle/events and /v1/oracle/events/:id — what the genesis oracles announced and attested, as committed. */
export function registerOracleRoutes(app: FastifyInstance, source: NodeApiSource): void {
  app.get('/v1/oracle/events', { schema: oracleEventsSchema }, async (request) => {
    // The schema has validated the cursor pattern and the limit range, and applied the default limit.
    const q = request.query as { limit: number; cursor?: string }
    return source.oracleEvents({ limit: q.limit, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) })
  })

  app.get('/v1/oracle/events/:id', { schema: oracleEventSchema }, async (request, reply) => {
    const id = (request.params as { id: string }).id
    const event = await source.oracleEvent(id)
    if (event === undefined) return reply.code(404).send({ error: 'not_found', message: `no oracle event ${JSON.stringify(id)}` })
    return event
  })
}
