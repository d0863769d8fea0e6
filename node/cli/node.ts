import { resolve } from 'node:path'
import { pino, type Logger } from 'pino'
import { CONFIG_SETTINGS, loadConfig } from '../config/index.js'
import { GuardianNode, type GuardianNodeDeps } from '../guardian/index.js'
import { parseFlags, UsageError } from './usage-error.js'

export const NODE_HELP = `ubtc node --config FILE [overrides]

Starts a guardian node. Settings come from the JSON config file; each can be overridden by
an environment variable or a flag (flag > env > file > default):

${CONFIG_SETTINGS.map((s) => `  --${s.flag.padEnd(22)} ${s.env.padEnd(27)} ${s.key}: ${s.description}`).join('\n')}

Stops gracefully on SIGINT/SIGTERM (API, then libp2p, then the database).`

/** Runs a node until SIGINT/SIGTERM. Resolves when it has stopped. `parts` replaces node components (fault-injection tests). */
export async function nodeCommand(argv: readonly string[], env: NodeJS.ProcessEnv, parts: Pick<GuardianNodeDeps, 'createSigner'> = {}): Promise<void> {
  const options = Object.fromEntries(CONFIG_SETTINGS.map((s) => [s.flag, { type: 'string' as const }]))
  const flags = parseFlags(argv, { config: { type: 'string' }, ...options })
  const { config: configFile, ...overrides } = flags as Record<string, string | undefined>
  if (configFile === undefined) throw new UsageError('--config FILE is required')
  const config = await loadConfig(resolve(configFile), { env, flags: overrides })
  const logger: Logger = pino({ level: config.log.level, base: { pid: process.pid } })

  // A stray rejection must not take a guardian down: log it loudly and keep serving.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'))
  const { node } = await GuardianNode.start({ config, env, logger, ...parts })
  await new Promise<void>((done) => {
    let stopping = false
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without clean shutdown')
        process.exit(1)
      }
      stopping = true
      logger.info({ signal }, 'shutting down')
      node.stop().then(done, (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exitCode = 1
        done()
      })
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
