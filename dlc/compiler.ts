import { analyzeMiniscript, compileMiniscript, satisfier } from '@bitcoinerlab/miniscript'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { payments, script as bscript } from 'bitcoinjs-lib'
import { analyzeLeaves, type PathAnalysis } from './analysis.js'
import './ecc.js'
import { DlcError } from './errors.js'
import { NUMS_INTERNAL_KEY } from './nums.js'
import { checkTerms, TermsRejectedError, type DlcRules, type RuleContext } from './rules.js'
import { bitcoinjsNetwork, contractId, termsToJson, type ContractTerms } from './terms.js'

// The network parameters live with the terms; spenders (cet.ts) take them from here with the leaves.
export { bitcoinjsNetwork }

/** The three spending paths of a contract output. */
export type LeafName = 'oracle' | 'timelock' | 'emergency'
export const LEAF_NAMES: readonly LeafName[] = ['oracle', 'timelock', 'emergency']

/** BIP-342 tapscript leaf version. */
export const TAPSCRIPT_LEAF_VERSION = 0xc0

export interface CompiledLeaf {
  readonly name: LeafName
  /** The leaf as miniscript, keys written as 64 lowercase hex digits. */
  readonly miniscript: string
  /** The miniscript compiler's script, in its ASM notation. */
  readonly asm: string
  readonly script: Uint8Array
  readonly leafVersion: number
  /** BIP-341 TapLeaf hash of (leafVersion, script): what a script-path signature commits to. */
  readonly leafHash: Uint8Array
  /** BIP-341 control block for spending this leaf: the NUMS internal key, output parity, merkle path. */
  readonly controlBlock: Uint8Array
}

export interface CompiledContract {
  readonly contractId: string
  readonly terms: ContractTerms
  /** BIP-341 NUMS H (x-only): nobody can spend by key path. */
  readonly internalKey: Uint8Array
  readonly outputKey: Uint8Array
  readonly scriptPubKey: Uint8Array
  /** bech32m P2TR address on the terms' network. */
  readonly address: string
  readonly merkleRoot: Uint8Array
  /** Tap tree [oracle, [timelock, emergency]]: the oracle leaf, used most, gets the shortest path. */
  readonly leaves: Readonly<Record<LeafName, CompiledLeaf>>
  readonly analysis: PathAnalysis
}

/** Which of the terms' key sets signs a leaf. */
export type KeySet = 'ephemeral' | 'guardian'

export const LEAF_KEY_SET: Readonly<Record<LeafName, KeySet>> = { oracle: 'ephemeral', timelock: 'guardian', emergency: 'guardian' }

/** The keys of a leaf, in script order (miniscript multi_a checks the first key first). */
export function leafKeys(terms: ContractTerms, name: LeafName): readonly Uint8Array[] {
  return LEAF_KEY_SET[name] === 'ephemeral' ? terms.ephemeralKeys : terms.guardianKeys
}

/** The signatures a leaf needs. */
export function leafThreshold(terms: ContractTerms, name: LeafName): number {
  return name === 'oracle' ? terms.cetThreshold : name === 'timelock' ? terms.timelockThreshold : terms.emergencyThreshold
}

/**
 * The leaves as miniscript: the oracle (CET) leaf needs `cetThreshold` of the per-contract
 * ephemeral keys (whose pre-signatures only complete with the oracles' attestations), the timelock
 * leaf `timelockThreshold` guardian keys once `lockedUntil` has passed, the emergency leaf
 * `emergencyThreshold` guardian keys at any time.
 */
export function leafMiniscript(terms: ContractTerms, name: LeafName): string {
  const multi = `multi_a(${leafThreshold(terms, name)},${leafKeys(terms, name).map(bytesToHex).join(',')})`
  return name === 'timelock' ? `and_v(v:${multi},after(${terms.timelock.lockedUntil}))` : multi
}

/**
 * Compiles terms that pass the security rules into the taproot output: checks the terms
 * (`checkTerms`), compiles the leaves, runs the spending-path analysis, and refuses with
 * TermsRejectedError (code 'terms_rejected', every reason listed) if either finds a problem.
 */
export function compileContract(terms: ContractTerms, rules: DlcRules, context: RuleContext): CompiledContract {
  const violations = checkTerms(terms, rules, context)
  if (violations.length > 0) throw new TermsRejectedError(violations)
  const compiled = compileTaproot(terms)
  const analysis = analyzeLeaves(LEAF_NAMES.map((name) => compiled.leaves[name]), terms)
  if (!analysis.ok) throw new TermsRejectedError(analysis.problems.map((message) => ({ rule: 'path_analysis', message })))
  return { contractId: contractId(terms), terms, ...compiled, analysis }
}

/**
 * The taproot output of the terms without the security rules or the analysis: the NUMS internal
 * key and the tree [oracle, [timelock, emergency]]. Throws DlcError('invalid_terms') if the
 * miniscript compiler refuses a leaf (thresholds out of range).
 */
