import { secp256k1 } from '@noble/curves/secp256k1.js'
import { describe, expect, it } from 'vitest'
import { encodeCanonical } from './codec.js'
import {
  decodeFrostRequest,
  decodeFrostResponse,
  encodeFrostRequest,
  encodeFrostResponse,
  frostError,
  MAX_FROST_REQUEST_BYTES,
  MAX_FROST_RESPONSE_BYTES,
  MAX_SESSION_JOBS,
  MAX_SESSION_MESSAGES,
  signingJobKey,
  type FrostCommitRequest,
  type FrostRequest,
  type FrostResponse,
  type FrostSignRequest,
} from './frost-signing.js'
import { MAX_GUARDIANS } from './genesis.js'
import { codeOf } from './test-helpers/expect-code.js'

const raw = (fields: unknown[]): Uint8Array => encodeCanonical(fields as never)
const point = (k: number): Uint8Array => secp256k1.Point.BASE.multiply(BigInt(k)).toBytes(true)
/** A 33-byte 02-prefixed encoding whose x is not on the curve. */
const offCurve = ((): Uint8Array => {
  for (let x = 1; ; x++) {
    const bytes = new Uint8Array(33)
    bytes[0] = 2
    bytes[32] = x
    try {
      secp256k1.Point.fromBytes(bytes)
    } catch {
      return bytes
    }
  }
})()

const JOB_A = { kind: 'validation' as const, id: 'a1'.repeat(32) }
const JOB_B = { kind: 'psbt' as const, id: 'b2'.repeat(32) }
const KEY = new Uint8Array(32).fill(9)
const SESSION = new Uint8Array(32).fill(7)

const COMMIT: FrostCommitRequest = { type: 'commit', outputKey: KEY, attempt: 3, jobs: [JOB_A, JOB_B] }
const SIGN: FrostSignRequest = {
  type: 'sign',
  outputKey: KEY,
  sessionId: SESSION,
  attempt: 3,
  jobs: [JOB_A, JOB_B],
  commitments: [
    [
      { signer: 0, hiding: point(1), binding: point(2) },
      { signer: 4, hiding: point(3), binding: point(4) },
    ],
    [
      { signer: 0, hiding: point(5), binding: point(6) },
      { signer: 4, hiding: point(7), binding: point(8) },
    ],
  ],
}

describe('frost-sign/1 requests', () => {
  it('round-trip commit, sign and release', () => {
    for (const request of [COMMIT, SIGN, { type: 'release', sessionId: SESSION }] as FrostRequest[]) {
      expect(decodeFrostRequest(encodeFrostRequest(request))).toEqual(request)
    }
  })

  it('keys jobs by kind and id', () => {
    expect(signingJobKey(JOB_A)).toBe(`validation:${JOB_A.id}`)
  })

  it('rejects malformed commit requests', () => {
    const commit = (patch: Record<number, unknown>): Uint8Array => {
      const f: unknown[] = [1, 0, KEY, 3, [[0, JOB_A.id]]]
      for (const [i, v] of Object.entries(patch)) f[Number(i)] = v
      return raw(f)
    }
    expect(decodeFrostRequest(commit({}))).toEqual({ type: 'commit', outputKey: KEY, attempt: 3, jobs: [JOB_A] })
    expect(codeOf(() => decodeFrostRequest(commit({ 0: 2 })))).toBe('unsupported_version')
    expect(codeOf(() => decodeFrostRequest(commit({ 1: 3 })))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(commit({ 2: new Uint8Array(33) })))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(commit({ 3: -1 })))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(commit({ 3: 2 ** 32 })))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(commit({ 4: [] })))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(commit({ 4: [[2, JOB_A.id]] })))).toBe('malformed') // unknown kind
    expect(codeOf(() => decodeFrostRequest(commit({ 4: [[0, JOB_A.id.toUpperCase()]] })))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(commit({ 4: [[0, JOB_A.id], [0, JOB_A.id]] })))).toBe('malformed') // duplicate
    expect(decodeFrostRequest(commit({ 4: [[0, JOB_A.id], [1, JOB_A.id]] }))).toMatchObject({ jobs: [JOB_A, { kind: 'psbt', id: JOB_A.id }] })
    const many = Array.from({ length: MAX_SESSION_JOBS + 1 }, (_, i) => [0, i.toString(16).padStart(64, '0')])
    expect(codeOf(() => decodeFrostRequest(commit({ 4: many })))).toBe('malformed')
    expect(decodeFrostRequest(commit({ 4: many.slice(1) }))).toMatchObject({ type: 'commit' })
    expect(codeOf(() => decodeFrostRequest(raw([1, 0, KEY, 3, [[0, JOB_A.id]], 0])))).toBe('malformed') // extra field
    expect(codeOf(() => decodeFrostRequest(raw([1])))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(new Uint8Array([0xff, 0x00])))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(new Uint8Array([0x82, 0x18, 0x01, 0x00])))).toBe('non_canonical')
    expect(codeOf(() => decodeFrostRequest(new Uint8Array(MAX_FROST_REQUEST_BYTES + 1)))).toBe('oversize')
  })

  it('rejects malformed commitment lists: sizes, order, points off the curve', () => {
    const sign = (lists: unknown): Uint8Array => raw([1, 1, KEY, SESSION, 3, [[0, JOB_A.id]], lists])
    const entry = (signer: number, hiding: unknown = point(1), binding: unknown = point(2)): unknown[] => [signer, hiding, binding]
    expect(decodeFrostRequest(sign([[entry(0), entry(2)]]))).toMatchObject({ type: 'sign', commitments: [[{ signer: 0 }, { signer: 2 }]] })
    expect(codeOf(() => decodeFrostRequest(sign([])))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(sign([[]])))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(sign([[entry(2), entry(0)]])))).toBe('malformed') // not ascending
    expect(codeOf(() => decodeFrostRequest(sign([[entry(1), entry(1)]])))).toBe('malformed') // duplicate signer
    expect(codeOf(() => decodeFrostRequest(sign([[entry(MAX_GUARDIANS)]])))).toBe('malformed')
    // with the guardian count known, unknown signers are refused before any point is checked
    expect(decodeFrostRequest(sign([[entry(4)]]), { guardians: 5 })).toMatchObject({ commitments: [[{ signer: 4 }]] })
    expect(codeOf(() => decodeFrostRequest(sign([[entry(5, offCurve)]]), { guardians: 5 }))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(sign([[0, 1, 2, 3, 4, 5].map((i) => entry(i))]), { guardians: 5 }))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(sign([[entry(0, offCurve)]])))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(sign([[entry(0, point(1), point(2).subarray(1))]])))).toBe('malformed')
    const uncompressedPrefix = point(1).slice()
    uncompressedPrefix[0] = 4
    expect(codeOf(() => decodeFrostRequest(sign([[entry(0, uncompressedPrefix)]])))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(sign([[[0, point(1)]]])))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(sign(Array.from({ length: MAX_SESSION_MESSAGES + 1 }, () => [entry(0)]))))).toBe('malformed')
    expect(codeOf(() => decodeFrostRequest(raw([1, 1, KEY, new Uint8Array(31), 3, [[0, JOB_A.id]], [[entry(0)]]])))).toBe('malformed')
  })

  it('fits the largest sign request in the request limit', () => {
    const jobs = Array.from({ length: MAX_SESSION_JOBS }, (_, i) => ({ kind: 'psbt' as const, id: i.toString(16).padStart(64, 'f') }))
    const list = Array.from({ length: MAX_GUARDIANS }, (_, signer) => ({ signer, hiding: point(signer + 1), binding: point(signer + 2) }))
    const bytes = encodeFrostRequest({ ...SIGN, attempt: 2 ** 32 - 1, jobs, commitments: Array.from({ length: MAX_SESSION_MESSAGES }, () => list) })
    expect(bytes.length).toBeLessThanOrEqual(MAX_FROST_REQUEST_BYTES)
    expect(decodeFrostRequest(bytes)).toMatchObject({ type: 'sign', attempt: 2 ** 32 - 1 })
  })
})

