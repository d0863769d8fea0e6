import { CHAIN_NAMES, MAX_OPERATION_ID_BYTES, MAX_TX_BYTES, OPERATIONS } from '../protocol/index.js'

// JSON schemas for every route. Fastify uses the response schemas to serialize (dropping
// anything not listed, so internals can't leak by accident) and @fastify/swagger turns
// them into the OpenAPI document at /docs/json.

export const errorSchema = {
  type: 'object',
  description: 'Error',
  properties: {
    error: { type: 'string', description: 'Stable machine-readable code, e.g. not_found' },
    message: { type: 'string', description: 'Human-readable explanation' },
  },
  required: ['error', 'message'],
  additionalProperties: false,
} as const

const readinessProperties = {
  storeOpen: { type: 'boolean' },
  connectedGuardians: { type: 'integer', minimum: 0 },
  requiredGuardians: { type: 'integer', minimum: 0 },
} as const

export const healthSchema = {
  tags: ['health'],
  summary: 'Liveness: the process answers',
  response: {
    200: {
      type: 'object',
      properties: { status: { type: 'string', enum: ['ok'] } },
      required: ['status'],
      additionalProperties: false,
    },
  },
} as const

export const readySchema = {
  tags: ['health'],
  summary: 'Readiness: store open and enough guardian peers connected',
  response: {
    200: {
      type: 'object',
      properties: { ready: { type: 'boolean', enum: [true] }, ...readinessProperties },
      required: ['ready', 'storeOpen', 'connectedGuardians', 'requiredGuardians'],
      additionalProperties: false,
    },
    503: {
      type: 'object',
      description: 'Not ready; message says why',
      properties: {
        error: { type: 'string', enum: ['not_ready'] },
        message: { type: 'string' },
        ready: { type: 'boolean', enum: [false] },
        ...readinessProperties,
      },
      required: ['error', 'message', 'ready', 'storeOpen', 'connectedGuardians', 'requiredGuardians'],
      additionalProperties: false,
    },
    500: errorSchema,
  },
} as const

const nullable = <T extends string>(type: T) => ({ type: [type, 'null'] }) as const

export const peerStatusSchema = {
  type: 'object',
  properties: {
    guardian: { type: 'string' },
    peerId: { type: 'string' },
    connected: { type: 'boolean' },
    lastHeartbeatMs: { ...nullable('number'), description: 'ms since the last heartbeat received' },
    lastHeartbeatAt: { ...nullable('string'), format: 'date-time' },
    height: nullable('integer'),
    version: nullable('string'),
  },
  required: ['guardian', 'peerId', 'connected', 'lastHeartbeatMs', 'lastHeartbeatAt', 'height', 'version'],
  additionalProperties: false,
} as const

export const statusViewSchema = {
  type: 'object',
  properties: {
    guardian: { type: 'string' },
    peerId: { type: 'string' },
    version: { type: 'string' },
    network: { type: 'string' },
    guardianSetIndex: { type: 'integer', minimum: 0 },
    height: { type: 'integer', minimum: 0, description: 'Height of the last committed block (0 before the first)' },
    stateRoot: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'Application state root after height' },
    syncing: { type: 'boolean', description: 'True while catching up with blocks committed by the others' },
    peers: { type: 'array', items: peerStatusSchema },
    uptimeS: { type: 'number', minimum: 0 },
  },
  required: ['guardian', 'peerId', 'version', 'network', 'guardianSetIndex', 'height', 'stateRoot', 'syncing', 'peers', 'uptimeS'],
  additionalProperties: false,
} as const

export const statusSchema = {
  tags: ['node'],
  summary: 'Node status: identity, chain height and guardian peers',
  response: { 200: statusViewSchema, 500: errorSchema },
} as const

