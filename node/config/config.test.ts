import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONFIG_SETTINGS, ConfigError, loadConfig, type ConfigOverrides } from './index.js'

const PEER_ID = '12D3KooWDfSTvpPrcVrwwxcMTbvT8DVJAgpjHU2T7w7G4AeRDQTG'
const PEER = `/ip4/127.0.0.1/tcp/8601/p2p/${PEER_ID}`
const NO_ENV: ConfigOverrides = { env: {} } // keep the test runner's own UBTC_* vars out

let root: string
let dir: string // a config dir holding genesis.json and keys/guardian-0.keystore.json
let n = 0

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'ubtc-config-test-'))
  dir = path.join(root, 'node0')
  await mkdir(path.join(dir, 'keys'), { recursive: true })
  await writeFile(path.join(dir, 'genesis.json'), '{}')
  await writeFile(path.join(dir, 'keys', 'guardian-0.keystore.json'), '{}')
  await writeFile(path.join(dir, 'keys', 'passphrase'), 'secret\n')
})

afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

const minimal = (): Record<string, unknown> => ({
  genesis: './genesis.json',
  keystore: './keys/guardian-0.keystore.json',
  dataDir: './data/guardian-0',
})

/** Write a config doc (object or raw text) into the shared config dir under a fresh name. */
async function writeConfig(doc: unknown): Promise<string> {
  const file = path.join(dir, `node-${n++}.json`)
  await writeFile(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
  return file
}

async function loadError(doc: unknown, overrides: ConfigOverrides = NO_ENV): Promise<ConfigError> {
  const file = await writeConfig(doc)
  const err = await loadConfig(file, overrides).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ConfigError)
  const ce = err as ConfigError
  expect(ce.message.startsWith('config: ')).toBe(true)
  return ce
}

