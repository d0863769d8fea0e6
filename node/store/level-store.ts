import { mkdir } from 'node:fs/promises'
import { ClassicLevel } from 'classic-level'
import type { AbstractSublevel } from 'abstract-level'
import { bytesToHex } from '@noble/hashes/utils.js'
import { StoreError } from './errors.js'
import type { ChainCursorRecord, HeartbeatRecord, NodeStore, PeerRecord } from './types.js'

const SCHEMA_VERSION = 1

type Db = ClassicLevel<string, unknown>
type JsonLevel<V> = AbstractSublevel<Db, string | Buffer | Uint8Array, string, V>

/**
 * One LevelDB per node (classic-level), split into sublevels. The `meta` sublevel pins the
 * database to one network (genesis hash): a data dir from another network is refused rather
 * than mixed.
 */
export class LevelNodeStore implements NodeStore {
  private readonly db: Db
  private readonly meta: JsonLevel<string>
  private readonly peers: JsonLevel<PeerRecord>
  private readonly heartbeats: JsonLevel<HeartbeatRecord>
  private readonly cursors: JsonLevel<ChainCursorRecord>

  constructor(
    private readonly dir: string,
    private readonly networkId: Uint8Array,
  ) {
    this.db = new ClassicLevel<string, unknown>(dir, { valueEncoding: 'json' })
    this.meta = this.db.sublevel<string, string>('meta', { valueEncoding: 'json' })
    this.peers = this.db.sublevel<string, PeerRecord>('peers', { valueEncoding: 'json' })
    this.heartbeats = this.db.sublevel<string, HeartbeatRecord>('heartbeats', { valueEncoding: 'json' })
    this.cursors = this.db.sublevel<string, ChainCursorRecord>('chain-cursors', { valueEncoding: 'json' })
  }

  /** The node's LevelDB, for modules that keep their own sublevels (application state, consensus). */
  get level(): Db {
    return this.db
  }

  get isOpen(): boolean {
    return this.db.status === 'open'
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    try {
      await this.db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new StoreError('locked', `store: data dir ${this.dir} is in use by another process`, { cause: err })
      }
      throw new StoreError('open_failed', `store: cannot open data dir ${this.dir}: ${(cause as Error | undefined)?.message ?? (err as Error).message}`, { cause: err })
    }
    const network = bytesToHex(this.networkId)
    const stored = await this.meta.get('network')
    if (stored === undefined) {
      await this.db.batch(
        [
          { type: 'put', sublevel: this.meta, key: 'network', value: network },
          { type: 'put', sublevel: this.meta, key: 'schemaVersion', value: String(SCHEMA_VERSION) },
        ],
        { sync: true },
      )
    } else if (stored !== network) {
      await this.db.close()
      throw new StoreError('wrong_network', `store: data dir ${this.dir} belongs to network ${String(stored)}, not ${network} (wrong genesis?)`)
    }
  }

  async close(): Promise<void> {
    if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close()
  }

  async putPeer(record: PeerRecord): Promise<void> {
    this.assertOpen()
    await this.peers.put(record.peerId, record)
  }

  async getPeer(peerId: string): Promise<PeerRecord | undefined> {
    this.assertOpen()
    return this.peers.get(peerId)
  }

  async listPeers(): Promise<PeerRecord[]> {
    this.assertOpen()
    return this.peers.values().all()
  }

  async putHeartbeat(record: HeartbeatRecord): Promise<void> {
    this.assertOpen()
    await this.heartbeats.put(record.guardian, record)
  }

  async getHeartbeat(guardian: string): Promise<HeartbeatRecord | undefined> {
    this.assertOpen()
    return this.heartbeats.get(guardian)
  }

  async listHeartbeats(): Promise<HeartbeatRecord[]> {
    this.assertOpen()
    return this.heartbeats.values().all()
  }

  async loadCursor(chain: string): Promise<ChainCursorRecord | undefined> {
    this.assertOpen()
    return this.cursors.get(chain)
  }

  /** Durable (sync): a watcher must not re-scan far back after a crash, nor skip ahead. */
  async saveCursor(chain: string, cursor: ChainCursorRecord): Promise<void> {
    this.assertOpen()
    await this.db.batch([{ type: 'put', sublevel: this.cursors, key: chain, value: cursor }], { sync: true })
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new StoreError('not_open', 'store: not open')
  }
}
