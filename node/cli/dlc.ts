import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import {
  compileContract,
  decodeOracleAnnouncement,
  ORACLES_PER_CONTRACT,
  type OracleAnnouncement,
  compiledContractToJson,
  defaultDlcRules,
  devKey,
  devOracles,
  DlcError,
  dlcRulesFromGenesis,
  exampleTerms,
  LEAF_NAMES,
  leafThreshold,
  parseTerms,
  TermsRejectedError,
  termsToJson,
  type CompiledContract,
  type ContractTerms,
  type DlcRules,
  type LockUnit,
} from '../../dlc/index.js'
import { BITCOIN_NETWORKS, type BitcoinNetwork, type Genesis } from '../../protocol/index.js'
import { loadGenesis } from '../guardian/load-genesis.js'
import { CommandError, parseFlags, UsageError } from './usage-error.js'

export const DLC_HELP = `ubtc dlc compile --terms FILE [--json] [--genesis FILE] [--now UNIX] [--tip-height H]
ubtc dlc example-terms [--genesis FILE] [--network mainnet|testnet|regtest] [--now UNIX]
                       [--unit time|height] [--tip-height H] [--api URL --event-id ID]

compile        checks contract terms (the JSON that example-terms prints) against the security
               rules, compiles them to the taproot output (NUMS internal key, leaves oracle,
               timelock, emergency) and analyses every spending path. Prints the address, the
               internal key, each leaf's miniscript, script, leaf hash and control block, and the
               analysis report; --json prints one JSON object instead. If the rules or the
               analysis refuse the terms, lists every reason and exits 1.
               The rules are the genesis file's (policy, thresholds, guardian count, Bitcoin
               network, oracles); without --genesis, the default rules for 5 guardians on the
               terms' network, and announcements are not checked against an oracle list.
example-terms  prints valid example terms (JSON) for the local network: 1 BTC, two outcomes
               announced by three *dev* oracles, a 48 h time lock (or 288 blocks above
               --tip-height with --unit height), and dev guardian keys. Dev keys come from public
               labels: for examples and local testing only, never for real coins. With --genesis,
               the network, guardian count and thresholds are the genesis file's.
               With --api URL --event-id ID, the announcements are the ones the guardian network
               committed for that event (what \`ubtc oracle announce\` published), so the terms
               compile against the network's genesis; the payouts follow the event's outcomes.

  --now UNIX        the time locks are measured from, unix seconds (default: the current time)
  --tip-height H    the chain tip height: needed for height locks

A wrong command line exits 2.`

/** Largest terms file read: the terms are a few kilobytes, 64 outcomes at most. */
const MAX_TERMS_FILE_BYTES = 1024 * 1024
const MAX_LOCK_VALUE = 2 ** 31 - 1

/** `ubtc dlc`: compiles DLC terms and prints example terms. Returns the exit code; notes for the operator go to `note`. */
export async function dlcCommand(argv: readonly string[], out: (line: string) => void, note: (line: string) => void): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === 'compile') return compileSubcommand(rest, out, note)
  if (sub === 'example-terms') return exampleTermsSubcommand(rest, out, note)
  throw new UsageError(sub === undefined ? 'a subcommand is required: compile or example-terms' : `unknown subcommand "${sub}": expected compile or example-terms`)
}

async function compileSubcommand(argv: readonly string[], out: (line: string) => void, note: (line: string) => void): Promise<number> {
  const flags = parseFlags(argv, {
    terms: { type: 'string' },
    json: { type: 'boolean' },
    genesis: { type: 'string' },
    now: { type: 'string' },
    'tip-height': { type: 'string' },
  })
  if (flags.terms === undefined) throw new UsageError('--terms FILE is required')
  const now = timeFlag(flags.now)
  const tipHeight = optionalInteger(flags['tip-height'], 'tip-height')
  const genesis = flags.genesis === undefined ? undefined : await loadGenesis(resolve(flags.genesis))
  const terms = await loadTerms(flags.terms)
  const rules = genesis === undefined ? defaultDlcRules(terms.network) : dlcRulesFromGenesis(genesis)
  let contract: CompiledContract
  try {
    contract = compileContract(terms, rules, { now, ...(tipHeight === undefined ? {} : { tipHeight }) })
  } catch (err) {
    if (!(err instanceof TermsRejectedError)) throw err
    if (flags.json === true) {
      out(JSON.stringify({ ok: false, reasons: err.reasons }))
    } else {
      out(`terms rejected (${err.reasons.length} reason${err.reasons.length === 1 ? '' : 's'}):`)
      for (const reason of err.reasons) out(`  - ${reason.message} [${reason.rule}]`)
    }
    return 1
  }
  const warnings = devKeyWarnings(terms)
  if (genesis === undefined) warnings.push(`no --genesis: checked against the default rules for ${rules.guardianCount} guardians on ${rules.network}; oracles not checked against a genesis`)
  for (const warning of warnings) note(`note: ${warning}`)
  if (flags.json === true) {
    out(JSON.stringify({ ok: true, ...compiledContractToJson(contract) }))
  } else {
    for (const line of describeContract(contract, rules)) out(line)
  }
  return 0
}

