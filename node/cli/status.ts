import type { StatusView } from '../../api/index.js'
import { CommandError, parseFlags, UsageError } from './usage-error.js'

export const STATUS_HELP = `ubtc status --api URL [--json]

Asks a node's API for /v1/status and prints its guardian peers as a table (or the raw JSON).`

export async function statusCommand(argv: readonly string[], out: (line: string) => void): Promise<void> {
  const flags = parseFlags(argv, { api: { type: 'string' }, json: { type: 'boolean' } })
  if (flags.api === undefined) throw new UsageError('--api URL is required')
  let url: URL
  try {
    url = new URL('/v1/status', flags.api)
  } catch {
    throw new UsageError(`--api: not a URL: ${flags.api}`)
  }
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5000) })
  } catch (err) {
    throw new CommandError('unreachable', `status: cannot reach ${url.origin}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`)
  }
  if (!response.ok) throw new CommandError('http_error', `status: ${url.href} answered HTTP ${response.status}: ${await response.text()}`)
  const status = (await response.json()) as StatusView
  if (flags.json === true) {
    out(JSON.stringify(status))
    return
  }
  out(`${status.guardian}  ${status.peerId}  v${status.version}  network ${status.network}  set ${status.guardianSetIndex}  up ${status.uptimeS}s`)
  out(`height ${status.height}${status.syncing ? ' (syncing)' : ''}  state root ${status.stateRoot}`)
  const rows = status.peers.map((p) => [p.guardian, p.connected ? 'connected' : 'DISCONNECTED', p.lastHeartbeatMs === null ? '-' : `${(p.lastHeartbeatMs / 1000).toFixed(1)}s ago`, p.height === null ? '-' : String(p.height), p.peerId])
  out(table([['GUARDIAN', 'STATE', 'HEARTBEAT', 'HEIGHT', 'PEER ID'], ...rows]))
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)))
  return rows.map((r) => r.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd()).join('\n')
}