export const metricsSchema = {
  tags: ['metrics'],
  summary: 'Prometheus metrics (text exposition format)',
  response: {
    // Media-type form so OpenAPI says text/plain for 200 while errors stay JSON.
    200: {
      description: 'Prometheus text format',
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
    500: errorSchema,
  },
} as const

const hash = (description: string) => ({ type: 'string', pattern: '^[0-9a-f]{64}$', description }) as const
const hex = (description: string) => ({ type: 'string', pattern: '^[0-9a-f]*$', description }) as const

export const certificateViewSchema = {
  type: 'object',
  description: 'Commit certificate: precommits of at least the commit quorum of guardians for this block',
  properties: {
    height: { type: 'integer', minimum: 1 },
    round: { type: 'integer', minimum: 0 },
    blockHash: hash('Hash of the committed header'),
    signatures: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          signer: { type: 'integer', minimum: 0, description: 'Guardian index in the guardian set' },
          timestampMs: { type: 'integer', minimum: 0, description: "Signer's clock when precommitting" },
          signature: { type: 'string', pattern: '^[0-9a-f]{130}$', description: 'secp256k1 r ‖ s ‖ v' },
        },
        required: ['signer', 'timestampMs', 'signature'],
        additionalProperties: false,
      },
    },
  },
  required: ['height', 'round', 'blockHash', 'signatures'],
  additionalProperties: false,
} as const

export const blockViewSchema = {
  type: 'object',
  properties: {
    height: { type: 'integer', minimum: 1 },
    hash: hash('Block id: tagged keccak256 of the encoded header'),
    header: {
      type: 'object',
      properties: {
        height: { type: 'integer', minimum: 1 },
        timeMs: { type: 'integer', minimum: 0, description: 'BFT time (ms since the epoch)' },
        time: { type: 'string', format: 'date-time' },
        proposer: { type: 'integer', minimum: 0, description: 'Guardian index of the proposer' },
        guardianSetIndex: { type: 'integer', minimum: 0 },
        parentHash: hash('Hash of the header at height − 1 (zeros at height 1)'),
        lastCommitHash: hash('Hash of the certificate of height − 1 (zeros at height 1)'),
        txRoot: hash('Commitment to the ordered transactions'),
        stateRoot: hash('Application state root after this block'),
      },
      required: ['height', 'timeMs', 'time', 'proposer', 'guardianSetIndex', 'parentHash', 'lastCommitHash', 'txRoot', 'stateRoot'],
      additionalProperties: false,
    },
    txs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          hash: hash('Transaction hash: keccak256 of the envelope'),
          envelope: hex('The encoded signed envelope (kind Tx)'),
        },
        required: ['hash', 'envelope'],
        additionalProperties: false,
      },
    },
    certificate: certificateViewSchema,
    raw: {
      type: 'object',
      description: 'Canonical encodings, for clients that verify rather than trust (ubtc verify)',
      properties: {
        block: hex('encodeBlock(block)'),
        certificate: hex('encodeCertificate(certificate)'),
      },
      required: ['block', 'certificate'],
      additionalProperties: false,
    },
  },
  required: ['height', 'hash', 'header', 'txs', 'certificate', 'raw'],
  additionalProperties: false,
} as const

export const blockSchema = {
  tags: ['chain'],
  summary: 'A committed block with its transactions and commit certificate',
  params: {
    type: 'object',
    properties: {
      height: { type: 'string', pattern: '^(latest|[1-9][0-9]{0,15})$', description: 'A height ≥ 1, or latest' },
    },
    required: ['height'],
  },
  response: { 200: blockViewSchema, 400: errorSchema, 404: errorSchema, 500: errorSchema },
} as const

const OPERATION_STATUSES = ['pending', 'approved', 'rejected', 'expired'] as const

export const operationViewSchema = {
  type: 'object',
  description: 'A guardian_consensus record',
  properties: {
    id: { type: 'string', description: 'operation:operationId' },
    operation: { type: 'string', enum: OPERATIONS },
    operationId: { type: 'string' },
    status: { type: 'string', enum: OPERATION_STATUSES },
    threshold: { type: 'integer', minimum: 0, description: 'Approvals needed' },
    approvals: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'Guardian indexes, in vote order' },
    rejections: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'Guardian indexes, in vote order' },
    createdAtMs: { type: 'integer', minimum: 0, description: 'Block time of the first vote' },
    expiresAtMs: { type: 'integer', minimum: 0 },
    decidedAtMs: nullable('integer'),
    decidedHeight: nullable('integer'),
    createdHeight: { type: 'integer', minimum: 0 },
  },
  required: [
    'id',
    'operation',
    'operationId',
    'status',
    'threshold',
    'approvals',
    'rejections',
    'createdAtMs',
    'expiresAtMs',
    'decidedAtMs',
    'decidedHeight',
    'createdHeight',
  ],
  additionalProperties: false,
} as const

