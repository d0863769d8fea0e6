import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type AdminSource, type ApiServer, type DkgStatusView } from '../../api/index.js'
import { fakeApiServer, RESERVE } from '../../api/test-helpers/fake-source.js'
import { dkgCommand } from './dkg.js'
import { CommandError, UsageError } from './usage-error.js'

const TOKEN = 'operator-token-1'

let dir: string
const servers: ApiServer[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ubtc-dkg-cli-'))
})
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A node API whose DKG completes after `polls` reads of the reserve address (or aborts). */
async function node(opts: { polls?: number; aborted?: boolean } = {}): Promise<{ url: string; started: () => number }> {
  let started = 0
  let reads = 0
  let status: DkgStatusView = { state: 'idle', attempt: 0, sessionId: null, phase: 'idle', round1: 0, shares: 0, signatures: 0, culprit: null, reason: null }
  const admin: AdminSource = {
    startDkg: async () => {
      started++
      status = opts.aborted === true ? { ...status, state: 'aborted', attempt: 1, culprit: 'guardian-3', reason: 'bad_share: share fails the VSS check' } : { ...status, state: 'running', attempt: 1, phase: 'joining' }
      return { ...status, state: 'running' }
    },
    proposePsbt: async () => ({ ok: false, code: 'invalid', reason: 'unused' }),
    vote: async () => ({ ok: false, code: 'invalid', reason: 'unused' }),
  }
  const server = await fakeApiServer({ reserve: async () => (started > 0 && opts.aborted !== true && ++reads > (opts.polls ?? 0) ? RESERVE : undefined), dkgStatus: () => status }, { admin, adminToken: TOKEN })
  servers.push(server)
  return { url: await server.listen(), started: () => started }
}

async function run(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = []
  const code = await dkgCommand(argv, env, (line) => lines.push(line))
  return { code, lines }
}

describe('ubtc dkg', () => {
  it('starts an attempt with the admin token and prints the status', async () => {
    const n = await node()
    const { code, lines } = await run(['--api', n.url, '--token', TOKEN])
    expect(code).toBe(0)
    expect(JSON.parse(lines[0]!)).toMatchObject({ state: 'running', attempt: 1 })
    expect(n.started()).toBe(1)
  })

  it('reads the token from a file or UBTC_ADMIN_TOKEN, and waits for the reserve address with --wait', async () => {
    const n = await node({ polls: 2 })
    const file = join(dir, 'token')
    await writeFile(file, `${TOKEN}\n`)
    const { code, lines } = await run(['--api', n.url, '--token-file', file, '--wait', '--timeout-s', '30'])
    expect(code).toBe(0)
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[1]!)).toMatchObject({ address: RESERVE.address, threshold: 3 })
    const viaEnv = await node()
    expect((await run(['--api', viaEnv.url], { UBTC_ADMIN_TOKEN: TOKEN })).code).toBe(0)
  })

  it('reports an aborted attempt with its culprit, and a refused token', async () => {
    const aborted = await node({ aborted: true })
    await expect(run(['--api', aborted.url, '--token', TOKEN, '--wait'])).rejects.toThrow(/attempt 1 aborted: bad_share: share fails the VSS check \(culprit guardian-3\)/)
    const n = await node()
    await expect(run(['--api', n.url, '--token', 'wrong'])).rejects.toThrow(CommandError)
    await expect(run(['--api', n.url, '--token', 'wrong'])).rejects.toThrow(/HTTP 401/)
    expect(n.started()).toBe(0)
  })

  it('refuses bad command lines', async () => {
    for (const argv of [[], ['--api', 'http://127.0.0.1:1'], ['--api', 'not a url', '--token', 'x'], ['--api', 'http://127.0.0.1:1', '--token', 'a', '--token-file', 'b'], ['--api', 'http://127.0.0.1:1', '--token', 'a', '--timeout-s', '0'], ['--bogus']]) {
      await expect(run(argv)).rejects.toThrow(UsageError)
    }
    await expect(run(['--api', 'http://127.0.0.1:1', '--token', 'a'])).rejects.toThrow(/cannot reach/)
  })
})
