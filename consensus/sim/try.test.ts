import { it } from 'vitest'
import { runSeed } from './run.js'
it('try', () => {
  const t0 = performance.now()
  let bad = 0
  let ev = 0
  for (let seed = 0; seed < 40; seed++) {
    const r = runSeed({ seed })
    ev += r.events
    if (!r.ok) { bad++; console.log(seed, r.n, r.byzantine, r.violations.map((v) => v.message).join('\n'), r.heights, r.events) }
  }
  console.log('bad', bad, 'ms', performance.now() - t0, 'events', ev)
}, 600000)
