import { readFile } from 'node:fs/promises'
import type { DkgStatusView } from '../../api/index.js'
import { CommandError, parseFlags, positiveInteger, UsageError } from './usage-error.js'

export const DKG_HELP = `ubtc dkg --api URL [--token T | --token-file F] [--wait] [--timeout-s N]

Starts a new distributed key generation of the reserve key on a guardian node (its /admin/dkg
route): the node opens the next DKG attempt and every guardian without a committed reserve key
follows it. The admin token is the node's api.adminToken (also read from UBTC_ADMIN_TOKEN).
Prints the node's DKG status as JSON; with --wait, waits until the guardians have committed the
result and prints the reserve address (GET /v1/reserves/address), up to --timeout-s (default 120).
Exit codes: 0 done, 1 the node refused or the DKG did not complete in time, 2 usage error.`

const POLL_MS = 500

export async function dkgCommand(argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const flags = parseFlags(argv, { api: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, wait: { type: 'boolean' }, 'timeout-s': { type: 'string' } })
  if (flags.api === undefined) throw new UsageError('--api URL is required')
  if (flags.token !== undefined && flags['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both')
  const timeoutS = positiveInteger(flags['timeout-s'], 'timeout-s', 120, 3600)
  const token = flags.token ?? (flags['token-file'] !== undefined ? (await readFile(flags['token-file'], 'utf8')).trim() : env.UBTC_ADMIN_TOKEN)
  if (token === undefined || token === '') throw new UsageError('an admin token is required: --token, --token-file or UBTC_ADMIN_TOKEN')
  const base = apiUrl(flags.api)

  const started = await call(new URL('/admin/dkg', base), { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  if (!started.ok) throw new CommandError('http_error', `dkg: the node refused: HTTP ${started.status} ${await started.text()}`)
  const status = (await started.json()) as DkgStatusView
  out(JSON.stringify(status))
  if (flags.wait !== true) return 0

  const deadline = Date.now() + timeoutS * 1000
  const addressUrl = new URL('/v1/reserves/address', base)
  for (;;) {
    const response = await call(addressUrl, {})
    if (response.ok) {
      out(JSON.stringify(await response.json()))
      return 0
    }
    const dkg = (await (await call(new URL('/v1/reserves/dkg', base), {})).json()) as DkgStatusView
    if (dkg.state === 'aborted') throw new CommandError('http_error', `dkg: attempt ${dkg.attempt} aborted: ${dkg.reason ?? 'no reason given'}${dkg.culprit === null ? '' : ` (culprit ${dkg.culprit})`}`)
    if (Date.now() > deadline) throw new CommandError('http_error', `dkg: no reserve key after ${timeoutS}s (DKG ${dkg.state}, phase ${dkg.phase})`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

function apiUrl(api: string): URL {
  try {
    return new URL(api)
  } catch {
    throw new UsageError(`--api: not a URL: ${api}`)
  }
}

async function call(url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message
    throw new CommandError('unreachable', `dkg: cannot reach ${url.origin}: ${cause}`)
  }
}
