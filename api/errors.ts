import { CodedError } from '../protocol/index.js'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { ErrorBody } from './types.js'

export type ApiErrorCode = 'port_in_use' | 'listen_failed'

/** Failure to start the API server. Codes are stable: callers branch on them. */
export class ApiError extends CodedError<ApiErrorCode> {}

/** An error response: status plus the `{ error, message }` body. */
export interface HttpErrorReply {
  readonly status: number
  readonly body: ErrorBody
}

// Stable snake_case codes for the 4xx statuses fastify can produce on its own.
const CLIENT_ERROR_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  411: 'length_required',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  431: 'headers_too_large',
}

export const INTERNAL_ERROR: HttpErrorReply = {
  status: 500,
  body: { error: 'internal', message: 'internal error' },
}

/**
 * Maps anything thrown during a request to a safe reply. Client errors (fastify's own
 * 4xx: validation, bad JSON, body too large, bad media type) keep their message, which
 * describes the request; everything else becomes an opaque 500 so no internals leak.
 * Returns null for 5xx so the caller knows to log the real error.
 */
export function toClientError(err: unknown): HttpErrorReply | null {
  if (typeof err !== 'object' || err === null) return null
  const { statusCode, message, validation } = err as {
    statusCode?: unknown
    message?: unknown
    validation?: unknown
  }
  const text = typeof message === 'string' ? message : 'bad request'
  if (validation !== undefined) return { status: 400, body: { error: 'bad_request', message: text } }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, body: { error: CLIENT_ERROR_CODES[statusCode] ?? 'bad_request', message: text } }
  }
  return null
}

/**
 * Replaces fastify's clientErrorHandler (requests so malformed node's HTTP parser rejects
 * them before fastify sees a request) so even these get the `{ error, message }` shape.
 */
export function writeClientError(err: Error & { code?: string }, socket: Socket): void {
  // The peer is gone: nothing to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, body]: [number, ErrorBody] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, { error: 'request_timeout', message: 'request timed out' }]
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, { error: 'headers_too_large', message: 'request headers too large' }]
        : [400, { error: 'bad_request', message: 'malformed HTTP request' }]
  const json = JSON.stringify(body)
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    )
  }
  socket.destroy(err)
}