describe('loadConfig', () => {
  it('loads a minimal file and fills defaults', async () => {
    const file = await writeConfig(minimal())
    const cfg = await loadConfig(file, NO_ENV)
    expect(cfg).toEqual({
      configFile: file,
      genesisFile: path.join(dir, 'genesis.json'),
      keystoreFile: path.join(dir, 'keys', 'guardian-0.keystore.json'),
      dataDir: path.join(dir, 'data', 'guardian-0'),
      api: { host: '127.0.0.1', port: 8500 },
      p2p: { listen: ['/ip4/127.0.0.1/tcp/8600'], peers: [], heartbeatIntervalMs: 2000, redialMinMs: 500, redialMaxMs: 30000 },
      chains: { ethereum: { rpcUrls: [] }, polygon: { rpcUrls: [] }, arbitrum: { rpcUrls: [] }, bsc: { rpcUrls: [] }, solana: { rpcUrls: [] } },
      consensus: { emptyBlockIntervalMs: 5000, timeoutProposeMs: 1000 },
      custody: { autoDkg: false, signingTimeoutMs: 10_000, dkgPollIntervalMs: 250 },
      log: { level: 'info' },
    })
  })

  it('reads booleans strictly and keeps the admin token', async () => {
    const file = await writeConfig({ ...minimal(), api: { adminToken: 's3cret' }, custody: { autoDkg: true } })
    const cfg = await loadConfig(file, NO_ENV)
    expect(cfg.api.adminToken).toBe('s3cret')
    expect(cfg.custody.autoDkg).toBe(true)
    expect((await loadConfig(file, { env: { UBTC_AUTO_DKG: 'false' } })).custody.autoDkg).toBe(false)
    await expect(loadConfig(file, { env: {}, flags: { 'auto-dkg': 'yes' } })).rejects.toThrow(/custody.autoDkg must be true or false, got "yes"/)
    const wrongType = await writeConfig({ ...minimal(), custody: { autoDkg: 'true' } })
    await expect(loadConfig(wrongType, NO_ENV)).rejects.toThrow(/custody.autoDkg must be true or false/)
  })

  it('reads chain RPC URLs from the file, env and flags, and refuses anything but http(s)/ws(s) URLs', async () => {
    const file = await writeConfig({ ...minimal(), chains: { ethereum: { rpcUrls: ['http://127.0.0.1:8545', 'https://rpc.example.org/v1'] } } })
    const cfg = await loadConfig(file, NO_ENV)
    expect(cfg.chains.ethereum.rpcUrls).toEqual(['http://127.0.0.1:8545/', 'https://rpc.example.org/v1'])
    const fromEnv = await loadConfig(file, { env: { UBTC_SOLANA_RPC_URLS: 'http://127.0.0.1:8899, http://127.0.0.1:8900' } })
    expect(fromEnv.chains.solana.rpcUrls).toEqual(['http://127.0.0.1:8899/', 'http://127.0.0.1:8900/'])
    const fromFlag = await loadConfig(file, { env: {}, flags: { 'polygon-rpc-urls': 'http://127.0.0.1:9545' } })
    expect(fromFlag.chains.polygon.rpcUrls).toEqual(['http://127.0.0.1:9545/'])
    await expect(loadConfig(file, { env: {}, flags: { 'bsc-rpc-urls': 'ftp://x' } })).rejects.toThrow(/each chains.bsc.rpcUrls entry must be an http\(s\) or ws\(s\) URL/)
    const typo = await writeConfig({ ...minimal(), chains: { etherum: { rpcUrls: [] } } })
    await expect(loadConfig(typo, NO_ENV)).rejects.toThrow(/unknown key "chains.etherum/)
    expect(cfg.passphraseFile).toBeUndefined()
    expect(Object.isFrozen(cfg)).toBe(true)
    expect(Object.isFrozen(cfg.api)).toBe(true)
    expect(Object.isFrozen(cfg.p2p.listen)).toBe(true)
  })

  it('resolves relative paths against the config file directory, not cwd', async () => {
    const file = await writeConfig({ ...minimal(), passphraseFile: 'keys/passphrase', p2p: { peers: [PEER] } })
    const cfg = await loadConfig(path.relative(process.cwd(), file), NO_ENV)
    expect(cfg.configFile).toBe(file)
    expect(cfg.passphraseFile).toBe(path.join(dir, 'keys', 'passphrase'))
    expect(cfg.genesisFile).toBe(path.join(dir, 'genesis.json'))
    expect(cfg.p2p.peers).toEqual([PEER])
  })

  it('env overrides the file, flag overrides env', async () => {
    const file = await writeConfig({ ...minimal(), api: { port: 8501 }, log: { level: 'warn' } })
    const env = { UBTC_API_PORT: '9000', UBTC_LOG_LEVEL: 'debug', UBTC_P2P_LISTEN: '/ip4/0.0.0.0/tcp/1, /ip4/0.0.0.0/tcp/2' }
    const fromEnv = await loadConfig(file, { env })
    expect(fromEnv.api.port).toBe(9000)
    expect(fromEnv.log.level).toBe('debug')
    expect(fromEnv.p2p.listen).toEqual(['/ip4/0.0.0.0/tcp/1', '/ip4/0.0.0.0/tcp/2'])

    const fromFlag = await loadConfig(file, { env, flags: { 'api-port': '9100', 'log-level': undefined } })
    expect(fromFlag.api.port).toBe(9100)
    expect(fromFlag.log.level).toBe('debug') // undefined flag falls through to env
  })

  it('rejects an unknown top-level key with a suggestion', async () => {
    const err = await loadError({ ...minimal(), genisis: './genesis.json' })
    expect(err.code).toBe('unknown_key')
    expect(err.key).toBe('genisis')
    expect(err.message).toContain('(did you mean "genesis"?)')
  })

  it('rejects an unknown nested key with a suggestion and the file path', async () => {
    const doc = { ...minimal(), api: { prot: 9000 } }
    const file = await writeConfig(doc)
    const err = (await loadConfig(file, NO_ENV).catch((e: unknown) => e)) as ConfigError
    expect(err.code).toBe('unknown_key')
    expect(err.message).toBe(`config: unknown key "api.prot" in ${file} (did you mean "api.port"?)`)
  })

  it('gives no suggestion for a wildly different key', async () => {
    const err = await loadError({ ...minimal(), completelyUnrelated: 1 })
    expect(err.code).toBe('unknown_key')
    expect(err.message).not.toContain('did you mean')
  })

  it('names the source of a bad port: file, env, flag', async () => {
    const fileErr = await loadError({ ...minimal(), api: { port: 70000 } })
    expect(fileErr.code).toBe('invalid_value')
    expect(fileErr.key).toBe('api.port')
    expect(fileErr.message).toMatch(/^config: api\.port must be an integer 1-65535, got 70000 \(from file .*node-\d+\.json\)$/)

    const envErr = await loadError(minimal(), { env: { UBTC_API_PORT: '70000' } })
    expect(envErr.message).toBe('config: api.port must be an integer 1-65535, got 70000 (from env UBTC_API_PORT)')

    const flagErr = await loadError(minimal(), { env: { UBTC_API_PORT: '9000' }, flags: { 'api-port': '0' } })
    expect(flagErr.message).toBe('config: api.port must be an integer 1-65535, got 0 (from flag --api-port)')
  })

  it('rejects non-decimal port strings', async () => {
    for (const bad of ['80x', '0x50', ' 80', '8e2', '-1', '']) {
      const err = await loadError(minimal(), { env: {}, flags: { 'api-port': bad } })
      expect(err.code).toBe('invalid_value')
      expect(err.message).toContain(`got ${JSON.stringify(bad)} (from flag --api-port)`)
    }
    const fileErr = await loadError({ ...minimal(), api: { port: '8500' } })
    expect(fileErr.message).toContain('got "8500" (from file')
  })

  it('reports a missing required setting with every way to set it', async () => {
    const { keystore: _omit, ...doc } = minimal()
    const err = await loadError(doc)
    expect(err.code).toBe('missing_value')
    expect(err.key).toBe('keystore')
    expect(err.message).toBe('config: missing required setting "keystore" (set it in the file, UBTC_KEYSTORE or --keystore)')
  })

  it('reports a missing keystore file with its absolute path', async () => {
    const err = await loadError({ ...minimal(), keystore: './keys/nope.keystore.json' })
    expect(err.code).toBe('missing_file')
    expect(err.message).toBe(`config: keystore file not found: ${path.join(dir, 'keys', 'nope.keystore.json')}`)
  })

  it('rejects a directory where a file is required', async () => {
    const err = await loadError({ ...minimal(), genesis: './keys' })
    expect(err.code).toBe('missing_file')
    expect(err.message).toContain('not a regular file')
  })

  it('reports a missing config file and invalid JSON', async () => {
    const missing = path.join(dir, 'does-not-exist.json')
    const err = (await loadConfig(missing, NO_ENV).catch((e: unknown) => e)) as ConfigError
    expect(err).toBeInstanceOf(ConfigError)
    expect(err.code).toBe('not_found')
    expect(err.message).toContain(missing)

    const bad = await loadError('{ "genesis": "./genesis.json", }')
    expect(bad.code).toBe('invalid_json')
    expect(bad.message).toMatch(/^config: invalid JSON in .*node-\d+\.json: .+/)

    const arr = await loadError('[1, 2]')
    expect(arr.code).toBe('invalid_value')
  })

  it('rejects a bad multiaddr in peers', async () => {
    const err = await loadError({ ...minimal(), p2p: { peers: [PEER, 'not-a-multiaddr'] } })
    expect(err.code).toBe('invalid_value')
    expect(err.key).toBe('p2p.peers')
    expect(err.message).toContain('each p2p.peers entry must be a valid multiaddr')
    expect(err.message).toContain('"not-a-multiaddr"')
  })

  it('rejects a peer multiaddr without /p2p/ or with an invalid peer id', async () => {
    const noId = await loadError(minimal(), { env: { UBTC_P2P_PEERS: '/ip4/127.0.0.1/tcp/8601' } })
    expect(noId.message).toBe(
      'config: each p2p.peers entry must be a multiaddr ending in /p2p/<peer id>, got "/ip4/127.0.0.1/tcp/8601" (from env UBTC_P2P_PEERS)',
    )
    const badId = await loadError({ ...minimal(), p2p: { peers: ['/ip4/127.0.0.1/tcp/8601/p2p/QmNotAPeer'] } })
    expect(badId.message).toContain('valid /p2p/<peer id>')
  })

  it('rejects a listen address without tcp', async () => {
    const err = await loadError(minimal(), { env: {}, flags: { 'p2p-listen': '/ip4/127.0.0.1/udp/8600' } })
    expect(err.message).toContain('each p2p.listen entry must be a multiaddr with a /tcp/ component')
  })

  it('rejects redialMaxMs below redialMinMs, naming both sources', async () => {
    const err = await loadError({ ...minimal(), p2p: { redialMinMs: 5000 } }, { env: { UBTC_REDIAL_MAX_MS: '1000' } })
    expect(err.code).toBe('invalid_value')
    expect(err.key).toBe('p2p.redialMaxMs')
    expect(err.message).toContain('p2p.redialMaxMs (1000, from env UBTC_REDIAL_MAX_MS) must be >= p2p.redialMinMs (5000, from file')
  })

  it('rejects an unknown flag with a suggestion', async () => {
    const err = await loadError(minimal(), { env: {}, flags: { 'api-prot': '9000' } })
    expect(err.code).toBe('unknown_key')
    expect(err.message).toBe('config: unknown flag --api-prot (did you mean --api-port?)')
  })

  it('rejects an invalid log level', async () => {
    const err = await loadError({ ...minimal(), log: { level: 'verbose' } })
    expect(err.code).toBe('invalid_value')
    expect(err.message).toMatch(/^config: log\.level must be one of fatal, error, warn, info, debug, trace, got "verbose" \(from file /)
  })

  it('has a consistent settings table', () => {
    const keys = CONFIG_SETTINGS.map((s) => s.key)
    expect(new Set(keys).size).toBe(keys.length)
    for (const s of CONFIG_SETTINGS) {
      expect(s.env).toMatch(/^UBTC_[A-Z0-9_]+$/)
      expect(s.flag).toMatch(/^[a-z0-9-]+$/)
    }
  })
})