async function exampleTermsSubcommand(argv: readonly string[], out: (line: string) => void, note: (line: string) => void): Promise<number> {
  const flags = parseFlags(argv, {
    genesis: { type: 'string' },
    network: { type: 'string' },
    now: { type: 'string' },
    unit: { type: 'string' },
    'tip-height': { type: 'string' },
    api: { type: 'string' },
    'event-id': { type: 'string' },
  })
  if ((flags.api === undefined) !== (flags['event-id'] === undefined)) throw new UsageError('--api URL and --event-id ID go together')
  const network = flags.network
  if (network !== undefined && !(BITCOIN_NETWORKS as readonly string[]).includes(network)) {
    throw new UsageError(`--network must be one of ${BITCOIN_NETWORKS.join(', ')}, got "${network}"`)
  }
  const unit = flags.unit ?? 'time'
  if (unit !== 'time' && unit !== 'height') throw new UsageError(`--unit must be time or height, got "${unit}"`)
  const tipHeight = optionalInteger(flags['tip-height'], 'tip-height')
  if (unit === 'height' && tipHeight === undefined) throw new UsageError('--unit height needs --tip-height H')
  const now = timeFlag(flags.now)
  const genesis: Genesis | undefined = flags.genesis === undefined ? undefined : await loadGenesis(resolve(flags.genesis))
  if (genesis !== undefined && network !== undefined && network !== genesis.bitcoinNetwork) {
    throw new UsageError(`--network ${network} differs from the genesis's Bitcoin network ${genesis.bitcoinNetwork}`)
  }
  const rules: DlcRules = genesis === undefined ? defaultDlcRules((network ?? 'regtest') as BitcoinNetwork) : dlcRulesFromGenesis(genesis)
  const announcements = flags.api === undefined ? undefined : await committedAnnouncements(flags.api, flags['event-id']!, rules)
  const terms = exampleTerms(rules, { now, unit: unit as LockUnit, ...(tipHeight === undefined ? {} : { tipHeight }), ...(announcements === undefined ? {} : { announcements }) })
  out(JSON.stringify(termsToJson(terms), null, 2))
  if (announcements === undefined) {
    note(`note: example terms on ${rules.network}: announcements by the dev oracles ${devOracles().map((o) => o.label).join(', ')} and dev ephemeral/guardian keys,`)
    note('note: all derived from public labels: for examples and local testing only, never for real coins')
    if (genesis !== undefined && genesis.oracles.length > 0) note('note: the genesis lists its own oracles, so `ubtc dlc compile --genesis` refuses dev-oracle announcements (unknown_oracle); use --api URL --event-id ID')
  } else {
    note(`note: example terms on ${rules.network} for event "${flags['event-id']!}" as committed by ${flags.api}; dev ephemeral/guardian keys from public labels: for local testing only`)
  }
  return 0
}

/** The announcements a guardian node committed for `eventId`, one per oracle, as the terms need them. */
async function committedAnnouncements(api: string, eventId: string, rules: DlcRules): Promise<OracleAnnouncement[]> {
  let url: URL
  try {
    url = new URL(`/v1/oracle/events/${encodeURIComponent(eventId)}`, api)
  } catch {
    throw new UsageError(`--api: not a URL: ${api}`)
  }
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    throw new CommandError('unreachable', `cannot reach ${url.origin}: ${(err as Error).message}`, { cause: err })
  }
  if (response.status === 404) throw new CommandError('http_error', `${url.origin} has no committed oracle event "${eventId}"`)
  if (!response.ok) throw new CommandError('http_error', `${url.href} answered ${response.status}`)
  const event = (await response.json()) as { announcements?: Array<{ announcement?: unknown }> }
  const announcements = (event.announcements ?? []).map((a) => {
    if (typeof a.announcement !== 'string' || !/^([0-9a-f]{2})+$/.test(a.announcement)) throw new CommandError('http_error', `${url.href}: an announcement is not hex`)
    return decodeOracleAnnouncement(hexToBytes(a.announcement))
  })
  if (announcements.length < ORACLES_PER_CONTRACT) {
    throw new CommandError('http_error', `event "${eventId}" has ${announcements.length} committed announcement(s); a contract needs ${ORACLES_PER_CONTRACT} oracles (${rules.policy.oracleThreshold} of ${ORACLES_PER_CONTRACT})`)
  }
  return announcements.slice(0, ORACLES_PER_CONTRACT)
}

