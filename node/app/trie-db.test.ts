import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { createMPT } from '@ethereumjs/mpt'
import { ValueEncoding } from '@ethereumjs/util'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TrieDb } from './trie-db.js'

describe('TrieDb', () => {
  let dir: string
  let db: ClassicLevel<string, unknown>

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-triedb-'))
    db = new ClassicLevel<string, unknown>(dir, { valueEncoding: 'json' })
    await db.open()
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps writes in the overlay until takeOps, which hands them to one root-level batch', async () => {
    const base = TrieDb.open(db)
    await base.put('aa', new Uint8Array([1]))
    await base.put('bb', new Uint8Array([2]))
    expect(await base.get('aa')).toEqual(new Uint8Array([1]))
    const sub = db.sublevel<string, Uint8Array>('trie', { valueEncoding: 'view' })
    expect(await sub.get('aa')).toBeUndefined()
    const ops = base.takeOps()
    expect(ops.map((o) => o.key)).toEqual(['aa', 'bb'])
    expect(base.pendingWrites).toBe(0)
    await db.batch(ops, { sync: true })
    expect([...(await sub.get('bb'))!]).toEqual([2])
    expect([...((await TrieDb.open(db).get('bb')) as Uint8Array)]).toEqual([2])
  })

  it('reads see the overlay first, including pending deletes', async () => {
    const base = TrieDb.open(db)
    await base.put('aa', new Uint8Array([1]))
    await db.batch(base.takeOps())
    await base.del('aa')
    expect(await base.get('aa')).toBeUndefined()
    await base.batch([{ type: 'put', key: 'aa', value: new Uint8Array([9]) }])
    expect(await base.get('aa')).toEqual(new Uint8Array([9]))
    expect(await base.get('aa', { valueEncoding: 'string' })).toBe('09')
  })

  it('fork sees the parent and its writes are discarded with it', async () => {
    const base = TrieDb.open(db)
    await base.put('aa', new Uint8Array([1]))
    const fork = base.fork()
    expect(await fork.get('aa')).toEqual(new Uint8Array([1]))
    await fork.put('bb', new Uint8Array([2]))
    expect(await base.get('bb')).toBeUndefined()
    expect(base.takeOps()).toHaveLength(1)
  })

  it('backs an @ethereumjs/mpt trie whose root survives a reload from disk', async () => {
    const tdb = TrieDb.open(db).fork()
    const trie = await createMPT({ db: tdb, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes })
    await trie.put(utf8ToBytes('k1'), utf8ToBytes('v1'))
    await trie.put(utf8ToBytes('k2'), utf8ToBytes('v2'))
    const root = trie.root()
    await db.batch(tdb.takeOps(), { sync: true })
    const again = await createMPT({ db: TrieDb.open(db), useKeyHashing: true, valueEncoding: ValueEncoding.Bytes, root })
    expect([...(await again.get(utf8ToBytes('k2')))!]).toEqual([...utf8ToBytes('v2')])
  })
})
