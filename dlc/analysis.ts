import { analyzeMiniscript, compileMiniscript, satisfier } from '@bitcoinerlab/miniscript'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { assembleMiniscriptAsm, LEAF_KEY_SET, LEAF_NAMES, leafKeys, leafMiniscript, leafThreshold, type CompiledLeaf, type KeySet, type LeafName } from './compiler.js'
import type { ContractTerms } from './terms.js'

/** Facts the analysis proved (or failed to prove) about one leaf. */
export interface LeafAnalysis {
  readonly name: LeafName
  readonly miniscript: string
  /** Miniscript sanity: every satisfaction needs a signature, non-malleable, no timelock mix, no repeated key. */
  readonly sane: boolean
  readonly nonMalleable: boolean
  readonly timelockMix: boolean
  readonly hasDuplicateKeys: boolean
  /** Non-malleable satisfactions the satisfier enumerated with every key known: C(n, threshold) for multi_a. */
  readonly satisfactions: number
  readonly malleableSatisfactions: number
  /** What every satisfaction needs: signatures by at least `signatures` keys of `keySet`, and the lock. */
  readonly requires: { readonly keySet: KeySet; readonly signatures: number; readonly lockTime?: number }
  /** No satisfaction exists with signatures − 1 keys of the set (and every key of the other set). */
  readonly minimal: boolean
}

/** The spending-path report: part of every compiled contract. */
export interface PathAnalysis {
  /** The internal key is the NUMS point: the key path cannot be used. */
  readonly keyPath: 'unspendable'
  readonly leaves: readonly LeafAnalysis[]
  readonly ok: boolean
  /** Each fact that does not hold, as a sentence naming the leaf; empty when ok. */
  readonly problems: readonly string[]
}

/** Bound on the satisfier's enumeration (it counts intermediate solutions too). */
const MAX_SOLUTIONS = 100_000
/** Bound on the (threshold − 1)-subsets tried for minimality: the satisfier runs once per subset. */
const MAX_MINIMALITY_SUBSETS = 5_000

/**
 * Analyses the three leaves against the terms: that each leaf is the miniscript the terms call for
 * and compiles to its script; that miniscript's analysis finds it sane and non-malleable with no
 * timelock mix and no repeated key; that the satisfier's enumeration (every key known) yields
 * C(n, threshold) non-malleable satisfactions and no malleable one, each signed by at least the
 * threshold of the leaf's own key set, none by the other set, with nLockTime = lockedUntil exactly
 * on the timelock leaf and no lock on the others; and that with only threshold − 1 keys of the set
 * (plus every key of the other set) there is no satisfaction at all.
 */
export function analyzeLeaves(leaves: readonly CompiledLeaf[], terms: ContractTerms): PathAnalysis {
  const problems: string[] = []
  const names = leaves.map((l) => l.name)
  if (names.length !== LEAF_NAMES.length || LEAF_NAMES.some((name) => !names.includes(name))) {
    problems.push(`the leaves are [${names.join(', ')}], expected one each of ${LEAF_NAMES.join(', ')}`)
  }
  const analyses = leaves.map((leaf) => analyzeLeaf(leaf, terms, problems))
  return { keyPath: 'unspendable', leaves: analyses, ok: problems.length === 0, problems }
}

