import { describe, expect, it } from 'vitest'
import { SigningGuard, lastSignedOf, type LastSigned } from './signing-guard.js'

const at = (height: number, round: number, step: 1 | 2 | 3, valueId: string | null): LastSigned => ({ height, round, step, valueId })

describe('SigningGuard', () => {
  it('signs anything when nothing was signed yet', () => {
    const g = new SigningGuard()
    expect(g.last).toBeUndefined()
    expect(g.check(at(1, 0, 2, null))).toBe('sign')
    expect(g.check(at(1, 0, 1, 'aa'))).toBe('sign')
  })

  it('signs strictly later (height, round, step) and records them', () => {
    const g = new SigningGuard()
    g.record(at(1, 0, 1, 'aa'))
    expect(g.check(at(1, 0, 2, 'aa'))).toBe('sign')
    g.record(at(1, 0, 2, 'aa'))
    expect(g.check(at(1, 0, 3, null))).toBe('sign')
    g.record(at(1, 0, 3, null))
    expect(g.check(at(1, 1, 1, 'bb'))).toBe('sign') // later round, earlier step
    expect(g.check(at(2, 0, 1, 'cc'))).toBe('sign') // later height
    expect(g.last).toEqual(at(1, 0, 3, null))
  })

  it('answers resign for the identical message and leaves the record alone', () => {
    const g = new SigningGuard(at(5, 2, 3, 'aa'))
    expect(g.check(at(5, 2, 3, 'aa'))).toBe('resign')
    g.record(at(5, 2, 3, 'aa'))
    expect(g.last).toEqual(at(5, 2, 3, 'aa'))
    const nil = new SigningGuard(at(5, 2, 2, null))
    expect(nil.check(at(5, 2, 2, null))).toBe('resign')
  })

  it('refuses a different value at the same step (double sign)', () => {
    const g = new SigningGuard(at(5, 2, 2, 'aa'))
    expect(g.check(at(5, 2, 2, 'bb'))).toBe('refuse')
    expect(g.check(at(5, 2, 2, null))).toBe('refuse')
    const nil = new SigningGuard(at(5, 2, 3, null))
    expect(nil.check(at(5, 2, 3, 'aa'))).toBe('refuse')
  })

  it('refuses regressions in height, round or step', () => {
    const g = new SigningGuard(at(5, 2, 2, 'aa'))
    expect(g.check(at(5, 2, 1, 'aa'))).toBe('refuse')
    expect(g.check(at(5, 1, 3, 'aa'))).toBe('refuse')
    expect(g.check(at(4, 9, 3, 'aa'))).toBe('refuse')
  })

  it('keeps refusing regressions after a restart from the stored last-signed message', () => {
    const before = new SigningGuard()
    before.record(at(7, 0, 2, 'aa'))
    before.record(at(7, 0, 3, 'aa'))
    const stored = before.last
    expect(stored).toBeDefined()
    const after = new SigningGuard(stored)
    expect(after.check(at(7, 0, 2, null))).toBe('refuse') // the engine restarted in an older step
    expect(after.check(at(7, 0, 3, null))).toBe('refuse') // a different precommit
    expect(after.check(at(7, 0, 3, 'aa'))).toBe('resign')
    expect(after.check(at(7, 1, 1, 'bb'))).toBe('sign')
  })

  it('record throws on a message check would refuse', () => {
    const g = new SigningGuard(at(3, 1, 2, 'aa'))
    expect(() => g.record(at(3, 1, 2, 'bb'))).toThrow(RangeError)
    expect(() => g.record(at(3, 0, 3, 'aa'))).toThrow(RangeError)
    expect(g.last).toEqual(at(3, 1, 2, 'aa'))
  })

  it('rejects malformed records', () => {
    expect(() => new SigningGuard(at(-1, 0, 2, null))).toThrow(RangeError)
    expect(() => new SigningGuard().check({ height: 1, round: 0, step: 4 as never, valueId: null })).toThrow(RangeError)
    expect(() => new SigningGuard().check(at(1, 0, 1, null))).toThrow(RangeError)
  })

  it('lastSignedOf maps engine sign requests to guard steps', () => {
    expect(lastSignedOf({ height: 2, round: 1, polRound: -1, valueId: 'aa', value: 'x' })).toEqual(at(2, 1, 1, 'aa'))
    expect(lastSignedOf({ kind: 'prevote', height: 2, round: 1, valueId: null })).toEqual(at(2, 1, 2, null))
    expect(lastSignedOf({ kind: 'precommit', height: 2, round: 1, valueId: 'aa' })).toEqual(at(2, 1, 3, 'aa'))
  })
})
