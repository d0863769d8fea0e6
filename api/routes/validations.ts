import type { FastifyInstance } from 'fastify'
import { validationId, type ChainName } from '../../protocol/index.js'
import { validationByTxSchema, validationSchema, validationsSchema } from '../schemas.js'
import type { NodeApiSource, ValidationsQuery, ValidationView } from '../types.js'

/** A validation as served (validationViewSchema). */
export interface ValidationItem {
  readonly id: string
  readonly chain: ChainName
  readonly txHash: string
  readonly fromAddress: string
  readonly amount: string
  readonly message: string | null
  readonly status: ValidationView['status']
  readonly reason: string | null
  readonly observations: ReadonlyArray<{ readonly guardian: string; readonly signature: string }>
  readonly conflicting: ReadonlyArray<{ readonly guardian: string; readonly observationHash: string }>
  readonly bitcoinSignature: string | null
  readonly bitcoinAddress: string | null
  readonly signers: readonly string[]
  readonly signedAt: string | null
  readonly createdAt: string
  readonly processedAt: string | null
}

/** GET /v1/validations, /v1/validations/:id and /v1/validations/by-tx/:chain/:txHash — payment validations. */
export function registerValidationRoutes(app: FastifyInstance, source: NodeApiSource): void {
  const item = (v: ValidationView): ValidationItem => validationItem(v, (i) => source.guardianName(i) ?? `guardian#${i}`)

  app.get('/v1/validations', { schema: validationsSchema }, async (request) => {
    // The schema has validated enums, patterns and the limit range, and applied the default limit.
    const q = request.query as { chain?: ChainName; status?: ValidationsQuery['status']; from?: string; limit: number; cursor?: string }
    const query: ValidationsQuery = {
      limit: q.limit,
      ...(q.chain !== undefined ? { chain: q.chain } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.from !== undefined ? { from: q.from } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    }
    const page = await source.validations(query)
    return { items: page.items.map(item), nextCursor: page.nextCursor }
  })

  app.get('/v1/validations/:id', { schema: validationSchema }, async (request, reply) => {
    const id = (request.params as { id: string }).id
    const record = await source.validation(id)
    if (record === undefined) return reply.code(404).send({ error: 'not_found', message: `no validation ${id}` })
    return item(record)
  })

  app.get('/v1/validations/by-tx/:chain/:txHash', { schema: validationByTxSchema }, async (request, reply) => {
    const { chain, txHash } = request.params as { chain: ChainName; txHash: string }
    const record = await source.validation(validationId(chain, txHash))
    if (record === undefined) return reply.code(404).send({ error: 'not_found', message: `no validation of ${chain} transaction ${txHash}` })
    return item(record)
  })
}

export function validationItem(v: ValidationView, name: (index: number) => string): ValidationItem {
  return {
    id: v.id,
    chain: v.chain,
    txHash: v.txHash,
    fromAddress: v.fromAddress,
    amount: v.amount,
    message: v.messageText,
    status: v.status,
    reason: v.reason,
    observations: v.observations.map((o) => ({ guardian: name(o.guardian), signature: o.signature })),
    conflicting: v.conflicting.map((o) => ({ guardian: name(o.guardian), observationHash: o.observationHash })),
    bitcoinSignature: v.signature?.bitcoinSignature ?? null,
    bitcoinAddress: v.signature?.bitcoinAddress ?? null,
    signers: v.signature?.signers.map(name) ?? [],
    signedAt: v.signature === null ? null : new Date(v.signature.signedAtMs).toISOString(),
    createdAt: new Date(v.createdAtMs).toISOString(),
    processedAt: v.processedAtMs === null ? null : new Date(v.processedAtMs).toISOString(),
  }
}