export const MAX_CURSOR_CHARS = 512

/** A page of a cursor-paginated list. */
function pageOf<T extends object>(items: T) {
  return {
    type: 'object',
    properties: {
      items: { type: 'array', items },
      nextCursor: { ...nullable('string'), description: 'Cursor of the next page; null on the last' },
    },
    required: ['items', 'nextCursor'],
    additionalProperties: false,
  } as const
}

export const operationsSchema = {
  tags: ['consensus'],
  summary: 'guardian_consensus records, newest first, filtered and paged',
  querystring: {
    type: 'object',
    properties: {
      operation: { type: 'string', enum: OPERATIONS },
      status: { type: 'string', enum: OPERATION_STATUSES },
      limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
      cursor: { type: 'string', minLength: 1, maxLength: MAX_CURSOR_CHARS, description: 'nextCursor of the previous page' },
    },
    additionalProperties: false,
  },
  response: {
    200: pageOf(operationViewSchema),
    400: errorSchema,
    500: errorSchema,
  },
} as const

export const operationSchema = {
  tags: ['consensus'],
  summary: 'One guardian_consensus record',
  params: {
    type: 'object',
    properties: {
      id: {
        type: 'string',
        // The operation id may itself contain ':'; the id splits at the first one.
        pattern: `^(${OPERATIONS.join('|')}):[A-Za-z0-9:._-]+$`,
        maxLength: Math.max(...OPERATIONS.map((o) => o.length)) + 1 + MAX_OPERATION_ID_BYTES,
        description: 'operation:operationId, e.g. validation:deposit-42',
      },
    },
    required: ['id'],
  },
  response: { 200: operationViewSchema, 400: errorSchema, 404: errorSchema, 500: errorSchema },
} as const

const VALIDATION_STATUSES = ['pending', 'approved', 'rejected', 'delayed', 'expired', 'signed'] as const
const CHAIN_STRING = '^[A-Za-z0-9]{1,128}$'
const isoOrNull = { ...nullable('string'), format: 'date-time' } as const

export const validationViewSchema = {
  type: 'object',
  description: 'A payment validation agreed by the guardians',
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'hex keccak256(utf8(chain + ":" + txHash))' },
    chain: { type: 'string', enum: CHAIN_NAMES },
    txHash: { type: 'string' },
    fromAddress: { type: 'string' },
    amount: { type: 'string', pattern: '^[0-9]+$', description: "Decimal, in the chain's base unit (wei, lamports)" },
    message: { ...nullable('string'), description: 'The payment message as UTF-8 text; null if it is not valid UTF-8' },
    status: { type: 'string', enum: VALIDATION_STATUSES },
    reason: {
      ...nullable('string'),
      description: 'wrong_recipient, below_minimum, empty_message, invalid_utf8, message_too_long, unknown_chain (rejected) or rate_limited (delayed)',
    },
    observations: {
      type: 'array',
      description: 'Guardians that observed the content the validation is about',
      items: {
        type: 'object',
        properties: { guardian: { type: 'string' }, signature: { type: 'string', description: 'Envelope signature, hex' } },
        required: ['guardian', 'signature'],
        additionalProperties: false,
      },
    },
    conflicting: {
      type: 'array',
      description: 'Observations of another content (evidence; not counted)',
      items: {
        type: 'object',
        properties: { guardian: { type: 'string' }, observationHash: { type: 'string' } },
        required: ['guardian', 'observationHash'],
        additionalProperties: false,
      },
    },
    bitcoinSignature: { ...nullable('string'), description: 'BIP-322 simple signature (base64) of the message by the reserve address; null until signed' },
    bitcoinAddress: { ...nullable('string'), description: 'The reserve address that signed (P2TR); null until signed' },
    signers: { type: 'array', items: { type: 'string' }, description: 'Guardians whose FROST shares made the signature' },
    signedAt: isoOrNull,
    createdAt: { type: 'string', format: 'date-time' },
    processedAt: isoOrNull,
  },
  required: ['id', 'chain', 'txHash', 'fromAddress', 'amount', 'message', 'status', 'reason', 'observations', 'conflicting', 'bitcoinSignature', 'bitcoinAddress', 'signers', 'signedAt', 'createdAt', 'processedAt'],
  additionalProperties: false,
} as const

