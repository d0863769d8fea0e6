export { guardianName, initTestnet, SetupError, testnetThresholds, TESTNET_MAX_GUARDIANS, type InitTestnetOptions, type TestnetGuardianFiles, type TestnetLayout } from './init-testnet.js'
