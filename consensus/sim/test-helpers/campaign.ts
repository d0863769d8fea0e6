import { beforeAll, describe, expect, it } from 'vitest'
import { runCampaign, type CampaignSummary } from '../campaign.js'
import type { ViolationKind } from '../invariants.js'

const SAFETY: readonly ViolationKind[] = ['agreement', 'validity', 'double_sign', 'state_root', 'engine_error']

function report(summary: CampaignSummary, kinds: readonly ViolationKind[]): string {
  const hits = summary.failures.filter((f) => f.kinds.some((k) => kinds.includes(k)))
  return `${hits.length} of ${summary.runs} runs broke ${kinds.join('/')}:\n${hits
    .slice(0, 12)
    .map((f) => `  seed ${f.seed}: ${f.message}`)
    .join('\n')}`
}

/** One campaign slice: `count` seeded runs from `start`, every fault kind in the mix. */
export function campaign(n: number, start: number, count: number): void {
  describe(`simulator campaign n=${n}, seeds ${start}..${start + count - 1}`, () => {
    let summary: CampaignSummary
    beforeAll(() => {
      summary = runCampaign({ start, count, n })
    }, 170_000)

    it('draws faults of every kind', () => {
      const c = summary.coverage
      for (const key of ['byzantine:twins', 'byzantine:equivocate', 'byzantine:double_vote', 'byzantine:silent', 'crash:clean', 'crash:after_persist', 'crash:after_sign', 'partition', 'block_sync', 'round_change']) {
        expect(c[key] ?? 0, `${key} in ${JSON.stringify(c)}`).toBeGreaterThan(count / 50)
      }
      expect(summary.totals.restarts).toBeGreaterThan(count / 5)
      expect(summary.meanHonestHeight).toBeGreaterThanOrEqual(5)
    })

    it('never breaks safety: agreement, validity, no honest double-sign, equal state roots', () => {
      const bad = summary.failures.filter((f) => f.kinds.some((k) => SAFETY.includes(k)))
      expect(bad.length, report(summary, SAFETY)).toBe(0)
    })

    it('stays live: after GST every honest node commits more heights within the bound', () => {
      const bad = summary.failures.filter((f) => f.kinds.includes('liveness') || f.kinds.includes('event_cap'))
      expect(bad.length, report(summary, ['liveness', 'event_cap'])).toBe(0)
    })
  })
}
