import type { FastifyInstance } from 'fastify'
import { MAX_OPERATION_ID_BYTES, OPERATIONS, type Operation } from '../../protocol/index.js'
import { operationSchema, operationsSchema } from '../schemas.js'
import type { NodeApiSource, OperationsQuery, OperationView } from '../types.js'

/** An OperationView as served: with its `id` (operation:operationId), the key of GET …/operations/:id. */
export type OperationItem = OperationView & { readonly id: string }

/** GET /v1/consensus/operations and /v1/consensus/operations/:id — guardian_consensus records. */
export function registerOperationRoutes(app: FastifyInstance, source: NodeApiSource): void {
  app.get('/v1/consensus/operations', { schema: operationsSchema }, async (request) => {
    // The schema has validated the enums and the limit range, and applied the default limit.
    const q = request.query as { operation?: Operation; status?: OperationsQuery['status']; limit: number; cursor?: string }
    const query: OperationsQuery = {
      limit: q.limit,
      ...(q.operation !== undefined ? { operation: q.operation } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    }
    const page = await source.operations(query)
    return { items: page.items.map(operationItem), nextCursor: page.nextCursor }
  })

  app.get('/v1/consensus/operations/:id', { schema: operationSchema }, async (request, reply) => {
    const id = (request.params as { id: string }).id
    const parsed = parseOperationKey(id)
    if (parsed === null) {
      return reply.code(400).send({ error: 'bad_request', message: `id must be operation:operationId, got ${JSON.stringify(id)}` })
    }
    const record = await source.operation(parsed.operation, parsed.operationId)
    if (record === undefined) return reply.code(404).send({ error: 'not_found', message: `no operation ${id}` })
    return operationItem(record)
  })
}

export function operationItem(record: OperationView): OperationItem {
  return { id: `${record.operation}:${record.operationId}`, ...record }
}

const OPERATION_ID = /^[A-Za-z0-9:._-]+$/

/**
 * Splits `operation:operationId` at the first ':' (operation ids may contain ':'); null unless
 * the operation is known and the id is one a transaction could carry.
 */
export function parseOperationKey(id: string): { operation: Operation; operationId: string } | null {
  const colon = id.indexOf(':')
  if (colon <= 0) return null
  const operation = id.slice(0, colon)
  const operationId = id.slice(colon + 1)
  if (!(OPERATIONS as readonly string[]).includes(operation)) return null
  if (!OPERATION_ID.test(operationId) || operationId.length > MAX_OPERATION_ID_BYTES) return null
  return { operation: operation as Operation, operationId }
}