/** Reads and parses a terms file; unreadable, non-JSON or malformed terms throw DlcError('invalid_terms') naming the file. */
async function loadTerms(file: string): Promise<ContractTerms> {
  let bytes: Buffer
  try {
    bytes = await readFile(resolve(file))
  } catch (err) {
    throw new DlcError('invalid_terms', `terms: cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  if (bytes.length > MAX_TERMS_FILE_BYTES) throw new DlcError('invalid_terms', `terms: ${file} is ${bytes.length} bytes, more than ${MAX_TERMS_FILE_BYTES}`)
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new DlcError('invalid_terms', `terms: ${file} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  try {
    return parseTerms(json)
  } catch (err) {
    if (err instanceof DlcError) throw new DlcError('invalid_terms', `${err.message} (in ${file})`, { cause: err })
    throw err
  }
}

function describeContract(contract: CompiledContract, rules: DlcRules): string[] {
  const { terms, analysis } = contract
  const lines = [
    `contract       ${contract.contractId}`,
    `address        ${contract.address}`,
    `internal key   ${bytesToHex(contract.internalKey)} (BIP-341 NUMS point: no key path)`,
    `output key     ${bytesToHex(contract.outputKey)}`,
    `merkle root    ${bytesToHex(contract.merkleRoot)}`,
    `tap tree       [oracle, [timelock, emergency]]`,
    `amount         ${terms.amountSat} sat on ${terms.network}, fee rate ${terms.feeRate} sat/vB`,
    `oracles        ${terms.oracle.threshold} of ${terms.oracle.announcements.length}, event "${terms.oracle.announcements[0]?.event.eventId ?? ''}", outcomes ${terms.payouts.map((p) => `"${p.outcome}"`).join(', ')}`,
    `timelock       ${terms.timelock.unit === 'time' ? `unix time ${terms.timelock.lockedUntil} (${new Date(terms.timelock.lockedUntil * 1000).toISOString()})` : `height ${terms.timelock.lockedUntil}`}`,
    `rules          ${rules.guardianCount} guardians on ${rules.network}`,
  ]
  for (const name of LEAF_NAMES) {
    const leaf = contract.leaves[name]
    const facts = analysis.leaves.find((l) => l.name === name)
    lines.push('', `leaf ${name} (${leafThreshold(terms, name)} of ${facts?.requires.keySet ?? ''} keys${name === 'timelock' ? ` after ${terms.timelock.lockedUntil}` : ''})`)
    lines.push(`  miniscript     ${leaf.miniscript}`)
    lines.push(`  script         ${bytesToHex(leaf.script)}`)
    lines.push(`  leaf hash      ${bytesToHex(leaf.leafHash)}`)
    lines.push(`  control block  ${bytesToHex(leaf.controlBlock)}`)
    if (facts !== undefined) {
      lines.push(
        `  analysis       ${facts.sane ? 'sane' : 'NOT sane'}, ${facts.nonMalleable ? 'non-malleable' : 'MALLEABLE'}, ${facts.timelockMix ? 'MIXES timelocks' : 'no timelock mix'}, ${facts.hasDuplicateKeys ? 'REPEATED keys' : 'distinct keys'}`,
        `                 ${facts.satisfactions} satisfactions (${facts.malleableSatisfactions} malleable), each needs ≥ ${facts.requires.signatures} ${facts.requires.keySet} signatures${facts.requires.lockTime === undefined ? '' : ` and nLockTime ${facts.requires.lockTime}`}; ${facts.minimal ? `none with ${facts.requires.signatures - 1}` : 'NOT minimal'}`,
      )
    }
  }
  lines.push('', analysis.ok ? 'analysis ok: key path unspendable; every satisfaction of every leaf needs what the rules require' : `analysis FAILED: ${analysis.problems.join('; ')}`)
  return lines
}

/** Warns when terms use the public dev keys of example-terms: fine for testing, fatal for real coins. */
function devKeyWarnings(terms: ContractTerms): string[] {
  const oracleKeys = new Set(devOracles().map((o) => bytesToHex(o.publicKey)))
  const warnings: string[] = []
  if (terms.oracle.announcements.some((a) => oracleKeys.has(bytesToHex(a.oraclePublicKey)))) warnings.push('announcements by the public dev oracles: example terms, not for real coins')
  const devKeys = new Set<string>()
  for (let i = 1; i <= Math.max(terms.ephemeralKeys.length, terms.guardianKeys.length); i++) {
    devKeys.add(bytesToHex(devKey(`dev-ephemeral-${i}`).publicKey))
    devKeys.add(bytesToHex(devKey(`dev-guardian-${i}`).publicKey))
  }
  if ([...terms.ephemeralKeys, ...terms.guardianKeys].some((k) => devKeys.has(bytesToHex(k)))) warnings.push('public dev keys on the leaves: anyone can spend these paths')
  return warnings
}

function timeFlag(value: string | undefined): number {
  return optionalInteger(value, 'now') ?? Math.floor(Date.now() / 1000)
}

function optionalInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^[0-9]+$/.test(value) || Number(value) > MAX_LOCK_VALUE) throw new UsageError(`--${flag} must be an integer 0-${MAX_LOCK_VALUE}, got "${value}"`)
  return Number(value)
}
