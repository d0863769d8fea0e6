import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compileContract, defaultDlcRules, devAnnouncements, devOracles, encodeOracleAnnouncement, parseTerms, termsToJson, type ContractTerms } from '../../dlc/index.js'
import { fakeApiServer, ORACLE_EVENT } from '../../api/test-helpers/fake-source.js'
import { CodedError, genesisToJson } from '../../protocol/index.js'
import { makeNetwork } from '../app/test-helpers/network.js'
import { dlcCommand } from './dlc.js'
import { UsageError } from './usage-error.js'

const NOW = 1_700_000_000
let dir: string
let termsFile: string
let terms: ContractTerms
/** A 5-guardian testnet genesis without oracles, and one listing the three dev oracles. */
let bareGenesisFile: string
let devOracleGenesisFile: string

interface Run {
  readonly code: number
  readonly out: string[]
  readonly notes: string[]
}

async function run(args: readonly string[]): Promise<Run> {
  const out: string[] = []
  const notes: string[] = []
  const code = await dlcCommand(args, (line) => out.push(line), (line) => notes.push(line))
  return { code, out, notes }
}

/** Writes `t` (as JSON) to a fresh file in the temp dir. */
let files = 0
async function termsFileOf(t: ContractTerms | unknown, raw = false): Promise<string> {
  const file = join(dir, `terms-${files++}.json`)
  await writeFile(file, raw ? String(t) : JSON.stringify(termsToJson(t as ContractTerms)))
  return file
}

async function thrown(args: readonly string[]): Promise<Error> {
  try {
    await run(args)
  } catch (err) {
    return err as Error
  }
  throw new Error(`dlc ${args.join(' ')} did not throw`)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ubtc-dlc-cli-'))
  const example = await run(['example-terms', '--now', String(NOW)])
  expect(example.code).toBe(0)
  terms = parseTerms(JSON.parse(example.out.join('\n')))
  termsFile = await termsFileOf(terms)
  const bare = await makeNetwork()
  bareGenesisFile = join(dir, 'genesis-bare.json')
  await writeFile(bareGenesisFile, JSON.stringify(genesisToJson(bare.genesis)))
  const oracles = await Promise.all(
    devOracles().map(async (o, i) => ({ name: `dev-oracle-${i + 1}`, peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), publicKey: bytesToHex(o.publicKey) })),
  )
  const withOracles = await makeNetwork({ genesis: { oracles } })
  devOracleGenesisFile = join(dir, 'genesis-dev-oracles.json')
  await writeFile(devOracleGenesisFile, JSON.stringify(genesisToJson(withOracles.genesis)))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('ubtc dlc example-terms', () => {
  it('prints valid regtest terms as JSON, and says the keys are dev keys', async () => {
    const { code, out, notes } = await run(['example-terms', '--now', String(NOW)])
    expect(code).toBe(0)
    const printed = parseTerms(JSON.parse(out.join('\n')))
    expect(printed.network).toBe('regtest')
    expect(printed.timelock).toEqual({ unit: 'time', lockedUntil: NOW + 48 * 3600 })
    expect(printed.payouts.map((p) => p.outcome)).toEqual(['repaid', 'liquidated'])
    expect(notes.join('\n')).toMatch(/dev oracles dev-oracle-1, dev-oracle-2, dev-oracle-3/)
    expect(notes.join('\n')).toMatch(/never for real coins/)
  })

  it('follows --network, --unit height --tip-height and the genesis', async () => {
    const testnet = await run(['example-terms', '--network', 'testnet', '--now', String(NOW)])
    expect(parseTerms(JSON.parse(testnet.out.join('\n'))).network).toBe('testnet')
    const height = await run(['example-terms', '--unit', 'height', '--tip-height', '800000'])
    expect(parseTerms(JSON.parse(height.out.join('\n'))).timelock).toEqual({ unit: 'height', lockedUntil: 800_288 })
    const fromGenesis = await run(['example-terms', '--genesis', devOracleGenesisFile, '--now', String(NOW)])
    const t = parseTerms(JSON.parse(fromGenesis.out.join('\n')))
    expect(t).toMatchObject({ network: 'regtest', emergencyThreshold: 4, cetThreshold: 3 })
    expect(fromGenesis.notes.join('\n')).toMatch(/genesis lists its own oracles/)
  })
})

