export { ConfigError, type ConfigErrorCode } from './errors.js'
export { CONFIG_SETTINGS, LOG_LEVELS, type ConfigSetting, type ConfigSettingType, type LogLevel, type NodeConfig } from './schema.js'
export { loadConfig, parseConfig, type ConfigOverrides } from './load.js'
