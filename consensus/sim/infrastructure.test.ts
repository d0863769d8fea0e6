import { describe, expect, it } from 'vitest'
import { blockId, buildBlock, buildInvalidBlock, GENESIS_ID, nextRoot, SimChain, validAt } from './app.js'
import { EventHeap, SimClock } from './clock.js'
import { SimKeys } from './crypto.js'
import { SimNetwork } from './network.js'
import { Prng } from './prng.js'

describe('Prng', () => {
  it('is a pure function of its seed', () => {
    const a = new Prng(42)
    const b = new Prng(42)
    const xs = Array.from({ length: 100 }, () => a.next())
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs)
    expect(new Prng(43).next()).not.toBe(xs[0])
    expect(new Prng(2 ** 40 + 42).next()).not.toBe(xs[0])
  })

  it('int stays in range and hits both ends; float in [0, 1); shuffle permutes; chance follows p', () => {
    const p = new Prng(7)
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const x = p.int(-3, 3)
      expect(x).toBeGreaterThanOrEqual(-3)
      expect(x).toBeLessThanOrEqual(3)
      seen.add(x)
      const f = p.float()
      expect(f >= 0 && f < 1).toBe(true)
    }
    expect(seen.size).toBe(7)
    const items = [1, 2, 3, 4, 5, 6, 7, 8]
    const shuffled = p.shuffle(items)
    expect([...shuffled].sort()).toEqual(items)
    expect(items).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    let hits = 0
    for (let i = 0; i < 10_000; i++) if (p.chance(0.3)) hits++
    expect(hits).toBeGreaterThan(2700)
    expect(hits).toBeLessThan(3300)
    expect(p.chance(0)).toBe(false)
    expect(() => p.pick([])).toThrow(RangeError)
  })

  it('fork gives independent, reproducible streams', () => {
    const a = new Prng(1).fork('x')
    const b = new Prng(1).fork('x')
    const c = new Prng(1).fork('y')
    const first = a.next()
    expect(b.next()).toBe(first)
    expect(c.next()).not.toBe(first)
  })
})

describe('event queue', () => {
  it('orders by (time, seq): ties run in scheduling order', () => {
    const heap = new EventHeap()
    const p = new Prng(3)
    const pushed: Array<[number, number]> = []
    for (let seq = 0; seq < 500; seq++) {
      const time = p.int(0, 20)
      pushed.push([time, seq])
      heap.push({ time, seq, label: '', run: () => {} })
    }
    const popped: Array<[number, number]> = []
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) popped.push([e.time, e.seq])
    expect(popped).toEqual(pushed.sort((x, y) => x[0] - y[0] || x[1] - y[1]))
  })

  it('advances virtual time, skips cancelled events, refuses the past', () => {
    const clock = new SimClock()
    const log: string[] = []
    clock.schedule(10, 'b', () => log.push('b'))
    const c = clock.schedule(5, 'c', () => log.push('c'))
    clock.schedule(10, 'd', () => log.push('d'))
    clock.at(1, 'a', () => log.push('a'))
    clock.cancel(c)
    for (let e = clock.next(); e !== undefined; e = clock.next()) e.run()
    expect(log).toEqual(['a', 'b', 'd'])
    expect(clock.now).toBe(10)
    expect(() => clock.at(9, 'late', () => {})).toThrow(RangeError)
  })
})

describe('network', () => {
  function deliverAll(clock: SimClock): void {
    for (let e = clock.next(); e !== undefined; e = clock.next()) e.run()
  }

  it('delivers with delay, drops and duplicates as configured, deterministically', () => {
    const run = (): Array<[number, number, string]> => {
      const clock = new SimClock()
      const net = new SimNetwork<string>(clock, new Prng(9), 3)
      const got: Array<[number, number, string]> = []
      for (let i = 0; i < 3; i++) net.attach(i, (from, msg) => got.push([clock.now, from, `${i}:${msg}`]))
      net.conditions = { dropP: 0.2, dupP: 0.2, minDelayMs: 5, maxDelayMs: 50, spikeP: 0.1, spikeMaxMs: 500 }
      for (let k = 0; k < 200; k++) net.broadcast(k % 3, `m${k}`)
      deliverAll(clock)
      expect(net.stats.dropped).toBeGreaterThan(0)
      expect(net.stats.duplicated).toBeGreaterThan(0)
      return got
    }
    const a = run()
    expect(run()).toEqual(a)
    expect(a.length).toBeGreaterThan(250)
    expect(Math.max(...a.map(([t]) => t))).toBeGreaterThan(50)
  })

  it('partitions drop messages across groups, also those in flight, until healed; cut links stay cut', () => {
    const clock = new SimClock()
    const net = new SimNetwork<string>(clock, new Prng(1), 4)
    const got: string[] = []
    for (let i = 0; i < 4; i++) net.attach(i, (from, msg) => got.push(`${from}->${i} ${msg}`))
    net.conditions = { dropP: 0, dupP: 0, minDelayMs: 10, maxDelayMs: 10, spikeP: 0, spikeMaxMs: 10 }
    net.setLinked(0, 3, false)
    net.send(0, 1, 'in-flight')
    net.partition([[0, 2], [1, 3]])
    net.broadcast(0, 'split')
    deliverAll(clock)
    expect(got).toEqual(['0->2 split'])
    net.heal()
    got.length = 0
    net.broadcast(0, 'healed')
    deliverAll(clock)
    expect(got.sort()).toEqual(['0->1 healed', '0->2 healed'])
    expect(net.peers(0)).toEqual([1, 2])
  })
})

describe('application and simulated signatures', () => {
  it('blocks chain by parent id; invalid ones are rejected; roots chain', () => {
    const prng = new Prng(5)
    const chain = new SimChain()
    const b1 = chain.build(1, prng)
    expect(b1.parentId).toBe(GENESIS_ID)
    expect(chain.validNext(b1)).toBe(true)
    for (let i = 0; i < 30; i++) expect(validAt(buildInvalidBlock(1, GENESIS_ID, 1, prng), 1, GENESIS_ID)).toBe(false)
    const id1 = blockId(b1)
    expect(blockId({ ...b1 })).toBe(id1)
    const entry = chain.apply(0, id1, b1)
    expect(entry.root).toBe(nextRoot('00'.repeat(32), id1))
    expect(chain.validNext(b1)).toBe(false)
    expect(chain.validNext(buildBlock(2, id1, 2, prng))).toBe(true)
  })

  it('a signature verifies only for its signer and exact message; Twins share a key', () => {
    const keys = new SimKeys(1, 4)
    const vote = keys.signVote(2, { kind: 'prevote', height: 1, round: 0, valueId: null }, 0)
    expect(keys.verifyVote(vote)).toBe(true)
    expect(keys.verifyVote({ ...vote, signer: 1 })).toBe(false)
    expect(keys.verifyVote({ ...vote, valueId: 'ab'.repeat(32) })).toBe(false)
    expect(new SimKeys(2, 4).verifyVote(vote)).toBe(false)
    const p = keys.signProposal(1, { height: 1, round: 0, polRound: -1, valueId: 'cd'.repeat(32), value: null })
    expect(keys.verifyProposal(p)).toBe(true)
    expect(keys.verifyProposal({ ...p, polRound: 0 })).toBe(false)
  })
})
