import type { LinkConditions } from '../network.js'
import type { CrashSpec, Scenario } from '../scenario.js'

export const CALM: LinkConditions = { dropP: 0, dupP: 0, minDelayMs: 5, maxDelayMs: 20, spikeP: 0, spikeMaxMs: 20 }

/**
 * A hand-made n = 4 scenario: a calm network, no partitions, validator 3 silent (so the three
 * others are exactly 2f+1 and every vote counts) unless `allHonest`, and the given crashes.
 */
export function targeted(crashes: readonly CrashSpec[], opts: { allHonest?: boolean; targetHeight?: number } = {}): (s: Scenario) => Scenario {
  return (s) => ({
    ...s,
    byzantine: opts.allHonest === true ? [] : [{ index: 3, kind: 'silent', silentAfterGst: false }],
    instanceIndex: [0, 1, 2, 3],
    cutLinks: [],
    bootMs: [0, 0, 0, 0],
    partitions: [],
    crashes,
    preGst: CALM,
    postGst: CALM,
    gstMs: 4_000,
    targetHeight: opts.targetHeight ?? 6,
  })
}
