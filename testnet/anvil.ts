import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { portIsFree } from './ports.js'

/** A running anvil (local EVM devnet) on 127.0.0.1. */
export interface AnvilInstance {
  readonly url: string
  readonly chainId: number
  readonly process: ChildProcess
  /** SIGTERM, then SIGKILL after `killTimeoutMs`; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>
}

export interface StartAnvilOptions {
  readonly chainId: number
  /** 0 or omitted: pick a free port. */
  readonly port?: number
  /** Interval mining; omitted: automine (one block per transaction). */
  readonly blockTimeMs?: number
  readonly signal?: AbortSignal
  /** How long to wait for `eth_chainId` to answer (default 20 s). */
  readonly readyTimeoutMs?: number
  /** Grace period between SIGTERM and SIGKILL on stop (default 3 s). */
  readonly killTimeoutMs?: number
}

/** Path of the anvil binary shipped by @foundry-rs/anvil-<platform>-<arch>; throws if not installed. */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`
  let dir: string
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`))
  } catch (err) {
    throw new Error(`anvil binary package ${pkg} is not installed (npm install @foundry-rs/anvil)`, { cause: err })
  }
  const bin = join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
  if (!existsSync(bin)) throw new Error(`anvil binary missing at ${bin}`)
  return bin
}

/** A port that was free a moment ago (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const addr = server.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not pick a free port'))))
    })
  })
}

/** Spawns anvil and resolves once it answers `eth_chainId` with the requested chain id. */
export async function startAnvil(opts: StartAnvilOptions): Promise<AnvilInstance> {
  const explicitPort = opts.port !== undefined && opts.port !== 0
  // A picked port can be taken between the check and anvil's bind; retry a few times then.
  for (let attempt = 0; ; attempt++) {
    const port = explicitPort ? opts.port! : await freePort()
    if (explicitPort && !(await portIsFree(port))) throw new Error(`anvil: port ${port} is in use`)
    try {
      return await startOnce(opts, port)
    } catch (err) {
      if (explicitPort || attempt >= 2 || opts.signal?.aborted || !(err instanceof AnvilExitedEarly)) throw err
    }
  }
}

class AnvilExitedEarly extends Error {}

async function startOnce(opts: StartAnvilOptions, port: number): Promise<AnvilInstance> {
  opts.signal?.throwIfAborted()
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(opts.chainId), '--silent']
  if (opts.blockTimeMs !== undefined) args.push('--block-time', String(opts.blockTimeMs / 1000))
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 4000) stderr += chunk
  })
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  let spawnError: Error | null = null
  child.once('error', (err) => (spawnError = err))

  // Never leave an orphan: kill synchronously when this process exits.
  const onExit = (): void => {
    child.kill('SIGKILL')
  }
  process.once('exit', onExit)

  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.killTimeoutMs ?? 3000)
        await exited
        clearTimeout(timer)
      }
      process.removeListener('exit', onExit)
    })()
    return stopping
  }

  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000)
  try {
    for (;;) {
      opts.signal?.throwIfAborted()
      if (spawnError) throw new Error(`anvil: spawn failed: ${(spawnError as Error).message}`)
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new AnvilExitedEarly(`anvil exited early (code ${child.exitCode}, signal ${child.signalCode}): ${stderr.trim()}`)
      }
      const chainId = await rpcChainId(url)
      if (chainId !== null) {
        if (chainId !== opts.chainId) throw new Error(`anvil at ${url} reports chain id ${chainId}, expected ${opts.chainId}`)
        return { url, chainId, process: child, stop }
      }
      if (Date.now() > deadline) throw new Error(`anvil at ${url} not ready after ${opts.readyTimeoutMs ?? 20_000} ms: ${stderr.trim()}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** The chain id `url` answers, or null while it is not (yet) answering. */
async function rpcChainId(url: string): Promise<number | null> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    })
    const body = (await res.json()) as { result?: unknown }
    return typeof body.result === 'string' ? Number(BigInt(body.result)) : null
  } catch {
    return null
  }
}
