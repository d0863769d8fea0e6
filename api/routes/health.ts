import type { FastifyInstance } from 'fastify'
import { healthSchema, readySchema } from '../schemas.js'
import type { NodeStatusSource, Readiness } from '../types.js'

/** Liveness (/healthz) and readiness (/readyz) probes. */
export function registerHealthRoutes(app: FastifyInstance, source: NodeStatusSource): void {
  // Liveness deliberately touches nothing in the node: it only proves the event loop answers.
  app.get('/healthz', { schema: healthSchema }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: readySchema }, async (_request, reply) => {
    const readiness = source.readiness()
    const fields = {
      storeOpen: readiness.storeOpen,
      connectedGuardians: readiness.connectedGuardians,
      requiredGuardians: readiness.requiredGuardians,
    }
    if (readiness.ready) return { ready: true, ...fields }
    // 503 so load balancers and orchestrators stop routing here until the node catches up.
    return reply.code(503).send({ error: 'not_ready', message: notReadyReason(readiness), ready: false, ...fields })
  })
}

/** Operator-facing explanation of why the node is not ready. */
export function notReadyReason(r: Readiness): string {
  const reasons: string[] = []
  if (!r.storeOpen) reasons.push('store is not open')
  if (r.connectedGuardians < r.requiredGuardians) {
    reasons.push(`${r.connectedGuardians} of ${r.requiredGuardians} required guardian peers connected`)
  }
  return reasons.length > 0 ? reasons.join('; ') : 'node is not ready'
}
