import type { FastifyInstance } from 'fastify'
import { dkgStatusSchema, psbtSchema, reserveAddressSchema } from '../schemas.js'
import type { NodeApiSource, PsbtView, ReserveView } from '../types.js'

/** GET /v1/reserves/address, /v1/reserves/dkg and /v1/reserves/psbts/:id — threshold custody of the reserve. */
export function registerReserveRoutes(app: FastifyInstance, source: NodeApiSource): void {
  const name = (i: number): string => source.guardianName(i) ?? `guardian#${i}`

  app.get('/v1/reserves/address', { schema: reserveAddressSchema }, async (_request, reply) => {
    const reserve = await source.reserve()
    if (reserve === undefined) return reply.code(404).send({ error: 'not_found', message: 'no reserve key yet: the guardians have not committed a DKG result' })
    return reserveItem(reserve, name)
  })

  app.get('/v1/reserves/dkg', { schema: dkgStatusSchema }, async () => source.dkgStatus())

  app.get('/v1/reserves/psbts/:id', { schema: psbtSchema }, async (request, reply) => {
    const id = (request.params as { id: string }).id
    const psbt = await source.psbt(id)
    if (psbt === undefined) return reply.code(404).send({ error: 'not_found', message: `no PSBT ${id}` })
    return psbtItem(psbt, name)
  })
}

export function reserveItem(r: ReserveView, name: (index: number) => string): Record<string, unknown> {
  return {
    address: r.address,
    network: r.network,
    groupKey: r.groupKey,
    internalKey: r.internalKey,
    threshold: r.threshold,
    guardians: r.guardians,
    verifyingShares: r.verifyingShares,
    dkgCertificate: { sessionId: r.dkgCertificate.sessionId, digest: r.dkgCertificate.digest, signatures: r.dkgCertificate.signatures.map((s) => ({ guardian: name(s.guardian), signature: s.signature })) },
    committedHeight: r.committedHeight,
    committedAt: new Date(r.committedAtMs).toISOString(),
  }
}

function psbtItem(p: PsbtView, name: (index: number) => string): Record<string, unknown> {
  return {
    id: p.id,
    psbt: Buffer.from(p.psbt, 'hex').toString('base64'),
    inputs: p.inputs,
    proposer: name(p.proposer),
    createdHeight: p.createdHeight,
    approvedAt: p.approvedAtMs === null ? null : new Date(p.approvedAtMs).toISOString(),
    signedPsbt: p.signedPsbt === null ? null : Buffer.from(p.signedPsbt, 'hex').toString('base64'),
    signers: p.signers.map(name),
    signedAt: p.signedAtMs === null ? null : new Date(p.signedAtMs).toISOString(),
  }
}