describe('ubtc dlc compile', () => {
  it('prints the compiled contract and its analysis', async () => {
    const { code, out, notes } = await run(['compile', '--terms', termsFile, '--now', String(NOW)])
    expect(code).toBe(0)
    const contract = compileContract(terms, defaultDlcRules('regtest'), { now: NOW })
    const text = out.join('\n')
    expect(text).toContain(`address        ${contract.address}`)
    expect(text).toContain('internal key   50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0 (BIP-341 NUMS point: no key path)')
    for (const name of ['oracle', 'timelock', 'emergency'] as const) {
      const leaf = contract.leaves[name]
      expect(text).toContain(`  miniscript     ${leaf.miniscript}`)
      expect(text).toContain(`  script         ${bytesToHex(leaf.script)}`)
      expect(text).toContain(`  control block  ${bytesToHex(leaf.controlBlock)}`)
    }
    expect(text).toContain('5 satisfactions (0 malleable), each needs ≥ 4 guardian signatures; none with 3')
    expect(text).toContain(`10 satisfactions (0 malleable), each needs ≥ 3 guardian signatures and nLockTime ${terms.timelock.lockedUntil}; none with 2`)
    expect(text).toMatch(/analysis ok: key path unspendable/)
    expect(notes.join('\n')).toMatch(/public dev oracles/)
    expect(notes.join('\n')).toMatch(/no --genesis: checked against the default rules for 5 guardians on regtest/)
  })

  it('prints one JSON object with --json', async () => {
    const { code, out } = await run(['compile', '--terms', termsFile, '--now', String(NOW), '--json'])
    expect(code).toBe(0)
    expect(out).toHaveLength(1)
    const json = JSON.parse(out[0]!)
    const contract = compileContract(terms, defaultDlcRules('regtest'), { now: NOW })
    expect(json).toMatchObject({ ok: true, contractId: contract.contractId, address: contract.address, internalKey: bytesToHex(contract.internalKey) })
    expect(json.leaves.timelock).toEqual({
      miniscript: contract.leaves.timelock.miniscript,
      asm: contract.leaves.timelock.asm,
      script: bytesToHex(contract.leaves.timelock.script),
      leafVersion: 0xc0,
      leafHash: bytesToHex(contract.leaves.timelock.leafHash),
      controlBlock: bytesToHex(contract.leaves.timelock.controlBlock),
    })
    expect(json.tapTree).toEqual([
      { leaf: 'oracle', leafHash: bytesToHex(contract.leaves.oracle.leafHash) },
      [
        { leaf: 'timelock', leafHash: bytesToHex(contract.leaves.timelock.leafHash) },
        { leaf: 'emergency', leafHash: bytesToHex(contract.leaves.emergency.leafHash) },
      ],
    ])
    expect(json.analysis).toEqual(JSON.parse(JSON.stringify(contract.analysis)))
    expect(parseTerms(json.terms)).toEqual(terms)
  })

  it('lists every reason and exits 1 when the rules refuse the terms', async () => {
    const g = terms.guardianKeys
    const bad = { ...terms, emergencyThreshold: 3, guardianKeys: [g[0]!, g[0]!, g[2]!, g[3]!, g[4]!] }
    const { code, out } = await run(['compile', '--terms', await termsFileOf(bad), '--now', String(NOW + 25 * 3600)])
    expect(code).toBe(1)
    expect(out[0]).toBe('terms rejected (3 reasons):')
    expect(out.slice(1).sort()).toEqual(
      [
        `  - emergency path: 3-of-5 guardians; the rules require 4-of-5 [emergency_threshold_mismatch]`,
        `  - guardianKeys[1] repeats guardianKeys[0] (${bytesToHex(g[0]!)}) [duplicate_key]`,
        `  - timelock: locked until ${terms.timelock.lockedUntil}, 23 h from now; the rules require at least 24 h [lock_too_short]`,
      ].sort(),
    )
    const over = { ...terms, payouts: [{ ...terms.payouts[0]!, outputs: [{ ...terms.payouts[0]!.outputs[0]!, valueSat: terms.amountSat }] }, terms.payouts[1]!] }
    const json = await run(['compile', '--terms', await termsFileOf(over), '--now', String(NOW), '--json'])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.out[0]!)).toEqual({ ok: false, reasons: [{ rule: 'outputs_exceed_amount', message: expect.stringMatching(/^outcome "repaid": outputs total 100000000 sat/) }] })
  })

  it('checks the oracles against --genesis', async () => {
    const bare = await run(['compile', '--terms', termsFile, '--now', String(NOW), '--genesis', bareGenesisFile])
    expect(bare.code).toBe(1)
    expect(bare.out).toContain('  - announcement 0: the genesis lists no oracles [unknown_oracle]')
    const known = await run(['compile', '--terms', termsFile, '--now', String(NOW), '--genesis', devOracleGenesisFile])
    expect(known.code).toBe(0)
    expect(known.notes.join('\n')).not.toMatch(/no --genesis/)
  })

  it('needs --tip-height for height locks', async () => {
    const height = await run(['example-terms', '--unit', 'height', '--tip-height', '800000'])
    const file = await termsFileOf(height.out.join('\n'), true)
    const without = await run(['compile', '--terms', file])
    expect(without.code).toBe(1)
    expect(without.out.join('\n')).toMatch(/\[tip_height_required\]/)
    expect((await run(['compile', '--terms', file, '--tip-height', '800000'])).code).toBe(0)
  })
})

