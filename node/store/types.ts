/** A guardian peer this node has seen on the network. */
export interface PeerRecord {
  readonly peerId: string
  readonly guardian: string
  readonly firstSeenAt: number
  readonly lastConnectedAt: number | null
  readonly lastDisconnectedAt: number | null
}

/** The latest verified heartbeat of a guardian. */
export interface HeartbeatRecord {
  readonly guardian: string
  readonly peerId: string
  readonly version: string
  /** Decimal string: heights are 64-bit. */
  readonly height: string
  readonly peerCount: number
  /** Sender's clock. */
  readonly timestampMs: number
  /** This node's clock when it was accepted. */
  readonly receivedAt: number
}

/** How far a chain watcher has scanned (the chains module's ChainCursor, stored as is). */
export interface ChainCursorRecord {
  readonly height: number
  readonly hash: string
}

/**
 * The node's own records. Consensus extends the store with its own sublevels (blocks,
 * certificates, state), so the LevelDB instance and its sublevels stay behind this interface.
 */
export interface NodeStore {
  readonly isOpen: boolean
  open(): Promise<void>
  close(): Promise<void>
  putPeer(record: PeerRecord): Promise<void>
  getPeer(peerId: string): Promise<PeerRecord | undefined>
  listPeers(): Promise<PeerRecord[]>
  putHeartbeat(record: HeartbeatRecord): Promise<void>
  getHeartbeat(guardian: string): Promise<HeartbeatRecord | undefined>
  listHeartbeats(): Promise<HeartbeatRecord[]>
  loadCursor(chain: string): Promise<ChainCursorRecord | undefined>
  saveCursor(chain: string, cursor: ChainCursorRecord): Promise<void>
}
