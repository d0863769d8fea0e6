import { CodedError } from '../../protocol/index.js'

export type StoreErrorCode = 'locked' | 'open_failed' | 'wrong_network' | 'not_open'

export class StoreError extends CodedError<StoreErrorCode> {}
