import { createServer } from 'node:net'

/** Whether `port` can be bound on 127.0.0.1 right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/**
 * A base port P such that P..P+n-1 (APIs) and P+100..P+100+n-1 (libp2p) are all free now,
 * picked at random from the ephemeral-free range so parallel runs rarely collide.
 */
export async function findFreeBasePort(n: number, attempts = 50): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000)
    const ports = Array.from({ length: n }, (_, k) => [base + k, base + 100 + k]).flat()
    const free = await Promise.all(ports.map(portIsFree))
    if (free.every(Boolean)) return base
  }
  throw new Error(`no free block of ports for ${n} guardians after ${attempts} attempts`)
}
