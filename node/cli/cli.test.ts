import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreeBasePort, UBTC_BIN } from '../../testnet/index.js'

// Runs the compiled CLI (dist/), as operators do: `npm test` builds it first (pretest).

interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment without any UBTC_* setting of the machine running the tests. */
const BASE_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UBTC_')))

const running = new Set<ChildProcess>()

interface Running {
  readonly child: ChildProcess
  readonly output: { stdout: string; stderr: string }
  readonly exited: Promise<Result>
}

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Running {
  const child = spawn(process.execPath, [UBTC_BIN, ...args], { env: { ...BASE_ENV, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  const output = { stdout: '', stderr: '' }
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk))
  const exited = new Promise<Result>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      running.delete(child)
      resolve({ code, signal, ...output })
    })
  })
  return { child, output, exited }
}

/** Runs the CLI to completion (killed after `timeoutMs`). */
async function ubtc(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<Result> {
  const proc = start(args, env)
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs)
  try {
    return await proc.exited
  } finally {
    clearTimeout(timer)
  }
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The process's exit, or a failure if it has not exited within `ms`. */
async function exitWithin(proc: Running, ms: number): Promise<Result> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process did not exit within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([proc.exited, late])
  } finally {
    clearTimeout(timer)
  }
}

async function httpStatus(url: string): Promise<number | undefined> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).status
  } catch {
    return undefined
  }
}

/** Waits until the node answers /healthz with 200; fails at once if the process exits. */
async function waitHealthy(proc: Running, apiUrl: string): Promise<void> {
  let exited: Result | undefined
  void proc.exited.then(
    (r) => (exited = r),
    () => undefined,
  )
  await waitFor(`${apiUrl}/healthz to answer 200`, async () => {
    if (exited !== undefined) throw new Error(`node exited (${exited.code ?? exited.signal}) before becoming healthy:\n${exited.stderr}`)
    return (await httpStatus(`${apiUrl}/healthz`)) === 200
  })
}

/** A TCP port that was free a moment ago (bound on port 0 by the OS, then released). */
async function freePort(): Promise<number> {
  const server = await holdPort(0)
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const held: Server[] = []
function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      held.push(server)
      resolve(server)
    })
  })
}

function expectNoStackTrace(text: string): void {
  expect(text).not.toMatch(/^\s+at .+[(:]\d+/m)
}

/** A failed `ubtc node`: exit 1, one clear message on stderr, no stack trace. */
function expectStartupFailure(result: Result, ...fragments: Array<string | RegExp>): void {
  expect(result.signal).toBeNull()
  expect(result.code, result.stderr).toBe(1)
  expect(result.stderr).toMatch(/^ubtc node: /)
  for (const fragment of fragments) expect(result.stderr).toMatch(fragment)
  expectNoStackTrace(result.stderr)
}

let root: string
/** A 4-guardian testnet written by `ubtc init` (shared by the init and node failure tests). */
let four: { dir: string; basePort: number; init: Result }
/** A 2-guardian testnet of which only guardian-0 is ever started. */
let two: { dir: string; basePort: number }

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ubtc-cli-'))
  const [base4, base2] = [await findFreeBasePort(4), await findFreeBasePort(2)]
  four = { dir: join(root, 'four'), basePort: base4, init: undefined as unknown as Result }
  two = { dir: join(root, 'two'), basePort: base2 }
  const [init4, init2] = await Promise.all([
    ubtc(['init', '--dir', four.dir, '--guardians', '4', '--base-port', String(base4)]),
    ubtc(['init', '--dir', two.dir, '--guardians', '2', '--base-port', String(base2)]),
  ])
  expect(init2.code, init2.stderr).toBe(0)
  four.init = init4
})

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL')
  await Promise.all([...running].map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('close', resolve)))))
  await Promise.all(held.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
  if (root !== undefined) await rm(root, { recursive: true, force: true })
})

