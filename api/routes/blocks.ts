import { bytesToHex } from '@noble/hashes/utils.js'
import type { FastifyInstance } from 'fastify'
import { blockHash, encodeBlock, encodeCertificate, txHash, type Block, type Certificate } from '../../protocol/index.js'
import { blockSchema } from '../schemas.js'
import type { BlockView, CertificateView, NodeApiSource } from '../types.js'

/** GET /v1/blocks/:height — a committed block, its transactions and commit certificate. */
export function registerBlockRoutes(app: FastifyInstance, source: NodeApiSource): void {
  app.get('/v1/blocks/:height', { schema: blockSchema }, async (request, reply) => {
    const param = (request.params as { height: string }).height
    const latest = source.latestHeight()
    const height = param === 'latest' ? latest : Number(param)
    if (!Number.isSafeInteger(height) || height < 1) {
      if (param === 'latest') return reply.code(404).send({ error: 'not_found', message: 'no block committed yet' })
      return reply.code(400).send({ error: 'bad_request', message: `height must be an integer from 1 to ${Number.MAX_SAFE_INTEGER} or latest, got ${param}` })
    }
    const committed = await source.block(height)
    if (committed === undefined) {
      return reply.code(404).send({ error: 'not_found', message: `no block at height ${height} (latest is ${latest})` })
    }
    return blockView(committed.block, committed.certificate)
  })
}

/** The JSON form of a committed block; `raw` carries the canonical encodings for verifiers. */
export function blockView(block: Block, certificate: Certificate): BlockView {
  const h = block.header
  return {
    height: h.height,
    hash: bytesToHex(blockHash(h)),
    header: {
      height: h.height,
      timeMs: h.timeMs,
      time: new Date(h.timeMs).toISOString(),
      proposer: h.proposer,
      guardianSetIndex: h.guardianSetIndex,
      parentHash: bytesToHex(h.parentHash),
      lastCommitHash: bytesToHex(h.lastCommitHash),
      txRoot: bytesToHex(h.txRoot),
      stateRoot: bytesToHex(h.stateRoot),
    },
    txs: block.txs.map((tx) => ({ hash: bytesToHex(txHash(tx)), envelope: bytesToHex(tx) })),
    certificate: certificateView(certificate),
    raw: { block: bytesToHex(encodeBlock(block)), certificate: bytesToHex(encodeCertificate(certificate)) },
  }
}

export function certificateView(cert: Certificate): CertificateView {
  return {
    height: cert.height,
    round: cert.round,
    blockHash: bytesToHex(cert.blockHash),
    signatures: cert.signatures.map((s) => ({ signer: s.signer, timestampMs: s.timestampMs, signature: bytesToHex(s.signature) })),
  }
}
