import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex, concatBytes } from '@noble/hashes/utils.js'
import { address as btcAddress, networks, payments } from 'bitcoinjs-lib'
import * as ecc from 'tiny-secp256k1'
import { describe, expect, it } from 'vitest'
import {
  assembleMiniscriptAsm,
  compileContract,
  compileTaproot,
  leafSatisfaction,
  leafWitness,
  TAPSCRIPT_LEAF_VERSION,
  type LeafName,
} from './compiler.js'
import { DlcError } from './errors.js'
import { exampleTerms } from './example-terms.js'
import { NUMS_INTERNAL_KEY } from './nums.js'
import { defaultDlcRules, TermsRejectedError } from './rules.js'
import { contractId, type ContractTerms } from './terms.js'

const NOW = 1_700_000_000
const rules = defaultDlcRules('regtest')
const terms = exampleTerms(rules, { now: NOW })
const contract = compileContract(terms, rules, { now: NOW })

const OP_CHECKSIG = 0xac
const OP_CHECKSIGADD = 0xba
const OP_NUMEQUAL = 0x9c
const OP_NUMEQUALVERIFY = 0x9d
const OP_CHECKLOCKTIMEVERIFY = 0xb1
const OP_N = (n: number): number => 0x50 + n

/** multi_a(k, keys) written out by hand: <K1> CHECKSIG <K2> CHECKSIGADD … <k> NUMEQUAL. */
function handMultiA(k: number, keys: readonly Uint8Array[], verify = false): Uint8Array {
  const parts = keys.map((key, i) => concatBytes(new Uint8Array([0x20]), key, new Uint8Array([i === 0 ? OP_CHECKSIG : OP_CHECKSIGADD])))
  return concatBytes(...parts, new Uint8Array([OP_N(k), verify ? OP_NUMEQUALVERIFY : OP_NUMEQUAL]))
}

/** The push of a CLTV operand, by hand (minimal CScriptNum: little-endian, sign bit kept clear). */
function handLockPush(value: number): Uint8Array {
  if (value >= 1 && value <= 16) return new Uint8Array([OP_N(value)])
  const bytes: number[] = []
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.push(v % 256)
  if ((bytes[bytes.length - 1]! & 0x80) !== 0) bytes.push(0)
  return new Uint8Array([bytes.length, ...bytes])
}

function handScripts(t: ContractTerms): Record<LeafName, Uint8Array> {
  return {
    oracle: handMultiA(t.cetThreshold, t.ephemeralKeys),
    timelock: concatBytes(handMultiA(t.timelockThreshold, t.guardianKeys, true), handLockPush(t.timelock.lockedUntil), new Uint8Array([OP_CHECKLOCKTIMEVERIFY])),
    emergency: handMultiA(t.emergencyThreshold, t.guardianKeys),
  }
}

function tagged(tag: string, ...parts: Uint8Array[]): Uint8Array {
  return schnorr.utils.taggedHash(tag, concatBytes(...parts))
}

function branch(a: Uint8Array, b: Uint8Array): Uint8Array {
  return bytesToHex(a) < bytesToHex(b) ? tagged('TapBranch', a, b) : tagged('TapBranch', b, a)
}