describe('ubtc keygen', () => {
  const passphrase = `correct horse ${randomBytes(6).toString('hex')}`
  const outputs: string[] = []
  const record = (r: Result): Result => {
    outputs.push(r.stdout, r.stderr)
    return r
  }

  it('writes a 0600 keystore and prints its public part (text and --json)', async () => {
    const file = join(root, 'keys', 'guardian.json')
    const jsonFile = join(root, 'keys', 'guardian-json.json')
    const [text, json] = await Promise.all([
      ubtc(['keygen', '--out', file], { UBTC_PASSPHRASE: passphrase }).then(record),
      ubtc(['keygen', '--out', jsonFile, '--json'], { UBTC_PASSPHRASE: passphrase }).then(record),
    ])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(file)
    expect(text.stdout).toMatch(/^peerId\s+12D3KooW\w+$/m)
    expect(text.stdout).toMatch(/^votePublicKey\s+0[23][0-9a-f]{64}$/m)
    expect(text.stdout).toMatch(/^address\s+0x[0-9a-f]{40}$/m)
    expect((await stat(file)).mode & 0o777).toBe(0o600)

    expect(json.code, json.stderr).toBe(0)
    const pub = JSON.parse(json.stdout) as Record<string, string>
    expect(pub).toMatchObject({ keystore: jsonFile })
    expect(pub.peerId).toMatch(/^12D3KooW/)
    expect(pub.votePublicKey).toMatch(/^0[23][0-9a-f]{64}$/)
    expect(pub.address).toMatch(/^0x[0-9a-f]{40}$/)
    expect((await stat(jsonFile)).mode & 0o777).toBe(0o600)
    const doc = JSON.parse(await readFile(jsonFile, 'utf8')) as { public: Record<string, string> }
    expect(doc.public).toEqual({ votePublicKey: pub.votePublicKey, address: pub.address, peerId: pub.peerId })
  })

  it('refuses to replace an existing keystore without --force', async () => {
    const file = join(root, 'keys', 'guardian.json')
    const before = await readFile(file)
    const again = record(await ubtc(['keygen', '--out', file], { UBTC_PASSPHRASE: passphrase }))
    expect(again.code).not.toBe(0)
    expect(again.stderr).toContain('exists')
    expectNoStackTrace(again.stderr)
    expect(Buffer.compare(await readFile(file), before)).toBe(0)
  })

  it('needs a passphrase', async () => {
    const file = join(root, 'keys', 'none.json')
    const result = record(await ubtc(['keygen', '--out', file]))
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('UBTC_PASSPHRASE')
    expectNoStackTrace(result.stderr)
    await expect(access(file)).rejects.toThrow()
  })

  it('never prints the passphrase', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(8)
    for (const text of outputs) expect(text).not.toContain(passphrase)
  })
})

