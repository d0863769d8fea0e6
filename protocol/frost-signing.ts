import { secp256k1 } from '@noble/curves/secp256k1.js'
import { decodeCanonical, encodeCanonical, readBytes, readString, readTuple, readUint, type CborValue } from './codec.js'
import { JOB_ID, POINT_BYTES, SESSION_ID_BYTES, SIGNING_JOB_KINDS, X_ONLY_BYTES, type SigningJobRef } from './custody.js'
import { ProtocolError } from './errors.js'
import { MAX_GUARDIANS } from './genesis.js'
import { MAX_JOB_SIGNATURES } from './tx.js'

/**
 * `frost-sign/1`: the two FROST rounds between a signing coordinator and each signer, one
 * request and one response per libp2p stream (see node/network/request-response.ts; the stream
 * is authenticated, so the signer knows which guardian asks).
 *
 *   commit   → commitments | error   round one: the signer draws one fresh nonce pair per message
 *   sign     → shares | error        round two: the signer's share of each message
 *   release  → released              the coordinator did not use a signer's commitments
 *
 * Messages are canonical CBOR arrays `[version, type, ...]`. Signers are named on the wire by
 * their guardian index (their FROST identifier is index + 1, see `guardianIdentifier`).
 * A session id is chosen by the signer (32 random bytes) when it answers a commit request; it
 * is the signer's own handle on the nonces it keeps in memory, means nothing to other
 * signers, and is echoed back by the coordinator in its sign or release request.
 * The messages themselves (32-byte sighashes) never travel: every signer computes them from
 * its own committed state. Decoding checks sizes, counts, orders and that every nonce
 * commitment is a point of secp256k1.
 */

export const FROST_SIGN_PROTOCOL_NAME = 'frost-sign/1'
/** Most jobs one session signs. */
export const MAX_SESSION_JOBS = 16
/** Most messages (sum over the jobs) one session signs: one PSBT job with the most inputs. */
export const MAX_SESSION_MESSAGES = MAX_JOB_SIGNATURES
export const SIGNATURE_SHARE_BYTES = 32
export const MAX_SIGNING_ATTEMPT = 0xffff_ffff
export const MAX_FROST_ERROR_MESSAGE_BYTES = 256

/** CBOR size of one commitment list entry [index, hiding, binding] (upper bound). */
const ENTRY_BYTES = 1 + 2 + 2 * (2 + POINT_BYTES)
/** Largest request: a sign request with the longest commitment lists (≈ 300 KB). */
export const MAX_FROST_REQUEST_BYTES = 256 + MAX_SESSION_JOBS * 72 + MAX_SESSION_MESSAGES * (3 + MAX_GUARDIANS * ENTRY_BYTES)
/** Largest response: a commit response with a commitment pair per message (≈ 5 KB). */
export const MAX_FROST_RESPONSE_BYTES = 16 * 1024

export const FROST_SIGN_ERROR_CODES = [
  /** malformed, inconsistent or unacceptable request (bad commitment list, unknown signer …) */
  'bad_request',
  /** the signer's committed state does not list the job as awaiting a signature (or its messages differ) */
  'not_signable',
  /** the signer has no key share (yet) */
  'no_key',
  /** the request names another reserve key than the signer's */
  'wrong_key',
  /** the requester is not the designated coordinator of this attempt of every job */
  'not_coordinator',
  /** the attempt is not the current one by the signer's clock (one attempt either side is tolerated) */
  'wrong_attempt',
  /** the signer holds too many open sessions */
  'busy',
  /** no such session: never opened, already used, expired, or lost in a restart */
  'unknown_session',
  /** the signing service is stopping or stopped */
  'unavailable',
] as const
export type FrostSignErrorCode = (typeof FROST_SIGN_ERROR_CODES)[number]

/** A signer's public nonce pair for one message (compressed points). */
export interface NonceCommitmentPair {
  readonly hiding: Uint8Array
  readonly binding: Uint8Array
}

