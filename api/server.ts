import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify'
import { ApiError, INTERNAL_ERROR, toClientError, writeClientError } from './errors.js'
import { registerBlockRoutes } from './routes/blocks.js'
import { registerHealthRoutes } from './routes/health.js'
import { instrumentRequests, registerMetricsRoute } from './routes/metrics.js'
import { registerAdminRoutes } from './routes/admin.js'
import { registerOperationRoutes } from './routes/operations.js'
import { registerReserveRoutes } from './routes/reserves.js'
import { registerOracleRoutes } from './routes/oracle.js'
import { registerStatusRoute } from './routes/status.js'
import { registerTxRoute } from './routes/tx.js'
import { registerValidationRoutes } from './routes/validations.js'
import type { ApiServer, ApiServerOptions } from './types.js'

// The only body is POST /v1/tx: a hex transaction of at most ~33 KiB in JSON. Keep the limit small.
const BODY_LIMIT = 64 * 1024
// Methods with routes, in the order an Allow header lists them.
const ROUTED_METHODS = ['GET', 'POST'] as const

/** Builds the node's public HTTP API. Routes are ready for inject(); call listen() to serve TCP. */
export async function createApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  // Typed as fastify's base logger so the instance is a plain FastifyInstance (pino's
  // Logger would leak into the instance's generics and into every route module).
  const logger: FastifyBaseLogger = opts.logger
  const app = Fastify({
    loggerInstance: logger,
    // Health checks hit us every few seconds; we log requests at debug ourselves (below).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Operation ids (GET /v1/consensus/operations/:id) are up to 128 bytes plus the prefix, maybe percent-encoded.
    routerOptions: { maxParamLength: 512 },
    clientErrorHandler: writeClientError,
  })

  // Hooks before plugins and routes, so they apply to every route, swagger's and 404s included.
  instrumentRequests(app, opts.registry)
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, url: request.url, status: reply.statusCode, durationMs: reply.elapsedTime },
      'api request',
    )
  })

  app.setErrorHandler(async (err, request, reply) => {
    const client = toClientError(err)
    if (client !== null) return reply.code(client.status).send(client.body)
    // Log the real error for the operator; the caller gets nothing that reveals internals.
    request.log.error({ err, method: request.method, url: request.url }, 'api request failed')
    return reply.code(INTERNAL_ERROR.status).send(INTERNAL_ERROR.body)
  })

  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?', 1)[0] ?? request.url
    // The path exists for other methods: say so (405 + Allow) rather than a misleading 404.
    // (hasRoute matches route patterns, so this covers the static paths, which is all but the parametric reads.)
    const allowed = ROUTED_METHODS.filter((method) => app.hasRoute({ method, url: path })).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]))
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({ error: 'method_not_allowed', message: `method ${request.method} not allowed on ${path}` })
    }
    return reply.code(404).send({ error: 'not_found', message: `route ${request.method} ${path} not found` })
  })

  // swagger must be registered before the routes so its onRoute hook sees them.
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Universal Bitcoin guardian node API', version: opts.version },
      components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'api.adminToken of the node config' } } },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  registerHealthRoutes(app, opts.source)
  registerStatusRoute(app, opts.source)
  registerBlockRoutes(app, opts.source)
  registerOperationRoutes(app, opts.source)
  registerValidationRoutes(app, opts.source)
  registerTxRoute(app, opts.source)
  registerReserveRoutes(app, opts.source)
  registerOracleRoutes(app, opts.source)
  registerAdminRoutes(app, opts.admin, opts.adminToken)
  registerMetricsRoute(app, opts.registry)

  let closing: Promise<void> | null = null

  return {
    fastify: app,
    async listen(): Promise<string> {
      try {
        // Resolves the bound address, so port 0 yields the real port.
        return await app.listen({ host: opts.host, port: opts.port })
      } catch (err) {
        const code = (err as { code?: unknown }).code
        if (code === 'EADDRINUSE') {
          throw new ApiError('port_in_use', `api: port ${opts.port} already in use on ${opts.host}`, { cause: err })
        }
        const reason = err instanceof Error ? err.message : String(err)
        throw new ApiError('listen_failed', `api: cannot listen on ${opts.host}:${opts.port}: ${reason}`, {
          cause: err,
        })
      }
    },
    close(): Promise<void> {
      // Memoized: a second close (e.g. shutdown path plus test teardown) waits for the first.
      closing ??= app.close()
      return closing
    },
  }
}