export const validationsSchema = {
  tags: ['validations'],
  summary: 'Payment validations, newest first, filtered and paged',
  querystring: {
    type: 'object',
    properties: {
      chain: { type: 'string', enum: CHAIN_NAMES },
      status: { type: 'string', enum: VALIDATION_STATUSES },
      from: { type: 'string', pattern: CHAIN_STRING, description: 'Sender address' },
      limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
      cursor: { type: 'string', pattern: '^[0-9]{16}/[0-9a-f]{64}$', description: 'nextCursor of the previous page' },
    },
    additionalProperties: false,
  },
  response: {
    200: pageOf(validationViewSchema),
    400: errorSchema,
    500: errorSchema,
  },
} as const

export const validationSchema = {
  tags: ['validations'],
  summary: 'One payment validation by id',
  params: {
    type: 'object',
    properties: { id: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'hex keccak256(utf8(chain + ":" + txHash))' } },
    required: ['id'],
  },
  response: { 200: validationViewSchema, 400: errorSchema, 404: errorSchema, 500: errorSchema },
} as const

export const validationByTxSchema = {
  tags: ['validations'],
  summary: 'The payment validation of a source-chain transaction',
  params: {
    type: 'object',
    properties: {
      chain: { type: 'string', enum: CHAIN_NAMES },
      txHash: { type: 'string', pattern: CHAIN_STRING, description: 'As the chain writes it (lower-case 0x hex on EVM chains)' },
    },
    required: ['chain', 'txHash'],
  },
  response: { 200: validationViewSchema, 400: errorSchema, 404: errorSchema, 500: errorSchema },
} as const

export const submitTxSchema = {
  tags: ['consensus'],
  summary: 'Submit a signed transaction to the mempool',
  description: 'The transaction is validated (decoding, signer, signature, application rules) before it is accepted.',
  body: {
    type: 'object',
    properties: {
      tx: {
        type: 'string',
        pattern: '^(?:[0-9a-fA-F]{2})+$',
        maxLength: 2 * MAX_TX_BYTES,
        description: 'Hex of the encoded signed envelope (kind Tx), without 0x',
      },
    },
    required: ['tx'],
    additionalProperties: false,
  },
  response: {
    202: {
      type: 'object',
      description: 'Accepted into the mempool',
      properties: {
        hash: hash('Transaction hash'),
        status: { type: 'string', enum: ['accepted'] },
      },
      required: ['hash', 'status'],
      additionalProperties: false,
    },
    400: { ...errorSchema, description: 'Malformed or invalid transaction; error is the reason code, e.g. bad_signature' },
    413: errorSchema,
    503: errorSchema,
    415: errorSchema,
    500: errorSchema,
  },
} as const

const HEX = (bytes: number) => ({ type: 'string', pattern: `^[0-9a-f]{${bytes * 2}}$` }) as const

export const reserveAddressSchema = {
  tags: ['reserves'],
  summary: 'The reserve address: key-path-only P2TR of the FROST group key, with the DKG certificate',
  description:
    'groupKey is the taproot output key Q (x-only): BIP-340 signatures of the reserve verify against it. internalKey is P, the DKG group key before the BIP-341 tweak (no script tree): Q = P + int(hashTapTweak(x(P)))·G. The certificate holds every guardian\'s signature over digest = reserveKeyDigest(genesis hash, key).',
  response: {
    200: {
      type: 'object',
      properties: {
        address: { type: 'string' },
        network: { type: 'string', enum: ['mainnet', 'testnet', 'regtest'] },
        groupKey: HEX(32),
        internalKey: HEX(33),
        threshold: { type: 'integer', minimum: 1 },
        guardians: { type: 'integer', minimum: 1 },
        verifyingShares: { type: 'array', items: HEX(33) },
        dkgCertificate: {
          type: 'object',
          properties: {
            sessionId: HEX(32),
            digest: HEX(32),
            signatures: {
              type: 'array',
              items: {
                type: 'object',
                properties: { guardian: { type: 'string' }, signature: HEX(65) },
                required: ['guardian', 'signature'],
                additionalProperties: false,
              },
            },
          },
          required: ['sessionId', 'digest', 'signatures'],
          additionalProperties: false,
        },
        committedHeight: { type: 'integer', minimum: 1 },
        committedAt: { type: 'string', format: 'date-time' },
      },
      required: ['address', 'network', 'groupKey', 'internalKey', 'threshold', 'guardians', 'verifyingShares', 'dkgCertificate', 'committedHeight', 'committedAt'],
      additionalProperties: false,
    },
    404: errorSchema,
    500: errorSchema,
  },
} as const

