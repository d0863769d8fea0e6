import { CodedError } from '../../protocol/index.js'

export type NetworkErrorCode = 'listen_failed' | 'bad_peer_address' | 'not_started' | 'already_started' | 'not_a_guardian'

export class NetworkError extends CodedError<NetworkErrorCode> {}