/** One entry of a commitment list: a chosen signer's nonce pair for one message. */
export interface SignerCommitment extends NonceCommitmentPair {
  /** Guardian index (FROST identifier − 1). */
  readonly signer: number
}

export interface FrostCommitRequest {
  readonly type: 'commit'
  /** x-only taproot output key the coordinator signs for: a signer with another key refuses. */
  readonly outputKey: Uint8Array
  readonly attempt: number
  /** 1..16 distinct jobs; the session's messages are theirs, in this order. */
  readonly jobs: readonly SigningJobRef[]
}

export interface FrostSignRequest {
  readonly type: 'sign'
  readonly outputKey: Uint8Array
  /** The id this signer returned with its commitments. */
  readonly sessionId: Uint8Array
  readonly attempt: number
  readonly jobs: readonly SigningJobRef[]
  /** Per message (jobs in order, each job's messages in order): the chosen signers' commitments, by ascending guardian index. */
  readonly commitments: readonly (readonly SignerCommitment[])[]
}

export interface FrostReleaseRequest {
  readonly type: 'release'
  readonly sessionId: Uint8Array
}

export type FrostRequest = FrostCommitRequest | FrostSignRequest | FrostReleaseRequest

export interface FrostCommitResponse {
  readonly type: 'commitments'
  readonly sessionId: Uint8Array
  /** One pair per message of the session, in order. */
  readonly commitments: readonly NonceCommitmentPair[]
}

export interface FrostSignResponse {
  readonly type: 'shares'
  /** One 32-byte signature share per message of the session, in order. */
  readonly shares: readonly Uint8Array[]
}

export interface FrostReleaseResponse {
  readonly type: 'released'
}

export interface FrostErrorResponse {
  readonly type: 'error'
  readonly code: FrostSignErrorCode
  readonly message: string
}

export type FrostResponse = FrostCommitResponse | FrostSignResponse | FrostReleaseResponse | FrostErrorResponse

const VERSION = 1
const REQUEST_TYPES = ['commit', 'sign', 'release'] as const
const RESPONSE_TYPES = ['commitments', 'shares', 'released', 'error'] as const

/** The key of a job in maps and sets: `kind:id`. */
export function signingJobKey(job: SigningJobRef): string {
  return `${job.kind}:${job.id}`
}

function jobsValue(jobs: readonly SigningJobRef[]): CborValue[] {
  return jobs.map((job) => [SIGNING_JOB_KINDS.indexOf(job.kind), job.id])
}

export function encodeFrostRequest(request: FrostRequest): Uint8Array {
  switch (request.type) {
    case 'commit':
      return encodeCanonical([VERSION, 0, request.outputKey, request.attempt, jobsValue(request.jobs)])
    case 'sign':
      return encodeCanonical([
        VERSION,
        1,
        request.outputKey,
        request.sessionId,
        request.attempt,
        jobsValue(request.jobs),
        request.commitments.map((list) => list.map((c) => [c.signer, c.hiding, c.binding])),
      ])
    case 'release':
      return encodeCanonical([VERSION, 2, request.sessionId])
  }
}

export function encodeFrostResponse(response: FrostResponse): Uint8Array {
  switch (response.type) {
    case 'commitments':
      return encodeCanonical([VERSION, 0, response.sessionId, response.commitments.map((c) => [c.hiding, c.binding])])
    case 'shares':
      return encodeCanonical([VERSION, 1, [...response.shares]])
    case 'released':
      return encodeCanonical([VERSION, 2])
    case 'error':
      return encodeCanonical([VERSION, 3, response.code, response.message])
  }
}

