import { access } from 'node:fs/promises'
import { resolve } from 'node:path'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { OracleEventView } from '../../api/index.js'
import { announcementId, attestationId, encodeOracleMessage, type OracleMessage } from '../../dlc/index.js'
import { CodedError, type Genesis, type OracleInfo } from '../../protocol/index.js'
import { loadGenesis } from '../guardian/load-genesis.js'
import {
  DEFAULT_KDF,
  generateOracleKeys,
  journalAnnounce,
  journalAttest,
  oracleJournalPath,
  readOracleKeystore,
  readOracleKeystorePublic,
  readPassphrase,
  writeOracleKeystore,
  type KdfParams,
} from '../keystore/index.js'
import { OraclePublishError, parseGuardianPeers, publishOracleMessage } from '../oracle/index.js'
import { CommandError, parseFlags, positiveInteger, UsageError } from './usage-error.js'

export const ORACLE_HELP = `ubtc oracle keygen --out FILE [--name NAME] [--passphrase-file F] [--force]
ubtc oracle announce --keystore F --genesis FILE --peer MULTIADDR [--peer MULTIADDR…]
                     --event-id ID --outcomes A,B[,C…] --maturity UNIX|ISO
                     [--api URL --wait] [--timeout-s N] [--passphrase-file F]
ubtc oracle attest --keystore F --genesis FILE --peer MULTIADDR [--peer MULTIADDR…]
                   --event-id ID --outcome O [--api URL --wait] [--timeout-s N] [--passphrase-file F]

An oracle of the guardian network signs dlcspecs (v0) enum-event announcements and attestations
with its BIP-340 key and publishes them over libp2p on the network's oracle topic; the guardians
check them against genesis.oracles before relaying and committing them.

keygen    writes an encrypted oracle keystore (BIP-340 oracle key and libp2p key; scrypt +
          AES-256-GCM, mode 0600) and prints {"name","peerId","publicKey"}: the entry to add to
          genesis.oracles (--name, default "oracle"). Refuses to replace a keystore unless --force.
announce  announces an event. A fresh nonce is written to the oracle's journal
          (<keystore>.events.json, encrypted like the keystore) before the announcement is
          published; announcing the same event again re-publishes the stored announcement.
attest    signs the outcome with the event's nonce, records the attestation in the journal and
          erases the nonce, then publishes. Attesting again with the same outcome re-publishes;
          with another outcome it is refused (two outcomes under one nonce reveal the oracle key).

--peer        a guardian's libp2p address ending in /p2p/<peer id>; repeat it for several. The
              guardians subscribed to the oracle topic receive the message and relay it.
--maturity    when the outcome becomes known: unix seconds, or an ISO-8601 time.
--api --wait  then polls GET URL/v1/oracle/events/<id> on a guardian until the network has
              committed this oracle's announcement (attestation).
--timeout-s   bounds the publication and the wait, each (default 60).

The passphrase comes from --passphrase-file or UBTC_PASSPHRASE. The keystore's key must be one of
genesis.oracles. announce and attest print one JSON line: what was published, to how many
guardians, and the committed height with --wait.
Exit codes: 0 done, 1 failed (refused, unreachable, not committed in time), 2 usage error.`

/** Why `ubtc oracle` could not do its job, beyond the keystore, journal and network errors. */
export class OracleCommandError extends CodedError<'not_in_genesis' | 'exists' | 'conflict' | 'not_committed'> {}

type Out = (line: string) => void

export async function oracleCommand(argv: readonly string[], env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const [sub, ...rest] = argv
  switch (sub) {
    case 'keygen':
      return keygen(rest, env, out)
    case 'announce':
      return announce(rest, env, out)
    case 'attest':
      return attest(rest, env, out)
    case undefined:
      throw new UsageError('a subcommand is required: keygen, announce or attest')
    default:
      throw new UsageError(`unknown subcommand "${sub}" (keygen, announce or attest)`)
  }
}

// --- keygen -------------------------------------------------------------------------------------

