import { lpStream } from '@libp2p/utils'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { Stream } from '@libp2p/interface'
import type { Logger } from 'pino'
import {
  decodeBlock,
  decodeCertificate,
  decodeSyncRequest,
  decodeSyncResponse,
  encodeBlock,
  encodeCertificate,
  encodeSyncRequest,
  encodeSyncResponse,
  MAX_SYNC_BLOCKS,
  MAX_SYNC_RESPONSE_BYTES,
  type Block,
  type Certificate,
  type SyncedBlock,
} from '../../protocol/index.js'
import type { GuardianNetwork } from '../network/index.js'

/** Where committed blocks come from (the application's block store). */
export interface BlockSource {
  readonly height: number
  getBlock(height: number): Promise<{ block: Block; certificate: Certificate } | undefined>
}

export interface FetchedBlocks {
  readonly peerHeight: number
  readonly blocks: ReadonlyArray<{ readonly block: Block; readonly certificate: Certificate }>
}

const REQUEST_TIMEOUT_MS = 10_000

export function syncProtocol(networkId: Uint8Array): string {
  return `/ubtc/${bytesToHex(networkId.subarray(0, 8))}/sync/1`
}

/** Answers peers' block requests from committed blocks, within the response size limit. */
export async function serveBlocks(network: GuardianNetwork, protocol: string, source: BlockSource, logger: Logger): Promise<void> {
  await network.serve(protocol, async (stream: Stream) => {
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_RESPONSE_BYTES })
      const request = decodeSyncRequest((await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray())
      const blocks: SyncedBlock[] = []
      let bytes = 0
      const last = Math.min(source.height, request.fromHeight + Math.min(request.maxBlocks, MAX_SYNC_BLOCKS) - 1)
      for (let h = request.fromHeight; h <= last; h++) {
        const entry = await source.getBlock(h)
        if (entry === undefined) break
        const synced = { block: encodeBlock(entry.block), certificate: encodeCertificate(entry.certificate) }
        bytes += synced.block.length + synced.certificate.length + 16
        if (bytes > MAX_SYNC_RESPONSE_BYTES - 1024 && blocks.length > 0) break
        blocks.push(synced)
      }
      await lp.write(encodeSyncResponse({ height: source.height, blocks }), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      await stream.close()
    } catch (err) {
      logger.debug({ err }, 'sync request failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  })
}

/**
 * Asks `peerId` for blocks from `fromHeight`. Only decodes: the caller verifies each
 * certificate against the guardian set before applying anything.
 */
export async function fetchBlocks(network: GuardianNetwork, protocol: string, peerId: string, fromHeight: number, signal: AbortSignal): Promise<FetchedBlocks> {
  const timeout = AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
  const stream = await network.openStream(peerId, protocol, timeout)
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_RESPONSE_BYTES })
    await lp.write(encodeSyncRequest({ fromHeight, maxBlocks: MAX_SYNC_BLOCKS }), { signal: timeout })
    const response = decodeSyncResponse((await lp.read({ signal: timeout })).subarray())
    await stream.close()
    return {
      peerHeight: response.height,
      blocks: response.blocks.map((b) => ({ block: decodeBlock(b.block), certificate: decodeCertificate(b.certificate) })),
    }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}
