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

const VALIDATION_STATUSES = ['pending', 'approved', 'rejected', 'delayed', 'expired'] as const
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
    bitcoinSignature: { ...nullable('string'), description: 'Not yet produced: null' },
    bitcoinAddress: { ...nullable('string'), description: 'Not yet produced: null' },
    createdAt: { type: 'string', format: 'date-time' },
    processedAt: isoOrNull,
  },
  required: ['id', 'chain', 'txHash', 'fromAddress', 'amount', 'message', 'status', 'reason', 'observations', 'conflicting', 'bitcoinSignature', 'bitcoinAddress', 'createdAt', 'processedAt'],
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
