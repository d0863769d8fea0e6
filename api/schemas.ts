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
    height: { type: 'integer', minimum: 0 },
    peers: { type: 'array', items: peerStatusSchema },
    uptimeS: { type: 'number', minimum: 0 },
  },
  required: ['guardian', 'peerId', 'version', 'network', 'guardianSetIndex', 'height', 'peers', 'uptimeS'],
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
