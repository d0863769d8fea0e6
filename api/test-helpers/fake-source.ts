import { pino } from 'pino'
import { Registry } from 'prom-client'
import { createApiServer } from '../server.js'
import {
  blockHash,
  certificateHash,
  encodeEnvelope,
  encodeTx,
  generateVotePrivateKey,
  MessageKind,
  signEnvelope,
  TxType,
  txRoot,
  type Block,
  type Certificate,
} from '../../protocol/index.js'
import type { ApiServer, ApiServerOptions, DkgStatusView, NodeApiSource, OperationView, OracleEventView, Readiness, ReserveView, StatusView, ValidationView } from '../types.js'

export const STATUS: StatusView = {
  guardian: 'guardian-0',
  peerId: '12D3KooWguardian0',
  version: '0.1.0',
  network: 'regtest',
  guardianSetIndex: 0,
  height: 42,
  stateRoot: 'ab'.repeat(32),
  syncing: false,
  peers: [
    {
      guardian: 'guardian-1',
      peerId: '12D3KooWguardian1',
      connected: true,
      lastHeartbeatMs: 850,
      lastHeartbeatAt: '2024-01-01T00:00:00.000Z',
      height: 42,
      version: '0.1.0',
    },
    {
      guardian: 'guardian-2',
      peerId: '12D3KooWguardian2',
      connected: false,
      lastHeartbeatMs: null,
      lastHeartbeatAt: null,
      height: null,
      version: null,
    },
  ],
  uptimeS: 12.5,
}

export const READY: Readiness = { ready: true, storeOpen: true, connectedGuardians: 3, requiredGuardians: 3 }

const filled = (byte: number, length = 32): Uint8Array => new Uint8Array(length).fill(byte)

/** A certificate with made-up signatures: real encodings, not real votes. */
export function fakeCertificate(height: number, hash: Uint8Array, signers = [0, 1, 3]): Certificate {
  return {
    height,
    round: 1,
    blockHash: hash,
    signatures: signers.map((signer) => ({ signer, timestampMs: 1_700_000_000_000 + signer, signature: filled(signer + 1, 65) })),
  }
}

/** A real guardian vote transaction, signed by a throwaway key, encoded as it travels. */
export function sampleTx(operationId = 'deposit-1'): Uint8Array {
  const payload = encodeTx({ type: TxType.GuardianVote, operation: 'validation', operationId, decision: 'approve' })
  return encodeEnvelope(signEnvelope(filled(9), MessageKind.Tx, 0, 2, payload, generateVotePrivateKey()))
}

/** The block at `height` (≥ 2) with two transactions and a lastCommit, and a certificate for it. */
export function sampleCommittedBlock(height = 7): { block: Block; certificate: Certificate } {
  const txs = [sampleTx('deposit-1'), sampleTx('deposit-2')]
  const parentHash = filled(0x11)
  const lastCommit = fakeCertificate(height - 1, parentHash)
  const block: Block = {
    header: {
      height,
      timeMs: 1_700_000_000_123,
      proposer: 2,
      guardianSetIndex: 0,
      parentHash,
      lastCommitHash: certificateHash(lastCommit),
      txRoot: txRoot(txs),
      stateRoot: filled(0x22),
    },
    txs,
    lastCommit,
  }
  return { block, certificate: fakeCertificate(height, blockHash(block.header)) }
}

export const OPERATION: OperationView = {
  operation: 'validation',
  operationId: 'deposit:42',
  status: 'approved',
  threshold: 3,
  approvals: [0, 2, 4],
  rejections: [1],
  createdAtMs: 1_700_000_000_000,
  expiresAtMs: 1_700_003_600_000,
  decidedAtMs: 1_700_000_060_000,
  decidedHeight: 12,
  createdHeight: 10,
}

export const VALIDATION: ValidationView = {
  id: 'aa'.repeat(32),
  chain: 'ethereum',
  txHash: '0x' + '1a'.repeat(32),
  fromAddress: '0x' + 'cd'.repeat(20),
  amount: '1000000000000000000',
  messageText: 'bc1qdestination',
  status: 'approved',
  reason: null,
  observations: [
    { guardian: 0, observationHash: 'bb'.repeat(32), signature: '01'.repeat(65) },
    { guardian: 2, observationHash: 'bb'.repeat(32), signature: '02'.repeat(65) },
  ],
  conflicting: [{ guardian: 1, observationHash: 'cc'.repeat(32), signature: '03'.repeat(65) }],
  createdAtMs: 1_700_000_000_000,
  processedAtMs: 1_700_000_060_000,
  signature: null,
}