/** Splits `[version, type, ...fields]`, checking the version and the arity of each type. */
function readTagged<T extends string>(value: unknown, types: readonly T[], arities: readonly number[], what: string): { type: T; fields: unknown[] } {
  if (!Array.isArray(value) || value.length < 2) throw new ProtocolError('malformed', `${what}: expected [version, type, ...]`)
  const tag = readUint(value[1], types.length - 1, `${what}.type`)
  const fields = readTuple([value[0], ...value.slice(2)], VERSION, arities[tag]!, `${what} (${types[tag]!})`)
  return { type: types[tag]!, fields }
}

/**
 * Decodes a request. `guardians` (default {@link MAX_GUARDIANS}) bounds the signer indexes of
 * commitment lists; the structure is checked first, points last (they are the costly part).
 */
export function decodeFrostRequest(bytes: Uint8Array, opts: { guardians?: number } = {}): FrostRequest {
  const what = 'frost request'
  const { type, fields } = readTagged(decodeCanonical(bytes, MAX_FROST_REQUEST_BYTES, what), REQUEST_TYPES, [3, 5, 1], what)
  if (type === 'release') return { type, sessionId: readBytes(fields[0], `${what}.sessionId`, { exact: SESSION_ID_BYTES }) }
  if (type === 'commit') {
    const [outputKey, attempt, jobs] = fields
    return { type, outputKey: readOutputKey(outputKey, what), attempt: readAttempt(attempt, what), jobs: readJobs(jobs, what) }
  }
  const [outputKey, sessionId, attempt, jobs, lists] = fields
  return {
    type,
    outputKey: readOutputKey(outputKey, what),
    sessionId: readBytes(sessionId, `${what}.sessionId`, { exact: SESSION_ID_BYTES }),
    attempt: readAttempt(attempt, what),
    jobs: readJobs(jobs, what),
    commitments: readCommitmentLists(lists, Math.min(opts.guardians ?? MAX_GUARDIANS, MAX_GUARDIANS), what),
  }
}

export function decodeFrostResponse(bytes: Uint8Array): FrostResponse {
  const what = 'frost response'
  const { type, fields } = readTagged(decodeCanonical(bytes, MAX_FROST_RESPONSE_BYTES, what), RESPONSE_TYPES, [2, 1, 0, 2], what)
  switch (type) {
    case 'commitments': {
      const [sessionId, pairs] = fields
      if (!Array.isArray(pairs) || pairs.length < 1 || pairs.length > MAX_SESSION_MESSAGES) {
        throw new ProtocolError('malformed', `${what}.commitments: expected 1..${MAX_SESSION_MESSAGES} nonce commitment pairs`)
      }
      return {
        type,
        sessionId: readBytes(sessionId, `${what}.sessionId`, { exact: SESSION_ID_BYTES }),
        commitments: pairs.map((pair: unknown, i) => {
          if (!Array.isArray(pair) || pair.length !== 2) throw new ProtocolError('malformed', `${what}.commitments[${i}]: expected [hiding, binding]`)
          return { hiding: readPoint(pair[0], `${what}.commitments[${i}].hiding`), binding: readPoint(pair[1], `${what}.commitments[${i}].binding`) }
        }),
      }
    }
    case 'shares': {
      const [shares] = fields
      if (!Array.isArray(shares) || shares.length < 1 || shares.length > MAX_SESSION_MESSAGES) {
        throw new ProtocolError('malformed', `${what}.shares: expected 1..${MAX_SESSION_MESSAGES} signature shares`)
      }
      return { type, shares: shares.map((s: unknown, i) => readBytes(s, `${what}.shares[${i}]`, { exact: SIGNATURE_SHARE_BYTES })) }
    }
    case 'released':
      return { type }
    case 'error': {
      const [code, message] = fields
      const c = readString(code, `${what}.code`, 32)
      if (!(FROST_SIGN_ERROR_CODES as readonly string[]).includes(c)) throw new ProtocolError('malformed', `${what}.code: unknown error code`)
      return { type, code: c as FrostSignErrorCode, message: readString(message, `${what}.message`, MAX_FROST_ERROR_MESSAGE_BYTES) }
    }
  }
}

