import { describe, expect, it } from 'vitest'
import type { ViolationKind } from './invariants.js'
import type { VariantName } from './mutants.js'
import { replayCommand, runSeed, type RunResult } from './run.js'

/** The first seed (from 0) whose run breaks one of `kinds`, within `limit` seeds. */
function hunt(variant: VariantName, n: number, kinds: readonly ViolationKind[], limit: number): { seed: number; result: RunResult } | undefined {
  for (let seed = 0; seed < limit; seed++) {
    const result = runSeed({ seed, n, variant })
    if (result.violations.some((v) => kinds.includes(v.kind))) return { seed, result }
  }
  return undefined
}

describe('the simulator catches a broken engine', () => {
  it('an engine that ignores its lock loses agreement, and the report names the replay command', () => {
    const found = hunt('ignore-lock', 4, ['agreement'], 3000)
    expect(found, 'no agreement violation within 3000 seeds').toBeDefined()
    const { seed, result } = found!
    const violation = result.violations.find((v) => v.kind === 'agreement')!
    expect(violation.message).toContain(`npm run sim -- --seed ${seed} --n 4`)
    expect(violation.message).toContain(replayCommand(seed, 4, 'ignore-lock'))
    // The replay is exact.
    const again = runSeed({ seed, n: 4, variant: 'ignore-lock' })
    expect(again.violations).toEqual(result.violations)
    expect(again.events).toBe(result.events)
  }, 120_000)

  it('also with n = 7', () => {
    const found = hunt('ignore-lock', 7, ['agreement'], 3000)
    expect(found, 'no agreement violation within 3000 seeds').toBeDefined()
    expect(found!.result.violations[0]!.message).toContain(`npm run sim -- --seed ${found!.seed} --n 7`)
  }, 120_000)

  it('without the signing guard, a node that forgets its round state in a crash double-signs, and that is caught', () => {
    const found = hunt('amnesia-no-guard', 4, ['double_sign'], 200)
    expect(found).toBeDefined()
    const violation = found!.result.violations.find((v) => v.kind === 'double_sign')!
    expect(violation.message).toMatch(/honest validator \d+ signed two (prevote|precommit|proposal)s at height \d+ round \d+/)
    expect(violation.message).toContain(`npm run sim -- --seed ${found!.seed} --n 4 --variant amnesia-no-guard`)
  }, 60_000)

  it('a restarted node that does not count its own earlier votes of the height stalls', () => {
    // Nobody sends a node its own messages, so after a restart its engine never sees its own pre-crash
    // votes, and a quorum that needs them cannot form: the height can stall for good. The node shell
    // feeds them back (node/consensus/service.ts); this variant does not.
    let seed = 0
    let result = runSeed({ seed, n: 4, variant: 'forget-own-votes' })
    while (result.ok && seed < 1000) result = runSeed({ seed: ++seed, n: 4, variant: 'forget-own-votes' })
    expect(result.violations.map((v) => v.kind)).toContain('liveness')
    expect(result.violations[0]!.message).toContain(`npm run sim -- --seed ${seed} --n 4 --variant forget-own-votes`)
    expect(runSeed({ seed, n: 4 }).ok).toBe(true)
  }, 60_000)

  it('with the real signing guard the same amnesia never double-signs: the guard refuses instead', () => {
    let refusals = 0
    for (let seed = 0; seed < 200; seed++) {
      const result = runSeed({ seed, n: 4, variant: 'amnesia' })
      expect(result.violations.filter((v) => v.kind === 'double_sign'), `seed ${seed}`).toEqual([])
      refusals += result.stats.guardRefusals
    }
    expect(refusals).toBeGreaterThan(0)
  }, 60_000)
})