describe('ubtc dlc: bad input gives a message, never a stack trace', () => {
  it('throws a coded error (exit 1) for unreadable, non-JSON or malformed terms and a bad genesis', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['compile', '--terms', join(dir, 'missing.json')], /^terms: cannot read .*missing\.json: ENOENT/],
      [['compile', '--terms', await termsFileOf('{"version":', true)], /^terms: .* is not valid JSON/],
      [['compile', '--terms', await termsFileOf('[]', true)], /^terms: expected an object \(in .*\)$/],
      [['compile', '--terms', await termsFileOf(JSON.stringify({ ...termsToJson(terms), network: 'signet' }), true)], /^terms.network: expected one of mainnet, testnet, regtest/],
      [['compile', '--terms', termsFile, '--genesis', termsFile], /^genesis: unknown key "version" \(in .*terms-0\.json\)$/],
      [['example-terms', '--genesis', join(dir, 'missing-genesis.json')], /^genesis: cannot read/],
    ]
    for (const [args, message] of cases) {
      const err = await thrown(args)
      expect(err, args.join(' ')).toBeInstanceOf(CodedError)
      expect(err.message).toMatch(message)
    }
  })

  it('throws UsageError (exit 2) for a wrong command line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /a subcommand is required: compile or example-terms/],
      [['verify'], /unknown subcommand "verify"/],
      [['compile'], /--terms FILE is required/],
      [['compile', '--terms', termsFile, '--now', 'yesterday'], /--now must be an integer/],
      [['compile', '--terms', termsFile, '--tip-height', '1.5'], /--tip-height must be an integer 0-2147483647, got "1.5"/],
      [['compile', '--terms', termsFile, '--verbose'], /Unknown option '--verbose'/],
      [['compile', '--terms', termsFile, 'extra'], /positional/],
      [['example-terms', '--network', 'signet'], /--network must be one of mainnet, testnet, regtest/],
      [['example-terms', '--unit', 'blocks'], /--unit must be time or height/],
      [['example-terms', '--unit', 'height'], /--unit height needs --tip-height H/],
      [['example-terms', '--genesis', bareGenesisFile, '--network', 'mainnet'], /--network mainnet differs from the genesis's Bitcoin network regtest/],
    ]
    for (const [args, message] of cases) {
      const err = await thrown(args)
      expect(err, args.join(' ')).toBeInstanceOf(UsageError)
      expect(err.message).toMatch(message)
    }
  })
})

describe('ubtc dlc example-terms --api URL --event-id ID', () => {
  const EVENT_ID = 'committed-event'
  const MATURITY = NOW + 3600

  /** An API whose node committed the dev oracles' announcements of EVENT_ID (the first `count` of them). */
  async function apiWith(count: number): Promise<{ url: string; close: () => Promise<void> }> {
    const announcements = devAnnouncements(EVENT_ID, MATURITY, ['up', 'down', 'flat']).slice(0, count)
    const server = await fakeApiServer({
      oracleEvent: async (eventId) =>
        eventId !== EVENT_ID
          ? undefined
          : {
              ...ORACLE_EVENT,
              eventId,
              outcomes: ['up', 'down', 'flat'],
              maturity: MATURITY,
              announcements: announcements.map((a, i) => ({ oracle: `oracle-${i}`, publicKey: bytesToHex(a.oraclePublicKey), nonce: bytesToHex(a.event.nonces[0]!), announcement: bytesToHex(encodeOracleAnnouncement(a)), height: 2, timeMs: NOW * 1000 })),
            },
    })
    return { url: await server.listen(), close: () => server.close() }
  }

  it('builds terms on the committed announcements, with one payout per outcome, that compile against a genesis listing those oracles', async () => {
    const api = await apiWith(3)
    try {
      const result = await run(['example-terms', '--now', String(NOW), '--genesis', devOracleGenesisFile, '--api', api.url, '--event-id', EVENT_ID])
      expect(result.code).toBe(0)
      const built = parseTerms(JSON.parse(result.out.join('\n')))
      expect(built.oracle.announcements.map((a) => a.event.eventId)).toEqual([EVENT_ID, EVENT_ID, EVENT_ID])
      expect(built.payouts.map((p) => p.outcome)).toEqual(['up', 'down', 'flat'])
      const compiled = await run(['compile', '--terms', await termsFileOf(built), '--genesis', devOracleGenesisFile, '--now', String(NOW)])
      expect(compiled.code).toBe(0)
    } finally {
      await api.close()
    }
  })

  it('refuses an unknown event, too few announcements, and one flag without the other', async () => {
    const api = await apiWith(2)
    try {
      expect((await thrown(['example-terms', '--api', api.url, '--event-id', 'nope'])).message).toMatch(/has no committed oracle event "nope"/)
      expect((await thrown(['example-terms', '--api', api.url, '--event-id', EVENT_ID])).message).toMatch(/2 committed announcement\(s\); a contract needs 3 oracles/)
      expect(await thrown(['example-terms', '--api', api.url])).toBeInstanceOf(UsageError)
      expect((await thrown(['example-terms', '--api', 'http://127.0.0.1:1', '--event-id', EVENT_ID])).message).toMatch(/cannot reach/)
    } finally {
      await api.close()
    }
  })
})