async function keygen(argv: readonly string[], env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const flags = parseFlags(argv, { out: { type: 'string' }, name: { type: 'string' }, 'passphrase-file': { type: 'string' }, force: { type: 'boolean' } })
  if (flags.out === undefined) throw new UsageError('--out FILE is required')
  const name = flags.name ?? 'oracle'
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new UsageError(`--name must be 1-64 characters of A-Z a-z 0-9 . _ -, got "${name}"`)
  const file = resolve(flags.out)
  // A journal beside the file holds the nonces of the key it would replace: never orphan them.
  const journal = oracleJournalPath(file)
  if (await access(journal).then(() => true, () => false)) {
    throw new OracleCommandError('exists', `${journal} holds the event journal of the oracle key in ${file}: move both away before generating a new key there`)
  }
  const passphrase = await readPassphrase(passphraseSource(flags['passphrase-file'], env))
  const pub = await writeOracleKeystore(file, await generateOracleKeys(), passphrase, { kdf: DEFAULT_KDF, overwrite: flags.force === true })
  out(JSON.stringify({ name, peerId: pub.peerId, publicKey: pub.publicKey }))
}

// --- announce / attest ----------------------------------------------------------------------------

const NETWORK_FLAGS = {
  keystore: { type: 'string' },
  genesis: { type: 'string' },
  peer: { type: 'string', multiple: true },
  'event-id': { type: 'string' },
  api: { type: 'string' },
  wait: { type: 'boolean' },
  'timeout-s': { type: 'string' },
  'passphrase-file': { type: 'string' },
} as const

interface NetworkFlags {
  readonly keystore?: string
  readonly genesis?: string
  readonly peer?: string[]
  readonly 'event-id'?: string
  readonly api?: string
  readonly wait?: boolean
  readonly 'timeout-s'?: string
  readonly 'passphrase-file'?: string
}

interface Common {
  readonly keystore: string
  readonly genesis: Genesis
  readonly peers: readonly string[]
  readonly eventId: string
  readonly api: URL | undefined
  readonly timeoutMs: number
  readonly passphraseFile: string | undefined
}

/** The flags both commands share, checked before any file is opened. */
function commonFlags(flags: NetworkFlags): Omit<Common, 'genesis'> & { genesisFile: string } {
  if (flags.keystore === undefined) throw new UsageError('--keystore FILE is required')
  if (flags.genesis === undefined) throw new UsageError('--genesis FILE is required')
  if (flags.peer === undefined || flags.peer.length === 0) throw new UsageError('--peer MULTIADDR is required (a guardian; repeat it for several)')
  const eventId = flags['event-id']
  if (eventId === undefined || eventId === '') throw new UsageError('--event-id ID is required')
  if (flags.wait === true && flags.api === undefined) throw new UsageError('--wait needs --api URL (the guardian to ask)')
  if (flags.api !== undefined && flags.wait !== true) throw new UsageError('--api is only used with --wait')
  let api: URL | undefined
  if (flags.api !== undefined) {
    try {
      api = new URL(flags.api)
    } catch {
      throw new UsageError(`--api: not a URL: ${flags.api}`)
    }
  }
  return {
    keystore: resolve(flags.keystore),
    genesisFile: resolve(flags.genesis),
    peers: flags.peer,
    eventId,
    api,
    timeoutMs: positiveInteger(flags['timeout-s'], 'timeout-s', 60, 3600) * 1000,
    passphraseFile: flags['passphrase-file'],
  }
}

/** The genesis, the peers checked against it, and this keystore's entry in genesis.oracles. */
async function prepare(flags: ReturnType<typeof commonFlags>): Promise<Common & { oracle: OracleInfo }> {
  const genesis = await loadGenesis(flags.genesisFile)
  try {
    parseGuardianPeers(genesis, flags.peers)
  } catch (err) {
    if (err instanceof OraclePublishError) throw new UsageError(`--peer: ${err.message}`)
    throw err
  }
  const pub = await readOracleKeystorePublic(flags.keystore)
  const oracle = genesis.oracles.find((o) => bytesToHex(o.publicKey) === pub.publicKey)
  if (oracle === undefined) {
    throw new OracleCommandError(
      'not_in_genesis',
      `the oracle key ${pub.publicKey} of ${flags.keystore} is not in genesis.oracles of ${genesis.network} (${flags.genesisFile}); ` +
        `its entry would be {"name":"…","peerId":"${pub.peerId}","publicKey":"${pub.publicKey}"}`,
    )
  }
  if (oracle.peerId !== pub.peerId) {
    throw new OracleCommandError('not_in_genesis', `genesis.oracles lists ${oracle.name} with peer id ${oracle.peerId}, but ${flags.keystore} holds peer id ${pub.peerId}`)
  }
  return { ...flags, genesis, oracle }
}

