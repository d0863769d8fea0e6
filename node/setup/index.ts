export { guardianName, initTestnet, testnetThresholds, TESTNET_MAX_GUARDIANS, type InitTestnetOptions, type TestnetGuardianFiles, type TestnetLayout } from './init-testnet.js'
