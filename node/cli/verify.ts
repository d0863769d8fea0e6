import { resolve } from 'node:path'
import { equalBytes } from '@noble/curves/utils.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { blockView } from '../../api/index.js'
import {
  blockHash,
  certificateHash,
  decodeBlock,
  decodeCertificate,
  GuardianSet,
  ProtocolError,
  txRoot,
  verifyCertificate,
  ZERO_HASH,
  type Block,
  type Certificate,
  type Genesis,
} from '../../protocol/index.js'
import { loadGenesis } from '../guardian/load-genesis.js'
import { CommandError, parseFlags, positiveInteger, UsageError } from './usage-error.js'

export const VERIFY_HELP = `ubtc verify --api URL --genesis FILE [--height H|latest] [--json]

Fetches block H (default latest) and its commit certificate from any node's API and verifies
them against the guardian set in the genesis file, trusting nothing the node says: the block
and certificate are decoded from their canonical encodings, the header hash is recomputed, the
transactions and last commit are checked against the header, every certificate signature is
checked against the guardians' vote keys (at least the commit quorum of distinct guardians),
and the node's JSON fields must agree with what was decoded.

Prints who committed the block, its state root and time (--json: one JSON object). Exits 1,
saying why, if the block does not verify.`

/** What a verified block proves: the guardians in `signers` committed this header on this network. */
export interface VerifiedBlock {
  readonly verified: true
  readonly network: string
  readonly height: number
  readonly hash: string
  readonly round: number
  readonly guardianSetIndex: number
  /** Names of the guardians whose precommits are in the certificate. */
  readonly signers: readonly string[]
  /** Size of the guardian set. */
  readonly guardians: number
  readonly quorum: number
  readonly stateRoot: string
  readonly timeMs: number
  readonly time: string
  readonly txs: number
}

// A block is at most ~1 MiB encoded; its JSON view (hex, twice) stays well below this.
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024
const FETCH_TIMEOUT_MS = 10_000

export async function verifyCommand(argv: readonly string[], out: (line: string) => void): Promise<void> {
  const flags = parseFlags(argv, { api: { type: 'string' }, genesis: { type: 'string' }, height: { type: 'string' }, json: { type: 'boolean' } })
  if (flags.api === undefined) throw new UsageError('--api URL is required')
  if (flags.genesis === undefined) throw new UsageError('--genesis FILE is required')
  const height = flags.height === undefined || flags.height === 'latest' ? 'latest' : positiveInteger(flags.height, 'height', 1, Number.MAX_SAFE_INTEGER)
  try {
    new URL(flags.api)
  } catch {
    throw new UsageError(`--api: not a URL: ${flags.api}`)
  }
  const genesis = await loadGenesis(resolve(flags.genesis))
  const result = await verifyBlockFromApi(flags.api, genesis, height)
  if (flags.json === true) {
    out(JSON.stringify(result))
    return
  }
  out(
    `block ${result.height} ${result.hash} verified: committed by ${result.signers.length} of ${result.guardians} guardians ` +
      `(${result.signers.join(', ')}), quorum ${result.quorum}; state root ${result.stateRoot}; time ${result.time}`,
  )
}

/**
 * Fetches GET /v1/blocks/:height from `apiUrl` and verifies it against `genesis`. Only the
 * canonical encodings (`raw`) are trusted as input; every JSON field is checked against them.
 * Throws CommandError (`block H NOT verified: reason`) on any failure.
 */
