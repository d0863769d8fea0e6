import { CHAIN_NAMES } from '../../protocol/index.js'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { ConfigError } from './errors.js'
import { CONFIG_SETTINGS, LOG_LEVELS, type ConfigSetting, type LogLevel, type NodeConfig } from './schema.js'

export interface ConfigOverrides {
  /** Defaults to process.env when omitted. */
  readonly env?: NodeJS.ProcessEnv
  /** Keyed by flag name without leading dashes, e.g. { 'api-port': '9000' }. */
  readonly flags?: Readonly<Record<string, string | undefined>>
}

/** Where a value came from; rendered into every error so operators know what to fix. */
type Source =
  | { readonly kind: 'flag'; readonly name: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'file'; readonly name: string }
  | { readonly kind: 'default' }

function describe(src: Source): string {
  switch (src.kind) {
    case 'flag': return `flag --${src.name}`
    case 'env': return `env ${src.name}`
    case 'file': return `file ${src.name}`
    case 'default': return 'default'
  }
}

type Value = string | number | boolean | readonly string[]

interface Resolved {
  readonly value: Value
  readonly source: Source
}

/** Read and parse a JSON config file, then apply env/flag overrides and validate. */
export async function loadConfig(file: string, overrides: ConfigOverrides = {}): Promise<NodeConfig> {
  const configFile = path.resolve(file)
  let text: string
  try {
    text = await readFile(configFile, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ConfigError('not_found', `config file not found: ${configFile}`)
    }
    throw new ConfigError('unreadable', `cannot read config file ${configFile}: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new ConfigError('invalid_json', `invalid JSON in ${configFile}: ${(err as Error).message}`)
  }
  return parseConfig(doc, path.dirname(configFile), configFile, overrides)
}

/** Validate an already-parsed config document. File paths resolve against `baseDir`. */
export async function parseConfig(
  doc: unknown,
  baseDir: string,
  configFile: string,
  overrides: ConfigOverrides = {},
): Promise<NodeConfig> {
  const file = path.resolve(configFile)
  if (!isPlainObject(doc)) {
    throw new ConfigError('invalid_value', `${file} must contain a JSON object at the top level, got ${typeOf(doc)}`)
  }
  checkUnknownKeys(doc, '', file)

  const env = overrides.env ?? process.env
  const flags = overrides.flags ?? {}
  checkUnknownFlags(flags)

  const values = new Map<string, Resolved>()
  for (const setting of CONFIG_SETTINGS) {
    const resolved = await resolveSetting(setting, doc, path.resolve(baseDir), file, env, flags)
    if (resolved !== undefined) values.set(setting.key, resolved)
  }

  const min = values.get('p2p.redialMinMs')
  const max = values.get('p2p.redialMaxMs')
  if (min !== undefined && max !== undefined && (max.value as number) < (min.value as number)) {
    throw new ConfigError(
      'invalid_value',
      `p2p.redialMaxMs (${String(max.value)}, from ${describe(max.source)}) must be >= p2p.redialMinMs ` +
        `(${String(min.value)}, from ${describe(min.source)})`,
      'p2p.redialMaxMs',
    )
  }

  const str = (key: string): string => values.get(key)?.value as string
  const num = (key: string): number => values.get(key)?.value as number
  const list = (key: string): readonly string[] => Object.freeze([...(values.get(key)?.value as readonly string[])])
  const passphraseFile = values.get('passphraseFile')?.value as string | undefined
  const adminToken = values.get('api.adminToken')?.value as string | undefined

  return Object.freeze({
    configFile: file,
    genesisFile: str('genesis'),
    keystoreFile: str('keystore'),
    ...(passphraseFile !== undefined ? { passphraseFile } : {}),
    dataDir: str('dataDir'),
    api: Object.freeze({ host: str('api.host'), port: num('api.port'), ...(adminToken !== undefined ? { adminToken } : {}) }),
    p2p: Object.freeze({
      listen: list('p2p.listen'),
      peers: list('p2p.peers'),
      heartbeatIntervalMs: num('p2p.heartbeatIntervalMs'),
      redialMinMs: num('p2p.redialMinMs'),
      redialMaxMs: num('p2p.redialMaxMs'),
    }),
    chains: Object.freeze(Object.fromEntries(CHAIN_NAMES.map((chain) => [chain, Object.freeze({ rpcUrls: list(`chains.${chain}.rpcUrls`) })]))) as NodeConfig['chains'],
    consensus: Object.freeze({ emptyBlockIntervalMs: num('consensus.emptyBlockIntervalMs'), timeoutProposeMs: num('consensus.timeoutProposeMs') }),
    custody: Object.freeze({
      autoDkg: values.get('custody.autoDkg')?.value as boolean,
      signingTimeoutMs: num('custody.signingTimeoutMs'),
      dkgPollIntervalMs: num('custody.dkgPollIntervalMs'),
    }),
    log: Object.freeze({ level: str('log.level') as LogLevel }),
  })
}

// ---------------------------------------------------------------------------
// Unknown keys / flags

const SETTING_KEYS: readonly string[] = CONFIG_SETTINGS.map((s) => s.key)
/** Group objects in the file ('api', 'p2p', 'log'), derived from the dotted keys. */
const GROUP_KEYS: ReadonlySet<string> = new Set(
  SETTING_KEYS.flatMap((k) => k.split('.').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('.'))),
)

function checkUnknownKeys(obj: Record<string, unknown>, prefix: string, file: string): void {
  for (const [k, v] of Object.entries(obj)) {
    const full = prefix === '' ? k : `${prefix}.${k}`
    if (SETTING_KEYS.includes(full)) continue
    if (GROUP_KEYS.has(full)) {
      if (!isPlainObject(v)) {
        throw new ConfigError('invalid_value', `${full} must be an object, got ${typeOf(v)} (from file ${file})`, full)
      }
      checkUnknownKeys(v, full, file)
      continue
    }
    const hint = suggest(full, SETTING_KEYS)
    throw new ConfigError(
      'unknown_key',
      `unknown key "${full}" in ${file}${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}`,
      full,
    )
  }
}

function checkUnknownFlags(flags: Readonly<Record<string, string | undefined>>): void {
  const known = CONFIG_SETTINGS.map((s) => s.flag)
  for (const name of Object.keys(flags)) {
    if (known.includes(name)) continue
    const hint = suggest(name, known)
    throw new ConfigError(
      'unknown_key',
      `unknown flag --${name}${hint !== undefined ? ` (did you mean --${hint}?)` : ''}`,
      name,
    )
  }
}

/** Closest candidate within edit distance 3, so typos get a hint but unrelated keys don't. */
function suggest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDist = 4
  for (const c of candidates) {
    const d = levenshtein(input, c)
    if (d < bestDist) {
      best = c
      bestDist = d
    }
  }
  return best
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost)
    }
    prev = cur
  }
  return prev[b.length] ?? 0
}

// ---------------------------------------------------------------------------
// Per-setting resolution: pick the source by precedence, convert, validate.

async function resolveSetting(
  setting: ConfigSetting,
  doc: Record<string, unknown>,
  baseDir: string,
  file: string,
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<string, string | undefined>>,
): Promise<Resolved | undefined> {
  const flagValue = flags[setting.flag]
  const envValue = env[setting.env]
  const fileValue = getPath(doc, setting.key)

  let raw: { value: unknown; fromString: boolean; source: Source; dir: string }
  if (flagValue !== undefined) {
    // Paths typed on the command line or in the environment are relative to the shell's cwd, like any CLI.
    raw = { value: flagValue, fromString: true, source: { kind: 'flag', name: setting.flag }, dir: process.cwd() }
  } else if (envValue !== undefined && envValue !== '') {
    // An empty env var is treated as unset, matching how shells and service managers clear variables.
    raw = { value: envValue, fromString: true, source: { kind: 'env', name: setting.env }, dir: process.cwd() }
  } else if (fileValue !== undefined) {
    raw = { value: fileValue, fromString: false, source: { kind: 'file', name: file }, dir: baseDir }
  } else if (setting.default !== undefined) {
    raw = { value: setting.default, fromString: false, source: { kind: 'default' }, dir: baseDir }
  } else if (setting.required) {
    throw new ConfigError(
      'missing_value',
      `missing required setting "${setting.key}" (set it in the file, ${setting.env} or --${setting.flag})`,
      setting.key,
    )
  } else {
    return undefined
  }

  const value = convert(setting, raw.value, raw.fromString, raw.source, raw.dir)
  if (setting.type === 'path') await checkPath(setting, value as string)
  return { value, source: raw.source }
}

function convert(setting: ConfigSetting, value: unknown, fromString: boolean, source: Source, dir: string): Value {
  // `subject` lets list settings say "each p2p.peers entry" instead of blaming the whole list.
  const fail = (expected: string, got: unknown, subject = setting.key): never => {
    throw new ConfigError(
      'invalid_value',
      `${subject} must be ${expected}, got ${render(got)} (from ${describe(source)})`,
      setting.key,
    )
  }

  switch (setting.type) {
    case 'string':
      if (typeof value !== 'string' || value.trim() === '') return fail('a non-empty string', value)
      return value
    case 'path':
      if (typeof value !== 'string' || value.trim() === '') return fail('a non-empty path', value)
      return path.resolve(dir, value)
    case 'port':
    case 'integer': {
      const lo = setting.type === 'port' ? 1 : (setting.min ?? Number.MIN_SAFE_INTEGER)
      const hi = setting.type === 'port' ? 65535 : (setting.max ?? Number.MAX_SAFE_INTEGER)
      const expected = `an integer ${lo}-${hi}`
      // Strict decimal only: Number('0x10'), Number(' 8'), parseInt('80x') would all accept junk.
      if (fromString) {
        if (typeof value !== 'string' || !/^[0-9]+$/.test(value)) return fail(expected, value)
        value = Number(value)
      }
      if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) return fail(expected, value)
      return value
    }
    case 'boolean':
      if (fromString) {
        if (value !== 'true' && value !== 'false') return fail('true or false', value)
        return value === 'true'
      }
      if (typeof value !== 'boolean') return fail('true or false', value)
      return value
    case 'loglevel':
      if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) {
        return fail(`one of ${LOG_LEVELS.join(', ')}`, value)
      }
      return value
    case 'multiaddrs': {
      let items: unknown[]
      if (fromString) {
        items = (value as string).split(',').map((s) => s.trim()).filter((s) => s !== '')
      } else if (Array.isArray(value)) {
        items = value
      } else {
        return fail('an array of multiaddr strings', value)
      }
      if (setting.multiaddr === 'listen' && items.length === 0) return fail('at least one multiaddr', value)
      return Object.freeze(items.map((item) => checkMultiaddr(setting, item, fail)))
    }
    case 'urls': {
      const items: unknown[] = fromString ? (value as string).split(',').map((s) => s.trim()).filter((s) => s !== '') : Array.isArray(value) ? value : [value]
      return Object.freeze(
        items.map((item) => {
          if (typeof item !== 'string' || !/^(https?|wss?):\/\//.test(item)) return fail('an http(s) or ws(s) URL', item, `each ${setting.key} entry`)
          try {
            return new URL(item).toString()
          } catch {
            return fail('a valid URL', item, `each ${setting.key} entry`)
          }
        }),
      )
    }
  }
}

function checkMultiaddr(
  setting: ConfigSetting,
  item: unknown,
  fail: (expected: string, got: unknown, subject: string) => never,
): string {
  const subject = `each ${setting.key} entry`
  if (typeof item !== 'string') return fail('a multiaddr string', item, subject)
  let components: { name: string; value?: string }[]
  try {
    components = multiaddr(item).getComponents()
  } catch (err) {
    return fail(`a valid multiaddr (${(err as Error).message})`, item, subject)
  }
  if (setting.multiaddr === 'listen' && !components.some((c) => c.name === 'tcp')) {
    return fail('a multiaddr with a /tcp/ component', item, subject)
  }
  if (setting.multiaddr === 'peer') {
    const last = components[components.length - 1]
    if (last?.name !== 'p2p' || last.value === undefined) {
      return fail('a multiaddr ending in /p2p/<peer id>', item, subject)
    }
    try {
      peerIdFromString(last.value)
    } catch (err) {
      return fail(`a multiaddr ending in a valid /p2p/<peer id> (${(err as Error).message})`, item, subject)
    }
  }
  return item
}

/** Only existence is checked here; the genesis/keystore modules validate contents. */
async function checkPath(setting: ConfigSetting, file: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>
  try {
    info = await stat(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (setting.mustExist) throw new ConfigError('missing_file', `${setting.key} file not found: ${file}`, setting.key)
      return // e.g. dataDir: created by the storage layer
    }
    throw new ConfigError('unreadable', `cannot access ${setting.key} ${file}: ${(err as Error).message}`, setting.key)
  }
  if (setting.mustExist && !info.isFile()) {
    throw new ConfigError('missing_file', `${setting.key} is not a regular file: ${file}`, setting.key)
  }
  if (!setting.mustExist && !info.isDirectory()) {
    throw new ConfigError('invalid_value', `${setting.key} exists but is not a directory: ${file}`, setting.key)
  }
}

// ---------------------------------------------------------------------------
// Small helpers

function getPath(doc: Record<string, unknown>, key: string): unknown {
  let cur: unknown = doc
  for (const part of key.split('.')) {
    if (!isPlainObject(cur)) return undefined
    cur = cur[part]
  }
  return cur
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function typeOf(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return `a ${typeof v}`
}

/** Numbers print bare (as in "got 70000"), everything else as JSON so strings are quoted. */
function render(v: unknown): string {
  if (typeof v === 'number') return String(v)
  try {
    return JSON.stringify(v) ?? String(v)
  } catch {
    return String(v)
  }
}
