export { TESTNET_HELP, testnetCommand } from './cli.js'
export { LocalTestnet, UBTC_BIN, type LocalTestnetOptions, type TestnetGuardian } from './local-testnet.js'
export { formatLogLine } from './log-format.js'
export { findFreeBasePort, portIsFree } from './ports.js'