const dkgStatusViewSchema = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: ['idle', 'running', 'complete', 'aborted'] },
    attempt: { type: 'integer', minimum: 0 },
    sessionId: nullable('string'),
    phase: { type: 'string' },
    round1: { type: 'integer', minimum: 0 },
    shares: { type: 'integer', minimum: 0 },
    signatures: { type: 'integer', minimum: 0 },
    culprit: nullable('string'),
    reason: nullable('string'),
  },
  required: ['state', 'attempt', 'sessionId', 'phase', 'round1', 'shares', 'signatures', 'culprit', 'reason'],
  additionalProperties: false,
} as const

export const dkgStatusSchema = {
  tags: ['reserves'],
  summary: "This guardian's view of the distributed key generation",
  response: { 200: dkgStatusViewSchema, 500: errorSchema },
} as const

const psbtViewSchema = {
  type: 'object',
  properties: {
    id: HEX(32),
    psbt: { type: 'string', description: 'The proposed PSBT, base64' },
    inputs: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'Inputs the reserve signs (key path)' },
    proposer: { type: 'string' },
    createdHeight: { type: 'integer', minimum: 1 },
    approvedAt: isoOrNull,
    signedPsbt: { ...nullable('string'), description: 'The PSBT with the reserve signatures, base64; null until signed' },
    signers: { type: 'array', items: { type: 'string' } },
    signedAt: isoOrNull,
  },
  required: ['id', 'psbt', 'inputs', 'proposer', 'createdHeight', 'approvedAt', 'signedPsbt', 'signers', 'signedAt'],
  additionalProperties: false,
} as const

export const psbtSchema = {
  tags: ['reserves'],
  summary: 'A PSBT spending reserve outputs: proposed, approved by reserve_spend votes, signed by the reserve',
  params: { type: 'object', properties: { id: HEX(32) }, required: ['id'] },
  response: { 200: psbtViewSchema, 400: errorSchema, 404: errorSchema, 500: errorSchema },
} as const

const adminSecurity = [{ adminToken: [] }]
const adminErrors = { 401: errorSchema, 403: errorSchema, 500: errorSchema, 503: errorSchema } as const
const submittedSchema = {
  type: 'object',
  properties: { hash: HEX(32), status: { type: 'string', enum: ['accepted'] } },
  required: ['hash', 'status'],
  additionalProperties: false,
} as const

export const adminDkgSchema = {
  tags: ['admin'],
  summary: 'Start a new DKG attempt (the guardians without a committed reserve key follow)',
  security: adminSecurity,
  response: { 202: dkgStatusViewSchema, 409: errorSchema, ...adminErrors },
} as const

export const adminPsbtSchema = {
  tags: ['admin'],
  summary: "Propose a PSBT spending reserve outputs (this guardian's signed PsbtProposal transaction)",
  security: adminSecurity,
  body: {
    type: 'object',
    properties: { psbt: { type: 'string', minLength: 1, maxLength: 16384, description: 'PSBT, base64' } },
    required: ['psbt'],
    additionalProperties: false,
  },
  response: { 202: submittedSchema, 400: errorSchema, ...adminErrors },
} as const