export function compileTaproot(terms: ContractTerms): Omit<CompiledContract, 'contractId' | 'terms' | 'analysis'> {
  const scripts = {} as Record<LeafName, { miniscript: string; asm: string; script: Uint8Array }>
  for (const name of LEAF_NAMES) scripts[name] = compileLeafScript(leafMiniscript(terms, name), name)
  const leaf = (name: LeafName): { output: Uint8Array; version: number } => ({ output: scripts[name].script, version: TAPSCRIPT_LEAF_VERSION })
  const scriptTree: [{ output: Uint8Array; version: number }, [{ output: Uint8Array; version: number }, { output: Uint8Array; version: number }]] = [
    leaf('oracle'),
    [leaf('timelock'), leaf('emergency')],
  ]
  const network = bitcoinjsNetwork(terms.network)
  const leaves = {} as Record<LeafName, CompiledLeaf>
  let output: payments.Payment | undefined
  for (const name of LEAF_NAMES) {
    const { miniscript, asm, script } = scripts[name]
    const payment = payments.p2tr({ internalPubkey: NUMS_INTERNAL_KEY, scriptTree, redeem: { output: script, redeemVersion: TAPSCRIPT_LEAF_VERSION }, network })
    const controlBlock = payment.witness?.[payment.witness.length - 1]
    if (controlBlock === undefined) throw new Error('bitcoinjs p2tr gave no control block')
    leaves[name] = { name, miniscript, asm, script, leafVersion: TAPSCRIPT_LEAF_VERSION, leafHash: tapLeafHash(script), controlBlock }
    output = payment
  }
  if (output?.pubkey === undefined || output.output === undefined || output.address === undefined || output.hash === undefined) {
    throw new Error('bitcoinjs p2tr gave no output')
  }
  return {
    internalKey: NUMS_INTERNAL_KEY,
    outputKey: output.pubkey,
    scriptPubKey: output.output,
    address: output.address,
    merkleRoot: output.hash,
    leaves,
  }
}

/**
 * Compiles one leaf's miniscript in tapscript context and assembles its ASM into script bytes.
 * Invalid miniscript (a threshold or lock out of range) throws; valid but insane miniscript (a
 * repeated key) compiles, and the path analysis reports it.
 */
function compileLeafScript(miniscript: string, name: LeafName): { miniscript: string; asm: string; script: Uint8Array } {
  let asm: string
  try {
    const validity = analyzeMiniscript(miniscript, { tapscript: true })
    if (!validity.valid) throw new Error(validity.error ?? 'invalid')
    asm = compileMiniscript(miniscript, { tapscript: true }).asm
  } catch (err) {
    throw new DlcError('invalid_terms', `${name} leaf: miniscript does not compile (${(err as Error).message})`)
  }
  return { miniscript, asm, script: assembleMiniscriptAsm(asm) }
}

/**
 * The miniscript compiler writes pushes as `<hex>` (keys, script numbers) and small integers as
 * decimals; bitcoinjs' `fromASM` wants bare hex and OP_n names. Its `compile` makes every push
 * minimal (a one-byte 1..16 becomes OP_n), as tapscript's MINIMALDATA requires.
 */
export function assembleMiniscriptAsm(asm: string): Uint8Array {
  const tokens = asm.split(' ').map((token) => {
    const push = /^<([0-9a-f]*)>$/.exec(token)
    if (push !== null) return push[1]!
    if (/^(?:[0-9]|1[0-6])$/.test(token)) return `OP_${token}`
    if (token === '-1') return 'OP_1NEGATE'
    if (/^OP_[0-9A-Z_]+$/.test(token)) return token
    throw new DlcError('invalid_terms', `miniscript ASM token "${token}" is not an opcode or push`)
  })
  return bscript.fromASM(tokens.join(' '))
}

/** BIP-341 TapLeaf hash: tagged hash of leaf version ‖ compact-size(script length) ‖ script. */
export function tapLeafHash(script: Uint8Array, leafVersion = TAPSCRIPT_LEAF_VERSION): Uint8Array {
  return schnorr.utils.taggedHash('TapLeaf', new Uint8Array([leafVersion]), compactSize(script.length), script)
}

function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return new Uint8Array([n])
  if (n <= 0xffff) return new Uint8Array([0xfd, n & 0xff, n >>> 8])
  return new Uint8Array([0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24])
}

/**
 * One way to satisfy a leaf, as the miniscript satisfier found it: the witness items below the
 * leaf script and control block, bottom → top (the order of a witness stack, so `multi_a`'s first
 * key, checked first, has its signature last). `{ sig: i }` is the 64-byte BIP-340 signature
 * (SIGHASH_DEFAULT) by key i of the leaf's key set (`leafKeys`: the ephemeral keys for 'oracle',
 * the guardian keys otherwise); 'empty' is the empty push for a key that does not sign.
 * `lockTime` is the nLockTime the spending transaction must carry (the timelock leaf), with an
 * input nSequence below 0xffffffff so that it is enforced.
 */
