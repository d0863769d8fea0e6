import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'

/** One guardian peer as seen from this node. */
export interface PeerStatusView {
  readonly guardian: string
  readonly peerId: string
  readonly connected: boolean
  /** Milliseconds since the last heartbeat received from this peer; null if none yet. */
  readonly lastHeartbeatMs: number | null
  /** ISO-8601 time of the last heartbeat received; null if none yet. */
  readonly lastHeartbeatAt: string | null
  readonly height: number | null
  readonly version: string | null
}

/** What GET /v1/status returns, field for field. */
export interface StatusView {
  readonly guardian: string
  readonly peerId: string
  readonly version: string
  readonly network: string
  readonly guardianSetIndex: number
  readonly height: number
  readonly peers: readonly PeerStatusView[]
  readonly uptimeS: number
}

export interface Readiness {
  readonly ready: boolean
  readonly storeOpen: boolean
  readonly connectedGuardians: number
  readonly requiredGuardians: number
}

/** The API's only view of the node: implemented by the node, faked with plain data in tests. */
export interface NodeStatusSource {
  status(): StatusView
  readiness(): Readiness
}

export interface ApiServerOptions {
  readonly host: string
  /** 0 picks a free port (tests); listen() resolves the actual URL. */
  readonly port: number
  readonly logger: Logger
  /** Served at /metrics; the API registers its own HTTP metrics here too. */
  readonly registry: Registry
  readonly source: NodeStatusSource
  /** Node version, used as the OpenAPI document version. */
  readonly version: string
}

export interface ApiServer {
  readonly fastify: FastifyInstance
  /** Starts listening; resolves the base URL, e.g. http://127.0.0.1:8500. */
  listen(): Promise<string>
  /** Stops the server; safe to call more than once. */
  close(): Promise<void>
}

/** Body of every error response. */
export interface ErrorBody {
  readonly error: string
  readonly message: string
}