describe('frost-sign/1 responses', () => {
  it('round-trip commitments, shares, released and errors', () => {
    const responses: FrostResponse[] = [
      { type: 'commitments', sessionId: SESSION, commitments: [{ hiding: point(1), binding: point(2) }] },
      { type: 'shares', shares: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)] },
      { type: 'released' },
      { type: 'error', code: 'not_coordinator', message: 'guardian-2 does not coordinate attempt 0 of validation:…' },
    ]
    for (const response of responses) expect(decodeFrostResponse(encodeFrostResponse(response))).toEqual(response)
  })

  it('fits the largest commit response in the response limit', () => {
    const commitments = Array.from({ length: MAX_SESSION_MESSAGES }, (_, i) => ({ hiding: point(i + 1), binding: point(i + 2) }))
    expect(encodeFrostResponse({ type: 'commitments', sessionId: SESSION, commitments }).length).toBeLessThanOrEqual(MAX_FROST_RESPONSE_BYTES)
  })

  it('rejects malformed responses', () => {
    expect(codeOf(() => decodeFrostResponse(raw([1, 0, SESSION, []])))).toBe('malformed')
    expect(codeOf(() => decodeFrostResponse(raw([1, 0, SESSION, [[point(1), offCurve]]])))).toBe('malformed')
    expect(codeOf(() => decodeFrostResponse(raw([1, 0, SESSION, [[point(1)]]])))).toBe('malformed')
    expect(codeOf(() => decodeFrostResponse(raw([1, 1, [new Uint8Array(31)]])))).toBe('malformed')
    expect(codeOf(() => decodeFrostResponse(raw([1, 1, []])))).toBe('malformed')
    expect(codeOf(() => decodeFrostResponse(raw([1, 3, 'teapot', 'no'])))).toBe('malformed')
    expect(codeOf(() => decodeFrostResponse(raw([1, 3, 'busy', 'x'.repeat(257)])))).toBe('oversize')
    expect(codeOf(() => decodeFrostResponse(raw([1, 2, 0])))).toBe('malformed')
    expect(codeOf(() => decodeFrostResponse(raw([1, 4])))).toBe('malformed')
  })

  it('cuts long error messages to the limit', () => {
    const error = frostError('bad_request', 'é'.repeat(200))
    expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(256)
    expect(decodeFrostResponse(encodeFrostResponse(error))).toEqual(error)
  })
})