function analyzeLeaf(leaf: CompiledLeaf, terms: ContractTerms, problems: string[]): LeafAnalysis {
  const { name, miniscript } = leaf
  const problem = (message: string): void => {
    problems.push(`${name} leaf: ${message}`)
  }
  const keySet = LEAF_KEY_SET[name]
  const threshold = leafThreshold(terms, name)
  const own = leafKeys(terms, name).map(bytesToHex)
  const other = (keySet === 'ephemeral' ? terms.guardianKeys : terms.ephemeralKeys).map(bytesToHex)
  const lockTime = name === 'timelock' ? terms.timelock.lockedUntil : undefined

  if (miniscript !== leafMiniscript(terms, name)) problem(`miniscript ${miniscript} is not the one the terms call for (${leafMiniscript(terms, name)})`)
  let assembled: Uint8Array | undefined
  try {
    assembled = assembleMiniscriptAsm(compileMiniscript(miniscript, { tapscript: true }).asm)
  } catch {
    assembled = undefined
  }
  if (assembled === undefined || !equalBytes(assembled, leaf.script)) problem('the script is not the compilation of its miniscript')

  let facts: ReturnType<typeof analyzeMiniscript>
  try {
    facts = analyzeMiniscript(miniscript, { tapscript: true })
  } catch (err) {
    facts = { issane: false, issanesublevel: false, valid: false, error: (err as Error).message, needsSignature: false, nonMalleable: false, timelockMix: false, hasDuplicateKeys: false }
  }
  if (!facts.issane) problem(`miniscript analysis: not sane${facts.error === null ? '' : ` (${facts.error})`}`)
  if (!facts.nonMalleable) problem('miniscript analysis: malleable')
  if (facts.timelockMix) problem('miniscript analysis: mixes height and time locks')
  if (facts.hasDuplicateKeys) problem('miniscript analysis: a key is repeated')

  const leafFacts = (satisfactions: number, malleableSatisfactions: number, signatures: number, minimal: boolean): LeafAnalysis => ({
    name,
    miniscript,
    sane: facts.issane,
    nonMalleable: facts.nonMalleable,
    timelockMix: facts.timelockMix,
    hasDuplicateKeys: facts.hasDuplicateKeys,
    satisfactions,
    malleableSatisfactions,
    requires: { keySet, signatures, ...(lockTime === undefined ? {} : { lockTime }) },
    minimal,
  })

  let satisfactions = 0
  let malleableSatisfactions = 0
  let fewest = Number.POSITIVE_INFINITY
  if (!facts.issane) {
    // The satisfier refuses miniscript that is not sane: nothing more can be proved about the leaf.
    problem('satisfactions not enumerated: the satisfier only analyses sane miniscript')
    return leafFacts(0, 0, 0, false)
  }
  try {
    const all = satisfier(miniscript, { tapscript: true, maxSolutions: MAX_SOLUTIONS })
    satisfactions = all.nonMalleableSats.length
    malleableSatisfactions = all.malleableSats.length
    if (malleableSatisfactions > 0) problem(`${malleableSatisfactions} malleable satisfactions`)
    const expected = binomial(own.length, threshold)
    if (satisfactions !== expected) problem(`${satisfactions} satisfactions, expected C(${own.length}, ${threshold}) = ${expected}`)
    for (const sat of all.nonMalleableSats) {
      const signers = sat.asm.split(' ').filter((token) => token !== '0')
      const keys = signers.map((token) => /^<sig\(([0-9a-f]{64})\)>$/.exec(token)?.[1])
      if (keys.some((k) => k === undefined)) problem(`satisfaction "${sat.asm}" has items other than signatures and empty pushes`)
      const foreign = keys.filter((k) => k !== undefined && other.includes(k))
      if (foreign.length > 0) problem(`satisfaction "${sat.asm}" uses ${foreign.length} key(s) of the ${keySet === 'ephemeral' ? 'guardian' : 'ephemeral'} set`)
      const ownSigners = new Set(keys.filter((k): k is string => k !== undefined && own.includes(k)))
      fewest = Math.min(fewest, ownSigners.size)
      if (ownSigners.size < threshold) problem(`satisfaction "${sat.asm}" has ${ownSigners.size} ${keySet} signatures, fewer than ${threshold}`)
      if (sat.nLockTime !== lockTime) problem(`satisfaction "${sat.asm}" has nLockTime ${sat.nLockTime ?? 'none'}, expected ${lockTime ?? 'none'}`)
      if (sat.nSequence !== undefined) problem(`satisfaction "${sat.asm}" needs a relative lock (nSequence ${sat.nSequence})`)
    }
  } catch (err) {
    problem(`the satisfier could not enumerate the satisfactions (${(err as Error).message})`)
  }
  if (satisfactions === 0) problem('no satisfaction: the path can never be spent')

  return leafFacts(satisfactions, malleableSatisfactions, Number.isFinite(fewest) ? fewest : 0, isMinimal(miniscript, own, other, threshold, problem))
}

/** True when no (threshold − 1)-subset of `own`, with every key of `other`, satisfies the leaf. */
function isMinimal(miniscript: string, own: readonly string[], other: readonly string[], threshold: number, problem: (message: string) => void): boolean {
  const count = binomial(own.length, threshold - 1)
  if (count > MAX_MINIMALITY_SUBSETS) {
    problem(`minimality not checked: ${count} key subsets exceed the analysis bound ${MAX_MINIMALITY_SUBSETS}`)
    return false
  }
  const sig = (key: string): string => `<sig(${key})>`
  try {
    for (const subset of subsets(own, threshold - 1)) {
      const knowns = [...subset, ...other].map(sig)
      const found = satisfier(miniscript, { tapscript: true, knowns, maxSolutions: MAX_SOLUTIONS })
      const sat = found.nonMalleableSats[0] ?? found.malleableSats[0]
      if (sat !== undefined) {
        problem(`satisfied with only ${threshold - 1} keys of its set: "${sat.asm}"`)
        return false
      }
    }
  } catch (err) {
    problem(`minimality not proved: the satisfier failed (${(err as Error).message})`)
    return false
  }
  return true
}

function* subsets<T>(items: readonly T[], size: number, start = 0): Generator<T[]> {
  if (size === 0) {
    yield []
    return
  }
  for (let i = start; i <= items.length - size; i++) {
    for (const rest of subsets(items, size - 1, i + 1)) yield [items[i]!, ...rest]
  }
}

function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0
  let result = 1
  for (let i = 1; i <= k; i++) result = (result * (n - i + 1)) / i
  return Math.round(result)
}
