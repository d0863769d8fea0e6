import { BranchMPTNode, decodeMPTNode, decodeRawMPTNode, ExtensionMPTNode, type NodeReferenceOrRawMPTNode } from '@ethereumjs/mpt'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, describe, expect, it } from 'vitest'
import { AppState } from './state.js'
import { TrieDb } from './trie-db.js'
import { ChainDriver, makeNetwork, openApp, removeTempDirs, voteTx } from './test-helpers/network.js'

afterAll(async () => {
  await removeTempDirs()
})

/** Hex keys of every stored node reachable from `root`; throws if one is missing. */
async function reachable(get: (key: string) => Promise<Uint8Array | undefined>, root: Uint8Array, into: Set<string>): Promise<void> {
  const stack: NodeReferenceOrRawMPTNode[] = [root]
  while (stack.length > 0) {
    const ref = stack.pop()!
    let node
    if (Array.isArray(ref)) {
      node = decodeRawMPTNode(ref as Uint8Array[])
    } else {
      const key = bytesToHex(ref as Uint8Array)
      if (into.has(key)) continue
      const bytes = await get(key)
      if (bytes === undefined) throw new Error(`missing trie node ${key}`)
      into.add(key)
      node = decodeMPTNode(bytes)
    }
    if (node instanceof BranchMPTNode) for (const [, child] of node.getChildren()) stack.push(child)
    else if (node instanceof ExtensionMPTNode) stack.push(node.value() as NodeReferenceOrRawMPTNode)
  }
}

describe('state trie storage', () => {
  it('stores exactly the nodes of the committed roots: none missing, no garbage from intermediate puts', async () => {
    const net = await makeNetwork()
    const o = await openApp(net)
    const roots = [o.app.stateRoot]
    const chain = new ChainDriver(net, o.app)
    for (let h = 0; h < 6; h++) {
      const txs = [0, 1, 2, 3].map((g) => voteTx(net, g, h % 2 === 0 ? 'validation' : 'dlc_emergency', `op-${h >> 1}`, g === 3 ? 'reject' : 'approve'))
      txs.push(voteTx(net, 4, 'lp_liquidation', `lp-${h}`))
      await chain.step(txs)
      roots.push(o.app.stateRoot)
    }
    const sub = o.db.sublevel<string, Uint8Array>('trie', { valueEncoding: 'view' })
    const live = new Set<string>()
    for (const root of roots) await reachable((k) => sub.get(k), root, live)
    const stored = await sub.keys().all()
    expect(stored.length).toBe(live.size)
    expect(new Set(stored)).toEqual(live)

    const state = await AppState.at(TrieDb.open(o.db).fork(), o.app.stateRoot)
    expect(await state.getGuardian(4)).toMatchObject({ index: 4, name: 'guardian-4' })
    expect(await state.getGuardian(5)).toBeUndefined()
    expect(await state.getConfig()).toMatchObject({ guardianSetIndex: 0, thresholds: { validation: 3, lp_liquidation: 3, dlc_emergency: 4 } })
    // pending queue: every created operation was queued; none expired yet
    const bounds = await state.getPendingBounds()
    expect(bounds.head).toBe(0)
    expect(bounds.tail).toBeGreaterThan(0)
    await o.close()
  })
})