async function announce(argv: readonly string[], env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const flags = parseFlags(argv, { ...NETWORK_FLAGS, outcomes: { type: 'string' }, maturity: { type: 'string' } })
  const common = commonFlags(flags)
  if (flags.outcomes === undefined) throw new UsageError('--outcomes A,B[,C…] is required')
  const outcomes = flags.outcomes.split(',')
  if (outcomes.length < 2 || outcomes.some((o) => o === '')) throw new UsageError(`--outcomes needs at least two non-empty outcomes separated by commas, got "${flags.outcomes}"`)
  if (new Set(outcomes).size !== outcomes.length) throw new UsageError(`--outcomes lists an outcome twice: "${flags.outcomes}"`)
  if (flags.maturity === undefined) throw new UsageError('--maturity UNIX|ISO is required')
  const maturity = parseMaturity(flags.maturity)

  const ctx = await prepare(common)
  await journalAndPublish(ctx, env, out, async (passphrase, oracleSecretKey, kdf) => {
    const { announcement, stored } = await journalAnnounce(oracleJournalPath(ctx.keystore), passphrase, oracleSecretKey, { eventId: ctx.eventId, outcomes, maturity }, { kdf })
    const fields = { outcomes: announcement.event.outcomes, maturity: announcement.event.maturity, nonce: bytesToHex(announcement.event.nonces[0] ?? new Uint8Array()) }
    return { message: { kind: 'announcement', announcement }, stored, fields }
  })
}

async function attest(argv: readonly string[], env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const flags = parseFlags(argv, { ...NETWORK_FLAGS, outcome: { type: 'string' } })
  const common = commonFlags(flags)
  const outcome = flags.outcome
  if (outcome === undefined || outcome === '') throw new UsageError('--outcome O is required')

  const ctx = await prepare(common)
  await journalAndPublish(ctx, env, out, async (passphrase, oracleSecretKey) => {
    const { attestation, stored } = await journalAttest(oracleJournalPath(ctx.keystore), passphrase, oracleSecretKey, ctx.eventId, outcome)
    return { message: { kind: 'attestation', attestation }, stored, fields: { outcome } }
  })
}

/**
 * What announce and attest share once their flags are checked: unlocks the keystore, lets
 * `journal` record the message under the oracle key (zeroed afterwards) — or find it stored —,
 * publishes it to the guardians and, with --api, waits until the network has committed it.
 * Prints one JSON line: the event, the oracle, the message's own `fields`, the message (hex) and
 * its id, whether it was re-published, its recipients, and the committed height.
 */
