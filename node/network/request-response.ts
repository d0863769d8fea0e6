import { lpStream } from '@libp2p/utils'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { Logger } from 'pino'
import type { GuardianInfo, GuardianSet } from '../../protocol/index.js'
import { NetworkError } from './errors.js'
import type { GuardianNetwork } from './guardian-network.js'

/**
 * One request, one response, over a fresh libp2p stream between two guardians. The stream is
 * noise-encrypted and authenticated: the responder knows which guardian asked (the gater admits
 * only genesis peers), so a request needs no signature of its own. Frames are length-prefixed
 * and bounded both ways.
 */

export interface RequestOptions {
  readonly signal?: AbortSignal
  /** Default 10 s. */
  readonly timeoutMs?: number
  /** Largest response accepted (default 64 KiB). */
  readonly maxResponseBytes?: number
}

/** Answers one request from guardian `from`; throwing aborts the stream (the requester sees an error). */
export type RequestHandler = (from: GuardianInfo, request: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>

export interface ServeOptions {
  /** Largest request accepted (default 64 KiB). */
  readonly maxRequestBytes?: number
  /** How long a handler may take before the stream is aborted (default 10 s). */
  readonly timeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_MAX_BYTES = 64 * 1024

/** The protocol id of `name` (e.g. 'dkg/1') scoped to the network: a stream of another network is refused. */
export function networkProtocol(networkId: Uint8Array, name: string): string {
  return `/ubtc/${bytesToHex(networkId.subarray(0, 8))}/${name}`
}

/** Serves `protocol` with `handler`; requests from peers that are not guardians are refused. */
export async function serveRequests(network: GuardianNetwork, guardians: GuardianSet, protocol: string, handler: RequestHandler, logger: Logger, opts: ServeOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  await network.serve(protocol, async (stream, connection) => {
    const from = guardians.byPeer(connection.remotePeer.toString())
    if (from === undefined) {
      stream.abort(new NetworkError('not_a_guardian', `${protocol}: ${connection.remotePeer.toString()} is not a guardian`))
      return
    }
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      const lp = lpStream(stream, { maxDataLength: opts.maxRequestBytes ?? DEFAULT_MAX_BYTES })
      const request = (await lp.read({ signal })).subarray()
      const response = await handler(from, request, signal)
      await lp.write(response, { signal })
      await stream.close()
    } catch (err) {
      logger.debug({ err, protocol, from: from.name }, 'request failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  })
}

/** Sends `request` to guardian `to` over `protocol` and returns the response bytes. */
export async function sendRequest(network: GuardianNetwork, to: GuardianInfo, protocol: string, request: Uint8Array, opts: RequestOptions = {}): Promise<Uint8Array> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout])
  const stream = await network.openStream(to.peerId, protocol, signal)
  try {
    const lp = lpStream(stream, { maxDataLength: opts.maxResponseBytes ?? DEFAULT_MAX_BYTES })
    await lp.write(request, { signal })
    const response = (await lp.read({ signal })).subarray()
    await stream.close()
    return response
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}