/** An error response whose message fits the limit (cut at a character boundary). */
export function frostError(code: FrostSignErrorCode, message: string): FrostErrorResponse {
  let text = message
  while (Buffer.byteLength(text, 'utf8') > MAX_FROST_ERROR_MESSAGE_BYTES) text = text.slice(0, -1)
  return { type: 'error', code, message: text }
}

function readOutputKey(value: unknown, what: string): Uint8Array {
  return readBytes(value, `${what}.outputKey`, { exact: X_ONLY_BYTES })
}

function readAttempt(value: unknown, what: string): number {
  return readUint(value, MAX_SIGNING_ATTEMPT, `${what}.attempt`)
}

function readJobs(value: unknown, what: string): SigningJobRef[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_SESSION_JOBS) throw new ProtocolError('malformed', `${what}.jobs: expected 1..${MAX_SESSION_JOBS} jobs`)
  const seen = new Set<string>()
  return value.map((entry: unknown, i) => {
    const field = `${what}.jobs[${i}]`
    if (!Array.isArray(entry) || entry.length !== 2) throw new ProtocolError('malformed', `${field}: expected [kind, id]`)
    const id = readString(entry[1], `${field}.id`, 64)
    if (!JOB_ID.test(id)) throw new ProtocolError('malformed', `${field}.id: expected 64 lower-case hex characters`)
    const job: SigningJobRef = { kind: SIGNING_JOB_KINDS[readUint(entry[0], SIGNING_JOB_KINDS.length - 1, `${field}.kind`)]!, id }
    const key = signingJobKey(job)
    if (seen.has(key)) throw new ProtocolError('malformed', `${field}: duplicate job ${key}`)
    seen.add(key)
    return job
  })
}

function readCommitmentLists(value: unknown, guardians: number, what: string): SignerCommitment[][] {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_SESSION_MESSAGES) {
    throw new ProtocolError('malformed', `${what}.commitments: expected 1..${MAX_SESSION_MESSAGES} commitment lists`)
  }
  const lists = value.map((list: unknown, m) => {
    const field = `${what}.commitments[${m}]`
    if (!Array.isArray(list) || list.length < 1 || list.length > guardians) throw new ProtocolError('malformed', `${field}: expected 1..${guardians} signer commitments`)
    let previous = -1
    return list.map((entry: unknown, i) => {
      if (!Array.isArray(entry) || entry.length !== 3) throw new ProtocolError('malformed', `${field}[${i}]: expected [signer, hiding, binding]`)
      const signer = readUint(entry[0], guardians - 1, `${field}[${i}].signer`)
      if (signer <= previous) throw new ProtocolError('malformed', `${field}: signers must be distinct and ascending`)
      previous = signer
      return { signer, hiding: readBytes(entry[1], `${field}[${i}].hiding`, { exact: POINT_BYTES }), binding: readBytes(entry[2], `${field}[${i}].binding`, { exact: POINT_BYTES }) }
    })
  })
  lists.forEach((list, m) =>
    list.forEach((c, i) => {
      readPoint(c.hiding, `${what}.commitments[${m}][${i}].hiding`)
      readPoint(c.binding, `${what}.commitments[${m}][${i}].binding`)
    }),
  )
  return lists
}

/** A compressed secp256k1 point (33 bytes, 02/03 prefix, x on the curve). */
function readPoint(value: unknown, field: string): Uint8Array {
  const bytes = readBytes(value, field, { exact: POINT_BYTES })
  if (bytes[0] !== 0x02 && bytes[0] !== 0x03) throw new ProtocolError('malformed', `${field}: expected a compressed point`)
  try {
    secp256k1.Point.fromBytes(bytes).assertValidity()
  } catch {
    throw new ProtocolError('malformed', `${field}: not a point of secp256k1`)
  }
  return bytes
}