async function journalAndPublish(
  ctx: Common & { oracle: OracleInfo },
  env: NodeJS.ProcessEnv,
  out: Out,
  journal: (passphrase: string, oracleSecretKey: Uint8Array, kdf: KdfParams) => Promise<{ message: OracleMessage; stored: boolean; fields: Record<string, unknown> }>,
): Promise<void> {
  const passphrase = await readPassphrase(passphraseSource(ctx.passphraseFile, env))
  const { keys, kdf } = await readOracleKeystore(ctx.keystore, passphrase)
  let journaled: Awaited<ReturnType<typeof journal>>
  try {
    journaled = await journal(passphrase, keys.oracleSecretKey, kdf)
  } finally {
    keys.oracleSecretKey.fill(0)
  }
  const { message, stored, fields } = journaled
  const what = message.kind
  const { oraclePublicKey } = message.kind === 'announcement' ? message.announcement : message.attestation
  const id = message.kind === 'announcement' ? announcementId(message.announcement) : attestationId(message.attestation)
  const data = encodeOracleMessage(message)
  const hex = bytesToHex(data)
  const sent = await publishOracleMessage({ genesis: ctx.genesis, p2pPrivateKey: keys.p2pPrivateKey, peers: ctx.peers, data, timeoutMs: ctx.timeoutMs })
  const line: Record<string, unknown> = {
    eventId: ctx.eventId,
    oracle: ctx.oracle.name,
    publicKey: bytesToHex(oraclePublicKey),
    ...fields,
    [what]: hex,
    id,
    republished: stored,
    recipients: sent.recipients,
    guardians: sent.guardians,
  }
  if (ctx.api !== undefined) {
    line.height = await waitCommitted(ctx.api, ctx.eventId, ctx.timeoutMs, what, (event) => {
      const mine = committedBy(event, what, ctx.oracle.name)
      if (mine === undefined) return undefined
      if (mine.hex !== hex) throw conflict(`an ${what}`, ctx.oracle.name, ctx.eventId, mine.hex, hex)
      return mine.height
    })
  }
  out(JSON.stringify(line))
}

// --- helpers ------------------------------------------------------------------------------------

const POLL_MS = 500
const FETCH_TIMEOUT_MS = 10_000

/**
 * Polls the guardian's view of the event until `committed` finds this oracle's message there and
 * returns its height; 404 means the event is not in the state yet.
 */
async function waitCommitted(api: URL, eventId: string, timeoutMs: number, what: string, committed: (event: OracleEventView) => number | undefined): Promise<number> {
  const url = new URL(`/v1/oracle/events/${encodeURIComponent(eventId)}`, api)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let response: Response
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
    } catch (err) {
      const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message
      throw new CommandError('unreachable', `oracle: cannot reach ${url.origin}: ${cause}`)
    }
    if (response.ok) {
      const height = committed((await response.json()) as OracleEventView)
      if (height !== undefined) return height
    } else if (response.status !== 404) {
      throw new CommandError('http_error', `oracle: GET ${url.pathname}: HTTP ${response.status} ${await response.text()}`)
    } else {
      await response.body?.cancel()
    }
    if (Date.now() > deadline) {
      throw new OracleCommandError('not_committed', `oracle: the ${what} of event "${eventId}" was published but ${url.origin} has not committed it after ${timeoutMs / 1000}s`)
    }
    await new Promise((done) => setTimeout(done, POLL_MS))
  }
}

/** The announcement or attestation of `oracle` in the guardian's view of the event, if committed. */
function committedBy(event: OracleEventView, what: OracleMessage['kind'], oracle: string): { hex: string; height: number } | undefined {
  if (what === 'announcement') {
    const mine = event.announcements.find((a) => a.oracle === oracle)
    return mine === undefined ? undefined : { hex: mine.announcement, height: mine.height }
  }
  const mine = event.attestations.find((a) => a.oracle === oracle)
  return mine === undefined ? undefined : { hex: mine.attestation, height: mine.height }
}

function conflict(what: string, oracle: string, eventId: string, committed: string, ours: string): OracleCommandError {
  return new OracleCommandError('conflict', `the network committed ${what} of ${oracle} for event "${eventId}" other than the journal's (${committed.slice(0, 16)}… vs ${ours.slice(0, 16)}…)`)
}

/** Unix seconds (digits) or an ISO-8601 time, as a dlcspecs u32 maturity. */
function parseMaturity(text: string): number {
  const seconds = /^[0-9]+$/.test(text) ? Number(text) : Math.floor(Date.parse(text) / 1000)
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > 0xffff_ffff) {
    throw new UsageError(`--maturity must be unix seconds (up to ${0xffff_ffff}) or an ISO-8601 time, got "${text}"`)
  }
  return seconds
}

function passphraseSource(file: string | undefined, env: NodeJS.ProcessEnv): { file?: string; env: NodeJS.ProcessEnv } {
  return file === undefined ? { env } : { file: resolve(file), env }
}
