import { describe, expect, it } from 'vitest'
import { Mempool } from './mempool.js'

const tx = (byte: number): Uint8Array => new Uint8Array([byte])

describe('Mempool', () => {
  it('keeps arrival order, refuses when full, and holds one transaction per slot until it leaves', async () => {
    const pool = new Mempool(3)
    expect(pool.add('a', tx(1))).toBe('added')
    expect(pool.add('a', tx(1))).toBe('present')
    expect(pool.add('b', tx(2), 'signature/validation/x')).toBe('added')
    expect(pool.add('c', tx(3), 'signature/validation/x')).toBe('slot_taken')
    expect(pool.add('d', tx(4), 'signature/validation/y')).toBe('added')
    expect(pool.add('e', tx(5))).toBe('full')
    expect(pool.candidates(10).map((t) => t[0])).toEqual([1, 2, 4])
    // the slot frees when its transaction goes, by recheck (no longer valid) or commit
    await pool.recheck(async (t) => t[0] !== 2)
    expect(pool.add('c', tx(3), 'signature/validation/x')).toBe('added')
    expect(pool.size).toBe(3)
  })
})
