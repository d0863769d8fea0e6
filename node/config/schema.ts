import { CHAIN_NAMES, type ChainName } from '../../protocol/index.js'

/** Declarative list of node settings: drives parsing, env/flag overrides and `ubtc node --help`. */

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace']

export type ConfigSettingType = 'string' | 'path' | 'port' | 'integer' | 'boolean' | 'multiaddrs' | 'loglevel' | 'urls'

export interface ConfigSetting {
  /** Dotted key as it appears in the config file, e.g. 'api.port'. */
  readonly key: string
  /** Environment variable override, e.g. 'UBTC_API_PORT'. */
  readonly env: string
  /** Command-line flag override without dashes, e.g. 'api-port'. */
  readonly flag: string
  readonly type: ConfigSettingType
  readonly required: boolean
  readonly default?: unknown
  readonly description: string
  /** Inclusive bounds for 'integer' (ports are always 1..65535). */
  readonly min?: number
  readonly max?: number
  /** For 'path': the file must exist and be a regular file. */
  readonly mustExist?: boolean
  /** For 'multiaddrs': what each address must contain. */
  readonly multiaddr?: 'listen' | 'peer'
}

export const CONFIG_SETTINGS: readonly ConfigSetting[] = Object.freeze([
  { key: 'genesis', env: 'UBTC_GENESIS', flag: 'genesis', type: 'path', required: true, mustExist: true,
    description: 'Genesis document (JSON) shared by all guardians' },
  { key: 'keystore', env: 'UBTC_KEYSTORE', flag: 'keystore', type: 'path', required: true, mustExist: true,
    description: "This guardian's encrypted keystore file" },
  { key: 'passphraseFile', env: 'UBTC_PASSPHRASE_FILE', flag: 'passphrase-file', type: 'path', required: false, mustExist: true,
    description: 'File holding the keystore passphrase (otherwise UBTC_PASSPHRASE is used)' },
  { key: 'dataDir', env: 'UBTC_DATA_DIR', flag: 'data-dir', type: 'path', required: true,
    description: 'Directory for the node database (created if missing)' },
  { key: 'api.host', env: 'UBTC_API_HOST', flag: 'api-host', type: 'string', required: false, default: '127.0.0.1',
    description: 'HTTP API bind address' },
  { key: 'api.port', env: 'UBTC_API_PORT', flag: 'api-port', type: 'port', required: false, default: 8500,
    description: 'HTTP API port' },
  { key: 'api.adminToken', env: 'UBTC_ADMIN_TOKEN', flag: 'admin-token', type: 'string', required: false,
    description: 'Bearer token of the operator routes under /admin (ubtc dkg …); unset: admin routes are disabled' },
  { key: 'p2p.listen', env: 'UBTC_P2P_LISTEN', flag: 'p2p-listen', type: 'multiaddrs', required: false,
    default: ['/ip4/127.0.0.1/tcp/8600'], multiaddr: 'listen',
    description: 'libp2p TCP listen multiaddrs (comma-separated in env/flag)' },
  { key: 'p2p.peers', env: 'UBTC_P2P_PEERS', flag: 'p2p-peers', type: 'multiaddrs', required: false,
    default: [], multiaddr: 'peer',
    description: 'Guardian peers to dial, each ending in /p2p/<peer id> (comma-separated in env/flag)' },
  { key: 'p2p.heartbeatIntervalMs', env: 'UBTC_HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval-ms', type: 'integer',
    required: false, default: 2000, min: 100, max: 60_000, description: 'Heartbeat broadcast interval (ms)' },
  { key: 'p2p.redialMinMs', env: 'UBTC_REDIAL_MIN_MS', flag: 'redial-min-ms', type: 'integer',
    required: false, default: 500, min: 50, max: 60_000, description: 'Initial peer redial backoff (ms)' },
  { key: 'p2p.redialMaxMs', env: 'UBTC_REDIAL_MAX_MS', flag: 'redial-max-ms', type: 'integer',
    required: false, default: 30_000, min: 100, max: 600_000, description: 'Maximum peer redial backoff (ms), >= redial-min-ms' },
  ...CHAIN_NAMES.map((chain) => ({
    key: `chains.${chain}.rpcUrls`,
    env: `UBTC_${chain.toUpperCase()}_RPC_URLS`,
    flag: `${chain}-rpc-urls`,
    type: 'urls' as const,
    required: false,
    default: [],
    description: `${chain} JSON-RPC endpoints, tried in order (comma-separated in env/flag); none: ${chain} is not watched`,
  })),
  { key: 'consensus.emptyBlockIntervalMs', env: 'UBTC_EMPTY_BLOCK_INTERVAL_MS', flag: 'empty-block-interval-ms', type: 'integer',
    required: false, default: 5000, min: 0, max: 3_600_000,
    description: 'Commit an empty block after this long without transactions (0: only blocks with transactions)' },
  { key: 'consensus.timeoutProposeMs', env: 'UBTC_TIMEOUT_PROPOSE_MS', flag: 'timeout-propose-ms', type: 'integer',
    required: false, default: 1000, min: 50, max: 60_000,
    description: 'Round-0 propose timeout; prevote/precommit timeouts are half of it, and all grow by half of it per round' },
  { key: 'custody.autoDkg', env: 'UBTC_AUTO_DKG', flag: 'auto-dkg', type: 'boolean', required: false, default: false,
    description: 'Start the distributed key generation at start-up while no reserve key is committed (testnets); otherwise `ubtc dkg` starts it' },
  { key: 'custody.signingTimeoutMs', env: 'UBTC_SIGNING_TIMEOUT_MS', flag: 'signing-timeout-ms', type: 'integer',
    required: false, default: 10_000, min: 500, max: 600_000,
    description: 'How long one FROST signing attempt may take before the next coordinator takes over' },
  { key: 'custody.dkgPollIntervalMs', env: 'UBTC_DKG_POLL_INTERVAL_MS', flag: 'dkg-poll-interval-ms', type: 'integer',
    required: false, default: 250, min: 20, max: 60_000,
    description: 'How often a DKG participant asks its peers for the packages it still misses' },
  { key: 'log.level', env: 'UBTC_LOG_LEVEL', flag: 'log-level', type: 'loglevel', required: false, default: 'info',
    description: `Log level: ${LOG_LEVELS.join(', ')}` },
] satisfies ConfigSetting[])

export interface NodeConfig {
  readonly configFile: string
  readonly genesisFile: string
  readonly keystoreFile: string
  readonly passphraseFile?: string
  readonly dataDir: string
  readonly api: { readonly host: string; readonly port: number; readonly adminToken?: string }
  readonly p2p: {
    readonly listen: readonly string[]
    readonly peers: readonly string[]
    readonly heartbeatIntervalMs: number
    readonly redialMinMs: number
    readonly redialMaxMs: number
  }
  readonly chains: Readonly<Record<ChainName, { readonly rpcUrls: readonly string[] }>>
  readonly consensus: { readonly emptyBlockIntervalMs: number; readonly timeoutProposeMs: number }
  readonly custody: { readonly autoDkg: boolean; readonly signingTimeoutMs: number; readonly dkgPollIntervalMs: number }
  readonly log: { readonly level: LogLevel }
}