describe.concurrent('command line', () => {
  it('exits 2 on an unknown command', async () => {
    const result = await ubtc(['frobnicate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('unknown command "frobnicate"')
    expect(result.stderr).toContain('ubtc keygen')
  })

  it('exits 2 with the usage on an unknown flag', async () => {
    const results = await Promise.all([ubtc(['keygen', '--out', join(root, 'x.json'), '--bogus']), ubtc(['status', '--api', 'http://127.0.0.1:1', '--frob'])])
    for (const [result, usage] of [[results[0]!, 'ubtc keygen --out FILE'], [results[1]!, 'ubtc status --api URL']] as const) {
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/--bogus|--frob/)
      expect(result.stderr).toContain(usage)
      expectNoStackTrace(result.stderr)
    }
  })

  it('prints help for every command with exit 0', async () => {
    const commands = ['keygen', 'init', 'node', 'status', 'testnet']
    const results = await Promise.all([...commands.map((c) => ubtc([c, '--help'])), ubtc(['--help'])])
    commands.forEach((command, i) => {
      const result = results[i]!
      expect(result.code, command).toBe(0)
      expect(result.stdout.startsWith(`ubtc ${command}`), `${command}: ${result.stdout}`).toBe(true)
    })
    const top = results[commands.length]!
    expect(top.code).toBe(0)
    for (const command of commands) expect(top.stdout).toContain(`ubtc ${command}`)
    // `node --help` lists every override flag.
    expect(results[2]!.stdout).toContain('--api-port')
  })
})

describe('ubtc init', () => {
  it('writes genesis.json and a folder per guardian', async () => {
    expect(four.init.code, four.init.stderr).toBe(0)
    const genesis = JSON.parse(await readFile(join(four.dir, 'genesis.json'), 'utf8')) as { guardians: Array<{ name: string; peerId: string }> }
    expect(genesis.guardians.map((g) => g.name)).toEqual(['guardian-0', 'guardian-1', 'guardian-2', 'guardian-3'])
    for (let i = 0; i < 4; i++) {
      const dir = join(four.dir, `guardian-${i}`)
      expect((await stat(join(dir, 'keystore.json'))).mode & 0o777).toBe(0o600)
      expect((await stat(join(dir, 'passphrase'))).mode & 0o777).toBe(0o600)
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { api: { port: number }; p2p: { listen: string[]; peers: string[] } }
      expect(config.api.port).toBe(four.basePort + i)
      expect(config.p2p.listen).toEqual([`/ip4/127.0.0.1/tcp/${four.basePort + 100 + i}`])
      expect(config.p2p.peers).toHaveLength(3)
      expect(four.init.stdout).toContain(genesis.guardians[i]!.peerId)
    }
  })

  it('refuses to overwrite an existing testnet without --force', async () => {
    const genesisFile = join(four.dir, 'genesis.json')
    const before = await readFile(genesisFile)
    const result = await ubtc(['init', '--dir', four.dir, '--guardians', '4', '--base-port', String(four.basePort)])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('exists')
    expectNoStackTrace(result.stderr)
    expect(Buffer.compare(await readFile(genesisFile), before)).toBe(0)
  })
})

describe.concurrent('ubtc node: refuses to start, clearly', () => {
  const config = (i: number): string => join(four.dir, `guardian-${i}`, 'config.json')

  it('on an unknown config key, suggesting the right one', async () => {
    const doc = JSON.parse(await readFile(config(0), 'utf8')) as { api: Record<string, unknown> }
    doc.api.prot = 1
    const file = join(four.dir, 'guardian-0', 'typo.json')
    await writeFile(file, JSON.stringify(doc))
    expectStartupFailure(await ubtc(['node', '--config', file]), 'api.prot', 'api.port')
  })

  it('on a bad port flag', async () => {
    expectStartupFailure(await ubtc(['node', '--config', config(0), '--api-port', '70000']), 'api.port', '70000')
  })

  it('on a missing keystore file', async () => {
    const missing = join(root, 'no-such-keystore.json')
    expectStartupFailure(await ubtc(['node', '--config', config(0), '--keystore', missing]), /keystore/, missing)
  })

  it('on a corrupt keystore', async () => {
    await writeFile(join(four.dir, 'guardian-3', 'keystore.json'), '{}')
    expectStartupFailure(await ubtc(['node', '--config', config(3)]), /keystore .*keystore\.json is corrupt/)
  })

  it('on a wrong passphrase', async () => {
    const wrong = `not-the-passphrase-${randomBytes(4).toString('hex')}`
    await writeFile(join(four.dir, 'guardian-2', 'passphrase'), `${wrong}\n`)
    const result = await ubtc(['node', '--config', config(2)])
    expectStartupFailure(result, 'wrong passphrase')
    expect(result.stderr + result.stdout).not.toContain(wrong)
  })

  it('on a genesis that does not list this guardian', async () => {
    expectStartupFailure(await ubtc(['node', '--config', config(0), '--genesis', join(two.dir, 'genesis.json')]), 'not a guardian')
  })

  it('when the API port is in use', async () => {
    const server = await holdPort(0)
    const apiPort = (server.address() as { port: number }).port
    const result = await ubtc([
      'node', '--config', config(1), '--api-port', String(apiPort), '--p2p-listen', `/ip4/127.0.0.1/tcp/${await freePort()}`,
      '--data-dir', join(root, 'data-api-in-use'), '--log-level', 'warn',
    ])
    expectStartupFailure(result, 'in use', String(apiPort))
  })

  it('when the libp2p port is in use', async () => {
    const server = await holdPort(0)
    const p2pPort = (server.address() as { port: number }).port
    const result = await ubtc([
      'node', '--config', config(1), '--api-port', String(await freePort()), '--p2p-listen', `/ip4/127.0.0.1/tcp/${p2pPort}`,
      '--data-dir', join(root, 'data-p2p-in-use'), '--log-level', 'warn',
    ])
    expectStartupFailure(result, 'in use', String(p2pPort))
  })
})

describe('a running node', () => {
  const apiUrl = (): string => `http://127.0.0.1:${two.basePort}`
  const args = (): string[] => ['node', '--config', join(two.dir, 'guardian-0', 'config.json'), '--log-level', 'warn']
  let node: Running

  beforeAll(async () => {
    node = start(args())
    await waitHealthy(node, apiUrl())
  })

  it('is described by `ubtc status` as a table', async () => {
    const result = await ubtc(['status', '--api', apiUrl()])
    expect(result.code, result.stderr).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^guardian-0\s+12D3KooW\w+\s+v\S+\s+network ubtc-local/)
    expect(lines[1]).toMatch(/^height \d+(?: \(syncing\))? {2}state root [0-9a-f]{64}$/)
    expect(lines[2]).toMatch(/^GUARDIAN\s+STATE\s+HEARTBEAT\s+HEIGHT\s+PEER ID$/)
    expect(lines[3]).toMatch(/^guardian-1\s+DISCONNECTED\s+-\s+-\s+12D3KooW\w+$/)
  })

  it('is described by `ubtc status --json`', async () => {
    const result = await ubtc(['status', '--api', apiUrl(), '--json'])
    expect(result.code, result.stderr).toBe(0)
    const status = JSON.parse(result.stdout) as { guardian: string; network: string; peers: Array<{ guardian: string; connected: boolean }> }
    expect(status.guardian).toBe('guardian-0')
    expect(status.network).toBe('ubtc-local')
    expect(status.peers).toEqual([expect.objectContaining({ guardian: 'guardian-1', connected: false })])
  })

  it('stops cleanly on SIGTERM and its data dir opens again', async () => {
    node.child.kill('SIGTERM')
    const result = await exitWithin(node, 10_000)
    expect(result.signal).toBeNull()
    expect(result.code, result.stderr).toBe(0)
    expectNoStackTrace(result.stderr)
    expect(await httpStatus(`${apiUrl()}/healthz`)).toBeUndefined()

    // Same data dir, same ports: nothing was left locked or bound.
    const again = start(args())
    await waitHealthy(again, apiUrl())
    again.child.kill('SIGTERM')
    const second = await exitWithin(again, 10_000)
    expect(second.code, second.stderr).toBe(0)
  })
})