describe('compileTaproot / compileContract', () => {
  it('compiles each leaf to exactly the hand-written tapscript', () => {
    const hand = handScripts(terms)
    for (const name of ['oracle', 'timelock', 'emergency'] as const) expect(bytesToHex(contract.leaves[name].script)).toBe(bytesToHex(hand[name]))
    expect(contract.leaves.oracle.miniscript).toBe(`multi_a(3,${terms.ephemeralKeys.map(bytesToHex).join(',')})`)
    expect(contract.leaves.timelock.miniscript).toBe(`and_v(v:multi_a(3,${terms.guardianKeys.map(bytesToHex).join(',')}),after(${terms.timelock.lockedUntil}))`)
    expect(contract.leaves.emergency.miniscript).toBe(`multi_a(4,${terms.guardianKeys.map(bytesToHex).join(',')})`)
  })

  it('encodes the lock as a minimal script number, for heights and times', () => {
    // Known encodings: 800 000 = 0x0c3500, 1 700 172 800 = 0x65569400 (LE, sign bit clear).
    expect(bytesToHex(handLockPush(800_000))).toBe('0300350c')
    expect(bytesToHex(handLockPush(1_700_172_800))).toBe('0400945665')
    expect(bytesToHex(handLockPush(128))).toBe('028000')
    for (const lockedUntil of [1, 16, 17, 127, 128, 255, 32_768, 800_000, 8_388_608, 500_000_000, 1_700_172_800, 2 ** 31 - 1]) {
      const t = { ...terms, timelock: { unit: lockedUntil < 500_000_000 ? ('height' as const) : ('time' as const), lockedUntil } }
      expect(bytesToHex(compileTaproot(t).leaves.timelock.script)).toBe(bytesToHex(handScripts(t).timelock))
    }
  })

  it('builds the output bitcoinjs builds from the hand-written scripts, with the NUMS internal key', () => {
    const hand = handScripts(terms)
    const leaf = (s: Uint8Array): { output: Uint8Array; version: number } => ({ output: s, version: 0xc0 })
    const reference = payments.p2tr({ internalPubkey: NUMS_INTERNAL_KEY, scriptTree: [leaf(hand.oracle), [leaf(hand.timelock), leaf(hand.emergency)]], network: networks.regtest })
    expect(bytesToHex(contract.internalKey)).toBe(bytesToHex(NUMS_INTERNAL_KEY))
    expect(contract.address).toBe(reference.address)
    expect(bytesToHex(contract.scriptPubKey)).toBe(bytesToHex(reference.output!))
    expect(bytesToHex(contract.merkleRoot)).toBe(bytesToHex(reference.hash!))
    expect(contract.address.startsWith('bcrt1p')).toBe(true)
  })

  it('derives leaf hashes, merkle root, output key and control blocks as BIP-341 defines them', () => {
    const hand = handScripts(terms)
    const leafHash = (s: Uint8Array): Uint8Array => tagged('TapLeaf', new Uint8Array([TAPSCRIPT_LEAF_VERSION, s.length]), s)
    const h = { oracle: leafHash(hand.oracle), timelock: leafHash(hand.timelock), emergency: leafHash(hand.emergency) }
    const inner = branch(h.timelock, h.emergency)
    const root = branch(h.oracle, inner)
    const tweaked = ecc.xOnlyPointAddTweak(NUMS_INTERNAL_KEY, tagged('TapTweak', NUMS_INTERNAL_KEY, root))!
    expect(bytesToHex(contract.merkleRoot)).toBe(bytesToHex(root))
    expect(bytesToHex(contract.outputKey)).toBe(bytesToHex(tweaked.xOnlyPubkey))
    const head = concatBytes(new Uint8Array([TAPSCRIPT_LEAF_VERSION | tweaked.parity]), NUMS_INTERNAL_KEY)
    const paths: Record<LeafName, Uint8Array[]> = { oracle: [inner], timelock: [h.emergency, h.oracle], emergency: [h.timelock, h.oracle] }
    for (const name of ['oracle', 'timelock', 'emergency'] as const) {
      expect(bytesToHex(contract.leaves[name].leafHash)).toBe(bytesToHex(h[name]))
      expect(bytesToHex(contract.leaves[name].controlBlock)).toBe(bytesToHex(concatBytes(head, ...paths[name])))
      expect(contract.leaves[name].leafVersion).toBe(0xc0)
    }
  })

  it('pays a bech32m P2TR address of the terms network', () => {
    for (const [network, prefix, params] of [
      ['mainnet', 'bc', networks.bitcoin],
      ['testnet', 'tb', networks.testnet],
      ['regtest', 'bcrt', networks.regtest],
    ] as const) {
      const r = defaultDlcRules(network)
      const c = compileContract(exampleTerms(r, { now: NOW }), r, { now: NOW })
      const decoded = btcAddress.fromBech32(c.address)
      expect(decoded).toMatchObject({ prefix, version: 1 })
      expect(bytesToHex(decoded.data)).toBe(bytesToHex(c.outputKey))
      expect(bytesToHex(btcAddress.toOutputScript(c.address, params))).toBe(bytesToHex(c.scriptPubKey))
    }
  })

  it('carries the contract id, the terms and a passing analysis', () => {
    expect(contract.contractId).toBe(contractId(terms))
    expect(contract.terms).toBe(terms)
    expect(contract.analysis.ok).toBe(true)
  })

  it('refuses terms that break the rules with every reason', () => {
    const bad = { ...terms, emergencyThreshold: 3 }
    let error: unknown
    try {
      // 25 h later the 48 h lock is 23 h ahead.
      compileContract(bad, rules, { now: NOW + 25 * 3600 })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(TermsRejectedError)
    expect(error).toBeInstanceOf(DlcError)
    expect((error as TermsRejectedError).code).toBe('terms_rejected')
    expect((error as TermsRejectedError).reasons.map((r) => r.rule).sort()).toEqual(['emergency_threshold_mismatch', 'lock_too_short'])
    expect((error as Error).message).toMatch(/emergency path: 3-of-5 guardians; the rules require 4-of-5/)
  })

  it('refuses a leaf the miniscript compiler refuses', () => {
    expect(() => compileTaproot({ ...terms, emergencyThreshold: 6 })).toThrow(/emergency leaf: miniscript does not compile \(multi_a\(\) k out of range: 6\)/)
  })
})

describe('assembleMiniscriptAsm', () => {
  it('turns <hex> pushes, small numbers and opcodes into script bytes', () => {
    expect(bytesToHex(assembleMiniscriptAsm('<00350c> OP_CHECKLOCKTIMEVERIFY 0 16 -1 OP_NUMEQUAL'))).toBe('0300350cb100604f9c')
  })

  it('refuses tokens that are not pushes or opcodes', () => {
    expect(() => assembleMiniscriptAsm('<sig(00)> OP_CHECKSIG')).toThrow(DlcError)
    expect(() => assembleMiniscriptAsm('17 OP_CHECKSIG')).toThrow(/"17" is not an opcode or push/)
  })
})

describe('leafSatisfaction / leafWitness', () => {
  it('gives the witness items bottom → top, the first key signing last', () => {
    expect(leafSatisfaction(contract.leaves.oracle, terms, [4, 0, 2])).toEqual({ leaf: 'oracle', stack: [{ sig: 4 }, 'empty', { sig: 2 }, 'empty', { sig: 0 }] })
    expect(leafSatisfaction(contract.leaves.emergency, terms, [0, 1, 2, 3])).toEqual({ leaf: 'emergency', stack: ['empty', { sig: 3 }, { sig: 2 }, { sig: 1 }, { sig: 0 }] })
  })

  it('asks the timelock leaf for nLockTime = lockedUntil', () => {
    expect(leafSatisfaction(contract.leaves.timelock, terms, [1, 2, 3])).toEqual({
      leaf: 'timelock',
      stack: ['empty', { sig: 3 }, { sig: 2 }, { sig: 1 }, 'empty'],
      lockTime: terms.timelock.lockedUntil,
    })
  })

  it('uses a threshold of the signers when more are available', () => {
    const { stack } = leafSatisfaction(contract.leaves.emergency, terms, [0, 1, 2, 3, 4])
    expect(stack.filter((item) => item !== 'empty')).toHaveLength(4)
  })

  it('refuses too few signers and unknown key indices', () => {
    expect(() => leafSatisfaction(contract.leaves.emergency, terms, [0, 1, 2])).toThrow(expect.objectContaining({ code: 'unsatisfiable' }) as Error)
    expect(() => leafSatisfaction(contract.leaves.oracle, terms, [0, 0, 1])).toThrow(/cannot satisfy 3-of-5/)
    expect(() => leafSatisfaction(contract.leaves.oracle, terms, [0, 1, 5])).toThrow(/no key 5/)
  })

  it('fills in signatures and appends the leaf script and control block', () => {
    const satisfaction = leafSatisfaction(contract.leaves.timelock, terms, [0, 3, 4])
    const asked: number[] = []
    const witness = leafWitness(contract.leaves.timelock, satisfaction, (i) => {
      asked.push(i)
      return new Uint8Array(64).fill(i + 1)
    })
    expect(asked.sort()).toEqual([0, 3, 4])
    expect(witness.map((item) => bytesToHex(item))).toEqual([
      bytesToHex(new Uint8Array(64).fill(5)),
      bytesToHex(new Uint8Array(64).fill(4)),
      '',
      '',
      bytesToHex(new Uint8Array(64).fill(1)),
      bytesToHex(contract.leaves.timelock.script),
      bytesToHex(contract.leaves.timelock.controlBlock),
    ])
    expect(() => leafWitness(contract.leaves.emergency, satisfaction, () => new Uint8Array(64))).toThrow(/timelock leaf satisfaction cannot spend the emergency leaf/)
  })
})