export const adminVoteSchema = {
  tags: ['admin'],
  summary: "This guardian's vote on an operation (e.g. reserve_spend of a PSBT id)",
  security: adminSecurity,
  params: {
    type: 'object',
    properties: { operation: { type: 'string', enum: [...OPERATIONS] }, operationId: { type: 'string', minLength: 1, maxLength: MAX_OPERATION_ID_BYTES, pattern: '^[A-Za-z0-9:._-]+$' } },
    required: ['operation', 'operationId'],
  },
  body: {
    type: 'object',
    properties: { decision: { type: 'string', enum: ['approve', 'reject'] } },
    required: ['decision'],
    additionalProperties: false,
  },
  response: { 202: submittedSchema, 400: errorSchema, ...adminErrors },
} as const

const HEX64 = '^[0-9a-f]{64}$'

const oracleAnnouncementViewSchema = {
  type: 'object',
  properties: {
    oracle: { type: 'string', description: 'Genesis name of the oracle' },
    publicKey: { type: 'string', pattern: HEX64, description: 'BIP-340 x-only oracle key' },
    nonce: { type: 'string', pattern: HEX64, description: 'The announced nonce R (x-only)' },
    announcement: { type: 'string', pattern: '^([0-9a-f]{2})+$', description: 'dlcspecs oracle_announcement, hex' },
    height: { type: 'integer' },
    timeMs: { type: 'integer' },
  },
  required: ['oracle', 'publicKey', 'nonce', 'announcement', 'height', 'timeMs'],
  additionalProperties: false,
} as const

const oracleAttestationViewSchema = {
  type: 'object',
  properties: {
    oracle: { type: 'string' },
    outcome: { type: 'string' },
    signature: { type: 'string', pattern: '^[0-9a-f]{128}$', description: 'BIP-340 signature (R ‖ s) over the outcome' },
    attestation: { type: 'string', pattern: '^([0-9a-f]{2})+$', description: 'dlcspecs oracle_attestation, hex' },
    height: { type: 'integer' },
    timeMs: { type: 'integer' },
  },
  required: ['oracle', 'outcome', 'signature', 'attestation', 'height', 'timeMs'],
  additionalProperties: false,
} as const

const oracleEventViewSchema = {
  type: 'object',
  properties: {
    key: { type: 'string', pattern: HEX64, description: 'hex keccak256 of the UTF-8 event id' },
    eventId: { type: 'string' },
    outcomes: { type: 'array', items: { type: 'string' } },
    maturity: { type: 'integer', description: 'event_maturity_epoch (unix seconds)' },
    announcements: { type: 'array', items: oracleAnnouncementViewSchema },
    attestations: { type: 'array', items: oracleAttestationViewSchema },
    equivocations: { type: 'array', items: oracleAttestationViewSchema, description: 'Second attestations of another outcome by one oracle (evidence; that oracle no longer counts)' },
    outcome: { ...nullable('string'), description: 'The outcome the oracle threshold attested; null until then' },
    consensusReached: { type: 'boolean' },
    consensusHeight: nullable('integer'),
    consensusAtMs: nullable('integer'),
    createdHeight: { type: 'integer' },
    createdAtMs: { type: 'integer' },
  },
  required: ['key', 'eventId', 'outcomes', 'maturity', 'announcements', 'attestations', 'equivocations', 'outcome', 'consensusReached', 'consensusHeight', 'consensusAtMs', 'createdHeight', 'createdAtMs'],
  additionalProperties: false,
} as const

export const oracleEventsSchema = {
  tags: ['oracles'],
  summary: 'Oracle events (dlcspecs enum events), newest first, paged',
  querystring: {
    type: 'object',
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
      cursor: { type: 'string', pattern: '^[0-9]{16}/[0-9a-f]{64}$', description: 'nextCursor of the previous page' },
    },
    additionalProperties: false,
  },
  response: { 200: pageOf(oracleEventViewSchema), 400: errorSchema, 500: errorSchema },
} as const

export const oracleEventSchema = {
  tags: ['oracles'],
  summary: 'One oracle event by its dlcspecs event id: announcements, attestations, and whether the oracle threshold agreed',
  params: {
    type: 'object',
    properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'The event id (URL-encoded)' } },
    required: ['id'],
  },
  response: { 200: oracleEventViewSchema, 400: errorSchema, 404: errorSchema, 500: errorSchema },
} as const
