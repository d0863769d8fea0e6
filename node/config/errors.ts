import { CodedError } from '../../protocol/index.js'

/** Why a config could not be loaded. Codes are stable: the CLI maps them to exit messages. */
export type ConfigErrorCode =
  | 'not_found'
  | 'unreadable'
  | 'invalid_json'
  | 'unknown_key'
  | 'invalid_value'
  | 'missing_value'
  | 'missing_file'

export class ConfigError extends CodedError<ConfigErrorCode> {
  /** Dotted setting key (or flag / file key) the error is about, when there is one. */
  readonly key?: string

  /** `detail` is the operator-facing text; the "config: " prefix is added here so every message has it. */
  constructor(code: ConfigErrorCode, detail: string, key?: string) {
    super(code, `config: ${detail}`)
    if (key !== undefined) this.key = key
  }
}
