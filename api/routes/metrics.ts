import type { FastifyInstance } from 'fastify'
import { Counter, Histogram, type Registry } from 'prom-client'
import { metricsSchema } from '../schemas.js'

const REQUESTS = 'ubtc_api_requests_total'
const DURATION = 'ubtc_api_request_duration_seconds'
// Label for requests that matched no route: keeps cardinality bounded whatever URLs scanners try.
const UNMATCHED = 'unmatched'

type RequestLabels = 'method' | 'route' | 'status'
type DurationLabels = 'method' | 'route'

/**
 * Counts and times every API response. Metrics are created per registry (never on the
 * global one) so two servers in one process don't collide; on a registry that already
 * has them (createApiServer called twice with the same registry) they are reused.
 */
export function instrumentRequests(app: FastifyInstance, registry: Registry): void {
  const existingRequests = registry.getSingleMetric(REQUESTS)
  const requests =
    existingRequests instanceof Counter
      ? (existingRequests as Counter<RequestLabels>)
      : new Counter<RequestLabels>({
          name: REQUESTS,
          help: 'HTTP requests served by the guardian API',
          labelNames: ['method', 'route', 'status'],
          registers: [registry],
        })
  const existingDuration = registry.getSingleMetric(DURATION)
  const duration =
    existingDuration instanceof Histogram
      ? (existingDuration as Histogram<DurationLabels>)
      : new Histogram<DurationLabels>({
          name: DURATION,
          help: 'Guardian API request duration in seconds',
          labelNames: ['method', 'route'],
          buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
          registers: [registry],
        })

  app.addHook('onResponse', async (request, reply) => {
    // The route pattern (e.g. /v1/status), not the raw URL; undefined when nothing matched.
    const route = request.routeOptions.url ?? UNMATCHED
    const method = request.method
    requests.inc({ method, route, status: String(reply.statusCode) })
    duration.observe({ method, route }, reply.elapsedTime / 1000)
  })
}

/** GET /metrics: everything in the registry, in Prometheus text format. */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry): void {
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}
