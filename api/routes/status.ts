import type { FastifyInstance } from 'fastify'
import { statusSchema } from '../schemas.js'
import type { NodeStatusSource, StatusView } from '../types.js'

/** GET /v1/status: the node's StatusView, serialized strictly through its schema. */
export function registerStatusRoute(app: FastifyInstance, source: NodeStatusSource): void {
  app.get('/v1/status', { schema: statusSchema }, async (): Promise<StatusView> => source.status())
}