/** A committed reserve key as a node serves it. */
export const RESERVE: ReserveView = {
  address: 'bcrt1p45mg5dzxc6n5mw8wah7x4x2d8a5jgnney7s078pe2r2fgg2l4qjsjmp3qz',
  network: 'regtest',
  groupKey: 'ad'.repeat(32),
  internalKey: '03' + '6d'.repeat(32),
  threshold: 3,
  guardians: 5,
  verifyingShares: Array.from({ length: 5 }, (_, i) => `0${2 + (i % 2)}${'11'.repeat(32)}`),
  dkgCertificate: { sessionId: '3f'.repeat(32), digest: 'dd'.repeat(32), signatures: Array.from({ length: 5 }, (_, guardian) => ({ guardian, signature: 'ab'.repeat(65) })) },
  committedHeight: 4,
  committedAtMs: 1_700_000_000_000,
}

/** An oracle event decided by two of three oracles (made-up bytes in the right shapes). */
export const ORACLE_EVENT: OracleEventView = {
  key: 'e7'.repeat(32),
  eventId: 'btc/usd 2026-12-01',
  outcomes: ['above', 'below'],
  maturity: 1_764_547_200,
  announcements: [0, 1, 2].map((i) => ({ oracle: `oracle-${i}`, publicKey: `${i}a`.repeat(32), nonce: `${i}b`.repeat(32), announcement: `fdd824${i}c`, height: 3, timeMs: 1_700_000_000_000 })),
  attestations: [0, 2].map((i) => ({ oracle: `oracle-${i}`, outcome: 'above', signature: `${i}b`.repeat(32) + `${i}d`.repeat(32), attestation: `fdd868${i}e`, height: 9, timeMs: 1_700_000_060_000 + i })),
  equivocations: [],
  outcome: 'above',
  consensusReached: true,
  consensusHeight: 9,
  consensusAtMs: 1_700_000_060_002,
  createdHeight: 3,
  createdAtMs: 1_700_000_000_000,
}

export const DKG_IDLE: DkgStatusView = { state: 'idle', attempt: 0, sessionId: null, phase: 'idle', round1: 0, shares: 0, signatures: 0, culprit: null, reason: null }

/** A NodeApiSource over plain data; each method can be overridden. */
export function fakeSource(overrides: Partial<NodeApiSource> = {}): NodeApiSource {
  const committed = sampleCommittedBlock(7)
  return {
    status: () => STATUS,
    readiness: () => READY,
    latestHeight: () => 7,
    block: async (height) => (height === 7 ? committed : undefined),
    operation: async (operation, operationId) => (operation === OPERATION.operation && operationId === OPERATION.operationId ? OPERATION : undefined),
    operations: async () => ({ items: [OPERATION], nextCursor: null }),
    validation: async (id) => (id === VALIDATION.id ? VALIDATION : undefined),
    validations: async () => ({ items: [VALIDATION], nextCursor: null }),
    guardianName: (index) => (index < 5 ? `guardian-${index}` : undefined),
    submitTx: async () => ({ ok: true, hash: '00'.repeat(32) }),
    reserve: async () => undefined,
    psbt: async () => undefined,
    dkgStatus: () => DKG_IDLE,
    oracleEvent: async (eventId) => (eventId === ORACLE_EVENT.eventId ? ORACLE_EVENT : undefined),
    oracleEvents: async () => ({ items: [ORACLE_EVENT], nextCursor: null }),
    ...overrides,
  }
}

/** An API server over {@link fakeSource} (silent logger, fresh registry), not yet listening. */
export function fakeApiServer(overrides: Partial<NodeApiSource> = {}, operator: Pick<ApiServerOptions, 'admin' | 'adminToken'> = {}): Promise<ApiServer> {
  return createApiServer({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), registry: new Registry(), version: '0.1.0', source: fakeSource(overrides), ...operator })
}
