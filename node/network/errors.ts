import { CodedError } from '../../protocol/index.js'

export type NetworkErrorCode = 'listen_failed' | 'bad_peer_address' | 'not_started'

export class NetworkError extends CodedError<NetworkErrorCode> {}
