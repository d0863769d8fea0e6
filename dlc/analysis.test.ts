import { describe, expect, it } from 'vitest'
import { analyzeLeaves } from './analysis.js'
import { compileContract, compileTaproot, LEAF_NAMES, type CompiledLeaf } from './compiler.js'
import { exampleTerms } from './example-terms.js'
import { defaultDlcRules } from './rules.js'
import type { ContractTerms } from './terms.js'

const NOW = 1_700_000_000
const rules = defaultDlcRules('regtest')
const terms = exampleTerms(rules, { now: NOW })
const contract = compileContract(terms, rules, { now: NOW })
const leaves = (t: ContractTerms = terms): CompiledLeaf[] => {
  const compiled = compileTaproot(t)
  return LEAF_NAMES.map((name) => compiled.leaves[name])
}

describe('analyzeLeaves', () => {
  it('proves what each path of the default contract needs', () => {
    const { analysis } = contract
    expect(analysis).toMatchObject({ keyPath: 'unspendable', ok: true, problems: [] })
    const clean = { sane: true, nonMalleable: true, timelockMix: false, hasDuplicateKeys: false, malleableSatisfactions: 0, minimal: true }
    expect(analysis.leaves).toEqual([
      { name: 'oracle', miniscript: contract.leaves.oracle.miniscript, ...clean, satisfactions: 10, requires: { keySet: 'ephemeral', signatures: 3 } },
      {
        name: 'timelock',
        miniscript: contract.leaves.timelock.miniscript,
        ...clean,
        satisfactions: 10,
        requires: { keySet: 'guardian', signatures: 3, lockTime: terms.timelock.lockedUntil },
      },
      { name: 'emergency', miniscript: contract.leaves.emergency.miniscript, ...clean, satisfactions: 5, requires: { keySet: 'guardian', signatures: 4 } },
    ])
  })

  it('reports a height lock as the nLockTime of the timelock path', () => {
    const t = exampleTerms(rules, { now: NOW, unit: 'height', tipHeight: 800_000 })
    const analysis = analyzeLeaves(leaves(t), t)
    expect(analysis.ok).toBe(true)
    expect(analysis.leaves[1]!.requires).toEqual({ keySet: 'guardian', signatures: 3, lockTime: 800_288 })
  })

  it('scales with the guardian set: 7 guardians, C(7,4) and C(7,5) satisfactions', () => {
    const seven = defaultDlcRules('regtest', 7)
    const t = exampleTerms(seven, { now: NOW })
    const analysis = analyzeLeaves(leaves(t), t)
    expect(analysis.ok).toBe(true)
    expect(analysis.leaves.map((l) => [l.satisfactions, l.requires.signatures])).toEqual([
      [35, 4],
      [35, 4],
      [21, 5],
    ])
  })

  it('catches a leaf weaker than the terms: 2 ephemeral keys where the terms say 3', () => {
    const weak = compileTaproot({ ...terms, cetThreshold: 2 }).leaves.oracle
    const analysis = analyzeLeaves([weak, contract.leaves.timelock, contract.leaves.emergency], terms)
    expect(analysis.ok).toBe(false)
    expect(analysis.leaves[0]).toMatchObject({ satisfactions: 10, requires: { keySet: 'ephemeral', signatures: 2 }, minimal: false })
    const text = analysis.problems.join('\n')
    expect(text).toMatch(/^oracle leaf: miniscript multi_a\(2,.* is not the one the terms call for/m)
    expect(text).toMatch(/^oracle leaf: satisfaction ".*" has 2 ephemeral signatures, fewer than 3$/m)
    expect(text).toMatch(/^oracle leaf: satisfied with only 2 keys of its set/m)
    expect(analysis.problems.every((p) => p.startsWith('oracle leaf: '))).toBe(true)
  })

  it('catches a script that is not the compilation of its miniscript', () => {
    const swapped = { ...contract.leaves.oracle, script: contract.leaves.emergency.script }
    const analysis = analyzeLeaves([swapped, contract.leaves.timelock, contract.leaves.emergency], terms)
    expect(analysis.problems).toEqual(['oracle leaf: the script is not the compilation of its miniscript'])
  })

  it('catches a timelock leaf with another lock, and a path signed by the other key set', () => {
    const earlier = compileTaproot({ ...terms, timelock: { unit: 'time', lockedUntil: terms.timelock.lockedUntil - 1 } }).leaves.timelock
    const byEphemeral = compileTaproot({ ...terms, guardianKeys: terms.ephemeralKeys }).leaves.emergency
    const analysis = analyzeLeaves([contract.leaves.oracle, earlier, byEphemeral], terms)
    const text = analysis.problems.join('\n')
    expect(text).toMatch(new RegExp(`^timelock leaf: satisfaction ".*" has nLockTime ${terms.timelock.lockedUntil - 1}, expected ${terms.timelock.lockedUntil}$`, 'm'))
    expect(text).toMatch(/^emergency leaf: satisfaction ".*" uses 4 key\(s\) of the ephemeral set$/m)
    expect(text).toMatch(/^emergency leaf: satisfaction ".*" has 0 guardian signatures, fewer than 4$/m)
  })

  it('reports miniscript analysis failures: a repeated key', () => {
    const g = terms.guardianKeys
    const repeated = { ...terms, guardianKeys: [g[0]!, g[0]!, g[2]!, g[3]!, g[4]!] }
    const analysis = analyzeLeaves(leaves(repeated), repeated)
    expect(analysis.leaves[2]).toMatchObject({ sane: false, hasDuplicateKeys: true })
    expect(analysis.problems).toContain('emergency leaf: miniscript analysis: not sane (sane: repeated public keys.)')
    expect(analysis.problems).toContain('emergency leaf: miniscript analysis: a key is repeated')
  })

  it('reports miniscript that does not parse instead of throwing', () => {
    const garbage = { ...contract.leaves.emergency, miniscript: 'multi_a(4,' }
    const analysis = analyzeLeaves([contract.leaves.oracle, contract.leaves.timelock, garbage], terms)
    expect(analysis.leaves[2]).toMatchObject({ sane: false, satisfactions: 0, minimal: false })
    expect(analysis.problems).toContain('emergency leaf: the script is not the compilation of its miniscript')
    expect(analysis.problems).toContain('emergency leaf: satisfactions not enumerated: the satisfier only analyses sane miniscript')
  })

  it('requires exactly the three leaves', () => {
    const analysis = analyzeLeaves([contract.leaves.oracle, contract.leaves.emergency], terms)
    expect(analysis.ok).toBe(false)
    expect(analysis.problems[0]).toBe('the leaves are [oracle, emergency], expected one each of oracle, timelock, emergency')
  })
})
