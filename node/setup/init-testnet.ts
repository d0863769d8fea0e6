import { randomBytes } from 'node:crypto'
import { access, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { CodedError, DEFAULT_OPERATION_TTL_MS, genesisToJson, maxFaulty, parseGenesis, voteAddress, type ChainConfig, type ChainName, type Genesis, type Operation } from '../../protocol/index.js'
import { generateGuardianKeys, generateOracleKeys, oracleJournalPath, TESTNET_KDF, writeKeystore, writeOracleKeystore, type KeystorePublic, type OracleKeystorePublic } from '../keystore/index.js'

export interface InitTestnetOptions {
  readonly dir: string
  readonly guardians: number
  /** Guardian i serves its API on basePort+i and libp2p on basePort+100+i. */
  readonly basePort: number
  readonly network?: string
  /** Replace an existing testnet in `dir`. */
  readonly force?: boolean
  /** Chains the guardians watch (genesis part; RPC URLs are node settings). */
  readonly chains?: Partial<Record<ChainName, ChainConfig>>
  /** Payment rate limit per (chain, sender), e.g. a short window for tests. */
  readonly rateLimit?: { readonly perWindow: number; readonly windowMs: number }
  /** DLC oracles listed in genesis, each with its keystore in `oracle-<i>/` (default 3). */
  readonly oracles?: number
}

export interface TestnetGuardianFiles {
  readonly name: string
  readonly dir: string
  readonly configFile: string
  readonly apiPort: number
  readonly p2pPort: number
  readonly peerId: string
  /** Bearer token of the guardian's /admin routes. */
  readonly adminToken: string
}

/** A testnet oracle: its keystore (cheap testnet scrypt parameters) and passphrase file. */
export interface TestnetOracleFiles {
  readonly name: string
  readonly dir: string
  readonly keystoreFile: string
  readonly passphraseFile: string
  readonly peerId: string
  /** BIP-340 x-only oracle key, lower-case hex. */
  readonly publicKey: string
}

export interface TestnetLayout {
  readonly genesisFile: string
  readonly genesis: Genesis
  readonly guardians: readonly TestnetGuardianFiles[]
  readonly oracles: readonly TestnetOracleFiles[]
}

export const TESTNET_MAX_GUARDIANS = 32
export const TESTNET_MAX_ORACLES = 16
const DEFAULT_TESTNET_ORACLES = 3

export class SetupError extends CodedError<'exists' | 'invalid_option'> {}

/** Per-operation thresholds for n guardians: majorities for validation and liquidation, the commit quorum for emergencies and reserve spends. */
export function testnetThresholds(n: number): Record<Operation, number> {
  const majority = Math.floor(n / 2) + 1
  const quorum = Math.min(n, n - maxFaulty(n))
  return { validation: majority, lp_liquidation: majority, dlc_emergency: quorum, reserve_spend: quorum }
}

export function guardianName(index: number): string {
  return `guardian-${index}`
}

export function oracleName(index: number): string {
  return `oracle-${index}`
}

/**
 * The oracles of a testnet folder, from its genesis: oracle `oracle-<i>` keeps its keystore and
 * passphrase in `<dir>/oracle-<i>/`.
 */
export function testnetOracles(dir: string, genesis: Genesis): TestnetOracleFiles[] {
  return genesis.oracles.map((o) => {
    const home = join(dir, o.name)
    return { name: o.name, dir: home, keystoreFile: join(home, 'keystore.json'), passphraseFile: join(home, 'passphrase'), peerId: o.peerId, publicKey: bytesToHex(o.publicKey) }
  })
}

/**
 * A local-network genesis for guardians with these public keys, named guardian-0… in order, and
 * these oracles, named oracle-0… in order.
 */
export function testnetGenesis(
  members: readonly KeystorePublic[],
  network = 'ubtc-local',
  chains: Partial<Record<ChainName, ChainConfig>> = {},
  rateLimit?: { readonly perWindow: number; readonly windowMs: number },
  oracles: readonly OracleKeystorePublic[] = [],
): Genesis {
  return parseGenesis(
    genesisToJson({
      network,
      genesisTime: new Date().toISOString(),
      guardianSetIndex: 0,
      guardians: members.map((pub, index) => {
        const votePublicKey = hexToBytes(pub.votePublicKey)
        return { index, name: guardianName(index), votePublicKey, address: voteAddress(votePublicKey), peerId: pub.peerId }
      }),
      thresholds: testnetThresholds(members.length),
      chains,
      oracles: oracles.map((pub, index) => ({ name: oracleName(index), peerId: pub.peerId, publicKey: hexToBytes(pub.publicKey) })),
      bitcoinNetwork: 'regtest',
      operationTtlMs: DEFAULT_OPERATION_TTL_MS,
      ...(rateLimit !== undefined ? { validationRateLimitPerHour: rateLimit.perWindow, validationRateWindowMs: rateLimit.windowMs } : {}),
    }),
  )
}

/**
 * Writes a local testnet into `dir`: genesis.json, for each guardian a folder with an
 * encrypted keystore (cheap testnet scrypt parameters), its passphrase file (0600) and a
 * config.json that dials every other guardian on 127.0.0.1, and for each oracle a folder with
 * its oracle keystore and passphrase file.
 */
export async function initTestnet(opts: InitTestnetOptions): Promise<TestnetLayout> {
  const n = opts.guardians
  if (!Number.isInteger(n) || n < 1 || n > TESTNET_MAX_GUARDIANS) throw new SetupError('invalid_option', `guardians must be 1..${TESTNET_MAX_GUARDIANS}, got ${n}`)
  if (!Number.isInteger(opts.basePort) || opts.basePort < 1024 || opts.basePort + 100 + n - 1 > 65535) {
    throw new SetupError('invalid_option', `base port must leave room for ports ${opts.basePort}..${opts.basePort + 100 + n - 1} within 1024..65535`)
  }
  const oracleCount = opts.oracles ?? DEFAULT_TESTNET_ORACLES
  if (!Number.isInteger(oracleCount) || oracleCount < 0 || oracleCount > TESTNET_MAX_ORACLES) throw new SetupError('invalid_option', `oracles must be 0..${TESTNET_MAX_ORACLES}, got ${oracleCount}`)
  const genesisFile = join(opts.dir, 'genesis.json')
  if (!opts.force && (await exists(genesisFile))) throw new SetupError('exists', `${genesisFile} already exists (use --force to replace the testnet)`)
  await mkdir(opts.dir, { recursive: true, mode: 0o700 })

  const members: Array<{ files: TestnetGuardianFiles; pub: KeystorePublic }> = []
  for (let i = 0; i < n; i++) {
    const name = guardianName(i)
    const dir = join(opts.dir, name)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const passphrase = bytesToHex(randomBytes(16))
    await writeFile(join(dir, 'passphrase'), `${passphrase}\n`, { mode: 0o600 })
    const pub = await writeKeystore(join(dir, 'keystore.json'), await generateGuardianKeys(), passphrase, { kdf: TESTNET_KDF, overwrite: opts.force === true })
    const adminToken = bytesToHex(randomBytes(16))
    members.push({ files: { name, dir, configFile: join(dir, 'config.json'), apiPort: opts.basePort + i, p2pPort: opts.basePort + 100 + i, peerId: pub.peerId, adminToken }, pub })
  }

  const oracles: OracleKeystorePublic[] = []
  for (let i = 0; i < oracleCount; i++) {
    const dir = join(opts.dir, oracleName(i))
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const passphrase = bytesToHex(randomBytes(16))
    await writeFile(join(dir, 'passphrase'), `${passphrase}\n`, { mode: 0o600 })
    // A replaced testnet's oracle starts over: its old journal belongs to the old key.
    if (opts.force === true) await rm(oracleJournalPath(join(dir, 'keystore.json')), { force: true })
    oracles.push(await writeOracleKeystore(join(dir, 'keystore.json'), await generateOracleKeys(), passphrase, { kdf: TESTNET_KDF, overwrite: opts.force === true }))
  }

  const genesis = testnetGenesis(members.map((m) => m.pub), opts.network, opts.chains, opts.rateLimit, oracles)
  await writeFile(genesisFile, `${JSON.stringify(genesisToJson(genesis), null, 2)}\n`)

  for (const { files } of members) {
    const config = {
      genesis: '../genesis.json',
      keystore: 'keystore.json',
      passphraseFile: 'passphrase',
      dataDir: 'data',
      api: { host: '127.0.0.1', port: files.apiPort, adminToken: files.adminToken },
      p2p: {
        listen: [`/ip4/127.0.0.1/tcp/${files.p2pPort}`],
        peers: members.filter((m) => m.files !== files).map((m) => `/ip4/127.0.0.1/tcp/${m.files.p2pPort}/p2p/${m.files.peerId}`),
        heartbeatIntervalMs: 1000,
        redialMinMs: 250,
        redialMaxMs: 5000,
      },
      consensus: { emptyBlockIntervalMs: 1000, timeoutProposeMs: 1000 },
      // A testnet generates its reserve key by itself at first start.
      custody: { autoDkg: true, signingTimeoutMs: 3000, dkgPollIntervalMs: 100 },
      log: { level: 'info' },
    }
    await writeFile(files.configFile, `${JSON.stringify(config, null, 2)}\n`)
  }
  return { genesisFile, genesis, guardians: members.map((m) => m.files), oracles: testnetOracles(opts.dir, genesis) }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
