import { decodeCanonical, encodeCanonical, readBytes, readTuple, readUint } from './codec.js'
import { ProtocolError } from './errors.js'
import { MAX_HEIGHT } from './consensus-messages.js'

/** Block sync: a node that is behind asks a peer for committed blocks with their certificates. */
export interface SyncRequest {
  readonly fromHeight: number
  readonly maxBlocks: number
}

export interface SyncedBlock {
  /** encodeBlock bytes */
  readonly block: Uint8Array
  /** encodeCertificate bytes */
  readonly certificate: Uint8Array
}

export interface SyncResponse {
  /** The server's committed height, so the client knows how far it still is. */
  readonly height: number
  readonly blocks: readonly SyncedBlock[]
}

export const MAX_SYNC_BLOCKS = 64
export const MAX_SYNC_RESPONSE_BYTES = 8 * 1024 * 1024
const VERSION = 1

export function encodeSyncRequest(r: SyncRequest): Uint8Array {
  return encodeCanonical([VERSION, r.fromHeight, r.maxBlocks])
}

export function decodeSyncRequest(bytes: Uint8Array): SyncRequest {
  const [from, max] = readTuple(decodeCanonical(bytes, 64, 'sync request'), VERSION, 2, 'sync request')
  const fromHeight = readUint(from, MAX_HEIGHT, 'sync.fromHeight')
  if (fromHeight < 1) throw new ProtocolError('malformed', 'sync.fromHeight: heights start at 1')
  return { fromHeight, maxBlocks: Math.max(1, readUint(max, MAX_SYNC_BLOCKS, 'sync.maxBlocks')) }
}

export function encodeSyncResponse(r: SyncResponse): Uint8Array {
  return encodeCanonical([VERSION, r.height, r.blocks.map((b) => [b.block, b.certificate])])
}

export function decodeSyncResponse(bytes: Uint8Array): SyncResponse {
  const [height, blocks] = readTuple(decodeCanonical(bytes, MAX_SYNC_RESPONSE_BYTES, 'sync response'), VERSION, 2, 'sync response')
  if (!Array.isArray(blocks) || blocks.length > MAX_SYNC_BLOCKS) throw new ProtocolError('malformed', `sync.blocks: at most ${MAX_SYNC_BLOCKS}`)
  return {
    height: readUint(height, MAX_HEIGHT, 'sync.height'),
    blocks: blocks.map((entry: unknown, i) => {
      if (!Array.isArray(entry) || entry.length !== 2) throw new ProtocolError('malformed', `sync.blocks[${i}]: expected [block, certificate]`)
      return { block: readBytes(entry[0], `sync.blocks[${i}].block`, {}), certificate: readBytes(entry[1], `sync.blocks[${i}].certificate`, {}) }
    }),
  }
}