export interface LeafSatisfaction {
  readonly leaf: LeafName
  readonly stack: readonly ({ readonly sig: number } | 'empty')[]
  readonly lockTime?: number
}

/**
 * How `signers` (indices into the leaf's key set) satisfy a leaf: the first non-malleable
 * satisfaction of the miniscript satisfier when only their signatures are known. With exactly the
 * threshold of signers there is one. Throws DlcError('unsatisfiable') when they cannot satisfy it
 * (too few signers) and DlcError('invalid_terms') for an index outside the key set.
 */
export function leafSatisfaction(leaf: CompiledLeaf, terms: ContractTerms, signers: readonly number[]): LeafSatisfaction {
  const keys = leafKeys(terms, leaf.name).map(bytesToHex)
  for (const i of signers) {
    if (!Number.isInteger(i) || i < 0 || i >= keys.length) throw new DlcError('invalid_terms', `${leaf.name} leaf: no key ${i} (it has ${keys.length})`)
  }
  const knowns = [...new Set(signers)].map((i) => `<sig(${keys[i]!})>`)
  const solution = satisfier(leaf.miniscript, { tapscript: true, knowns }).nonMalleableSats[0]
  if (solution === undefined) {
    throw new DlcError('unsatisfiable', `${leaf.name} leaf: signers [${signers.join(', ')}] cannot satisfy ${leafThreshold(terms, leaf.name)}-of-${keys.length}`)
  }
  return { leaf: leaf.name, stack: parseSatisfaction(solution.asm, keys), ...(solution.nLockTime === undefined ? {} : { lockTime: solution.nLockTime }) }
}

/**
 * Parses a satisfier ASM (`0 <sig(KEY)> …`, bottom → top) into stack items, with each signature's key
 * as an index into `keys` (hex). A signature by a key outside `keys`, or any other item (preimages,
 * non-empty numbers), throws: the leaves have none.
 */
export function parseSatisfaction(asm: string, keys: readonly string[]): ({ readonly sig: number } | 'empty')[] {
  return asm.split(' ').map((token) => {
    if (token === '0') return 'empty'
    const sig = /^<sig\(([0-9a-f]{64})\)>$/.exec(token)
    const index = sig === null ? -1 : keys.indexOf(sig[1]!)
    if (index < 0) throw new DlcError('unsatisfiable', `satisfaction item "${token}" is not a signature by one of the leaf's keys`)
    return { sig: index }
  })
}

/**
 * The complete script-path witness of a satisfaction: its items with each `{ sig: i }` replaced by
 * `signatureOf(i)` (64 bytes), then the leaf script and control block.
 */
export function leafWitness(leaf: CompiledLeaf, satisfaction: LeafSatisfaction, signatureOf: (keyIndex: number) => Uint8Array): Uint8Array[] {
  if (satisfaction.leaf !== leaf.name) throw new DlcError('unsatisfiable', `a ${satisfaction.leaf} leaf satisfaction cannot spend the ${leaf.name} leaf`)
  const items = satisfaction.stack.map((item) => (item === 'empty' ? new Uint8Array(0) : signatureOf(item.sig)))
  return [...items, leaf.script, leaf.controlBlock]
}

/** The JSON form of a compiled contract (hex bytes, the terms' JSON form, the analysis report). */
function treeLeaf(contract: CompiledContract, name: LeafName): { leaf: LeafName; leafHash: string } {
  return { leaf: name, leafHash: bytesToHex(contract.leaves[name].leafHash) }
}

export function compiledContractToJson(contract: CompiledContract): Record<string, unknown> {
  return {
    contractId: contract.contractId,
    address: contract.address,
    internalKey: bytesToHex(contract.internalKey),
    outputKey: bytesToHex(contract.outputKey),
    scriptPubKey: bytesToHex(contract.scriptPubKey),
    merkleRoot: bytesToHex(contract.merkleRoot),
    // The BIP-341 tree as nested pairs (bitcoinjs Taptree shape), each leaf by name and hash.
    tapTree: [treeLeaf(contract, 'oracle'), [treeLeaf(contract, 'timelock'), treeLeaf(contract, 'emergency')]],
    leaves: Object.fromEntries(
      LEAF_NAMES.map((name) => {
        const leaf = contract.leaves[name]
        return [
          name,
          {
            miniscript: leaf.miniscript,
            asm: leaf.asm,
            script: bytesToHex(leaf.script),
            leafVersion: leaf.leafVersion,
            leafHash: bytesToHex(leaf.leafHash),
            controlBlock: bytesToHex(leaf.controlBlock),
          },
        ]
      }),
    ),
    analysis: contract.analysis,
    terms: termsToJson(contract.terms),
  }
}