export async function verifyBlockFromApi(apiUrl: string, genesis: Genesis, height: number | 'latest'): Promise<VerifiedBlock> {
  let label = String(height)
  const fail: Fail = (reason, cause, code = 'not_verified') => {
    throw new CommandError(code, `block ${label} NOT verified: ${reason}`, cause === undefined ? undefined : { cause })
  }

  const served = await fetchBlock(new URL(`/v1/blocks/${height}`, apiUrl), fail)
  const raw = served.raw as { block?: unknown; certificate?: unknown } | undefined
  const block = decodeRaw(raw?.block, 'raw.block', decodeBlock, fail)
  label = String(block.header.height)
  const cert = decodeRaw(raw?.certificate, 'raw.certificate', decodeCertificate, fail)
  const header = block.header

  if (height !== 'latest' && header.height !== height) fail(`the node served block ${header.height} for height ${height}`)
  if (header.guardianSetIndex !== genesis.guardianSetIndex) {
    fail(`the block is for guardian set ${header.guardianSetIndex}, the genesis has guardian set ${genesis.guardianSetIndex}`)
  }
  const hash = blockHash(header)
  if (served.hash !== bytesToHex(hash)) fail(`the served hash ${String(served.hash)} is not the hash of the served header (${bytesToHex(hash)})`)
  if (cert.height !== header.height) fail(`the certificate is for height ${cert.height}`)
  if (!equalBytes(cert.blockHash, hash)) fail(`the certificate commits block ${bytesToHex(cert.blockHash)}, not this header (${bytesToHex(hash)})`)

  const guardians = new GuardianSet(genesis)
  try {
    verifyCertificate(genesis.hash, guardians, cert, { height: header.height, blockHash: hash })
  } catch (err) {
    if (err instanceof ProtocolError) fail(err.message, err)
    throw err
  }

  // The header is committed; now the body must be the one it commits to.
  if (!equalBytes(txRoot(block.txs), header.txRoot)) fail("the transactions do not match the header's txRoot")
  checkLastCommit(block, fail)

  // A node lying in its JSON is as bad as one lying in its encodings.
  const mismatch = firstDifference(viewWithoutRaw(block, cert), served, '')
  if (mismatch !== null) fail(`the served JSON disagrees with the signed block at ${mismatch}`)

  const time = new Date(header.timeMs).toISOString()
  return {
    verified: true,
    network: genesis.network,
    height: header.height,
    hash: bytesToHex(hash),
    round: cert.round,
    guardianSetIndex: header.guardianSetIndex,
    signers: cert.signatures.map((s) => guardians.at(s.signer)!.name),
    guardians: guardians.size,
    quorum: guardians.commitQuorum,
    stateRoot: bytesToHex(header.stateRoot),
    timeMs: header.timeMs,
    time,
    txs: block.txs.length,
  }
}

type Fail = (reason: string, cause?: unknown, code?: 'unreachable' | 'http_error' | 'not_verified') => never

async function fetchBlock(url: URL, fail: Fail): Promise<Record<string, unknown>> {
  let response: Response
  let text: string
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
    text = await readCapped(response)
  } catch (err) {
    const cause = (err as Error).cause
    return fail(`cannot fetch ${url.href}: ${cause instanceof Error ? cause.message : (err as Error).message}`, err, 'unreachable')
  }
  if (!response.ok) {
    let message = text
    try {
      message = String((JSON.parse(text) as { message?: unknown }).message ?? text)
    } catch {
      // not JSON: show the body as it is
    }
    return fail(`${url.href} answered HTTP ${response.status}: ${message.slice(0, 500)}`, undefined, 'http_error')
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return fail(`${url.href} did not answer JSON`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail(`${url.href} did not answer a JSON object`)
  return json as Record<string, unknown>
}

async function readCapped(response: Response): Promise<string> {
  if (response.body === null) return ''
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    total += chunk.length
    if (total > MAX_RESPONSE_BYTES) throw new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function decodeRaw<T>(value: unknown, field: string, decode: (bytes: Uint8Array) => T, fail: Fail): T {
  if (typeof value !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(value)) return fail(`${field} is missing or not lower-case hex`)
  try {
    return decode(hexToBytes(value))
  } catch (err) {
    return fail(`${field} does not decode: ${(err as Error).message}`, err)
  }
}

/** The block carries the certificate of height − 1, bound to the header by lastCommitHash (none at height 1). */
function checkLastCommit(block: Block, fail: Fail): void {
  const { header, lastCommit } = block
  if (header.height === 1) {
    if (lastCommit !== null || !equalBytes(header.lastCommitHash, ZERO_HASH) || !equalBytes(header.parentHash, ZERO_HASH)) {
      fail('block 1 must have no parent and no last commit')
    }
    return
  }
  if (lastCommit === null) return fail('the block has no last commit')
  if (!equalBytes(certificateHash(lastCommit), header.lastCommitHash)) fail("the last commit does not match the header's lastCommitHash")
  if (lastCommit.height !== header.height - 1 || !equalBytes(lastCommit.blockHash, header.parentHash)) {
    fail('the last commit does not commit the parent block')
  }
}

function viewWithoutRaw(block: Block, cert: Certificate): Record<string, unknown> {
  const { raw: _raw, ...view } = blockView(block, cert)
  return view
}

/** Path of the first field of `expected` that `actual` lacks or has a different value for; null if none. */
function firstDifference(expected: unknown, actual: unknown, path: string): string | null {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return path
    for (let i = 0; i < expected.length; i++) {
      const diff = firstDifference(expected[i], actual[i], `${path}[${i}]`)
      if (diff !== null) return diff
    }
    return null
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return path
    for (const [key, value] of Object.entries(expected)) {
      const diff = firstDifference(value, (actual as Record<string, unknown>)[key], path === '' ? key : `${path}.${key}`)
      if (diff !== null) return diff
    }
    return null
  }
  return Object.is(expected, actual) ? null : path
}
