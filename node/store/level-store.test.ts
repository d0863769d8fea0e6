import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LevelNodeStore, StoreError, type HeartbeatRecord, type PeerRecord } from './index.js'

const NETWORK_A = new Uint8Array(32).fill(0xa1)
const NETWORK_B = new Uint8Array(32).fill(0xb2)

const PEER: PeerRecord = {
  peerId: '12D3KooWpeer1',
  guardian: 'guardian-1',
  firstSeenAt: 1_700_000_000_000,
  lastConnectedAt: 1_700_000_001_000,
  lastDisconnectedAt: null,
}

const HEARTBEAT: HeartbeatRecord = {
  guardian: 'guardian-1',
  peerId: '12D3KooWpeer1',
  version: '0.1.0',
  height: '18446744073709551615',
  peerCount: 3,
  timestampMs: 1_700_000_002_000,
  receivedAt: 1_700_000_002_050,
}

let dir: string
const stores: LevelNodeStore[] = []

function store(networkId: Uint8Array = NETWORK_A, path = dir): LevelNodeStore {
  const s = new LevelNodeStore(path, networkId)
  stores.push(s)
  return s
}

async function expectStoreError(promise: Promise<unknown>, code: StoreError['code']): Promise<StoreError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(StoreError)
  expect((err as StoreError).code).toBe(code)
  return err as StoreError
}

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'ubtc-store-')), 'data')
})

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  await rm(join(dir, '..'), { recursive: true, force: true })
})

describe('LevelNodeStore', () => {
  it('keeps peers and heartbeats across close and reopen', async () => {
    const first = store()
    await first.open()
    expect(first.isOpen).toBe(true)
    expect(await first.listPeers()).toEqual([])
    expect(await first.getPeer(PEER.peerId)).toBeUndefined()
    expect(await first.getHeartbeat('guardian-1')).toBeUndefined()

    await first.putPeer(PEER)
    await first.putPeer({ ...PEER, peerId: '12D3KooWpeer2', guardian: 'guardian-2' })
    await first.putHeartbeat(HEARTBEAT)
    await first.putHeartbeat({ ...HEARTBEAT, guardian: 'guardian-2', peerId: '12D3KooWpeer2', height: '7' })
    // A later heartbeat of the same guardian replaces the earlier one.
    await first.putHeartbeat({ ...HEARTBEAT, timestampMs: HEARTBEAT.timestampMs + 1000 })
    await first.close()
    expect(first.isOpen).toBe(false)

    const second = store()
    await second.open()
    expect(await second.getPeer(PEER.peerId)).toEqual(PEER)
    expect((await second.listPeers()).map((p) => p.guardian).sort()).toEqual(['guardian-1', 'guardian-2'])
    expect(await second.getHeartbeat('guardian-1')).toEqual({ ...HEARTBEAT, timestampMs: HEARTBEAT.timestampMs + 1000 })
    const heartbeats = await second.listHeartbeats()
    expect(heartbeats).toHaveLength(2)
    expect(heartbeats.find((h) => h.guardian === 'guardian-2')?.height).toBe('7')
  })

  it('keeps chain watcher cursors across close and reopen, per chain', async () => {
    const path = join(dir, 'cursors')
    const first = store(NETWORK_A, path)
    await first.open()
    expect(await first.loadCursor('ethereum')).toBeUndefined()
    await first.saveCursor('ethereum', { height: 120, hash: '0xabc' })
    await first.saveCursor('solana', { height: 9, hash: 'sig' })
    await first.saveCursor('ethereum', { height: 121, hash: '0xdef' })
    await first.close()
    const again = store(NETWORK_A, path)
    await again.open()
    expect(await again.loadCursor('ethereum')).toEqual({ height: 121, hash: '0xdef' })
    expect(await again.loadCursor('solana')).toEqual({ height: 9, hash: 'sig' })
    await again.close()
  })

  it('refuses a data dir of another network and leaves it untouched', async () => {
    const original = store(NETWORK_A)
    await original.open()
    await original.putPeer(PEER)
    await original.putHeartbeat(HEARTBEAT)
    await original.close()

    const other = store(NETWORK_B)
    const err = await expectStoreError(other.open(), 'wrong_network')
    expect(err.message).toMatch(/network/)
    expect(other.isOpen).toBe(false)
    // The refused open released the database: the right network opens right after, data intact.
    const again = store(NETWORK_A)
    await again.open()
    expect(await again.getPeer(PEER.peerId)).toEqual(PEER)
    expect(await again.getHeartbeat(HEARTBEAT.guardian)).toEqual(HEARTBEAT)
    await again.close()

    // Still refused on a second attempt: the first refusal did not re-pin the dir.
    await expectStoreError(store(NETWORK_B).open(), 'wrong_network')
  })

  it('refuses a second open of a data dir that is in use', async () => {
    const first = store()
    await first.open()
    const second = store()
    const err = await expectStoreError(second.open(), 'locked')
    expect(err.message).toContain(dir)
    expect(second.isOpen).toBe(false)
    // The first holder is unaffected.
    await first.putPeer(PEER)
    expect(await first.getPeer(PEER.peerId)).toEqual(PEER)
  })

  it('refuses calls after close (and before open)', async () => {
    const s = store()
    await expectStoreError(s.listPeers(), 'not_open')
    await s.open()
    await s.putPeer(PEER)
    await s.close()
    await s.close() // idempotent
    await expectStoreError(s.putPeer(PEER), 'not_open')
    await expectStoreError(s.getPeer(PEER.peerId), 'not_open')
    await expectStoreError(s.listPeers(), 'not_open')
    await expectStoreError(s.putHeartbeat(HEARTBEAT), 'not_open')
    await expectStoreError(s.getHeartbeat(HEARTBEAT.guardian), 'not_open')
    await expectStoreError(s.listHeartbeats(), 'not_open')
  })
})
