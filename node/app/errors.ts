import { CodedError } from '../../protocol/index.js'

/**
 * Why the guardian application refused an operation. Codes are stable: the node shell and the
 * API branch on them.
 *
 * - `wrong_network`: the database holds the state of another genesis.
 * - `corrupt_state`: a stored record does not decode, or the stored head is inconsistent.
 * - `invalid_argument`: a caller passed something that cannot be right (wrong height, bad cursor…).
 * - `invalid_block`: a certified block does not execute to its header (the network diverged from
 *   this node, or this node has a bug: never paper over it).
 * - `bad_certificate`: the certificate passed to commitBlock does not commit the block.
 * - `conflicting_commit`: a different block was already committed at that height.
 * - `out_of_order`: commitBlock for a height above height + 1.
 * - `closed`: the application was closed.
 */
export type AppErrorCode =
  | 'wrong_network'
  | 'corrupt_state'
  | 'invalid_argument'
  | 'invalid_block'
  | 'bad_certificate'
  | 'conflicting_commit'
  | 'out_of_order'
  | 'closed'

export class AppError extends CodedError<AppErrorCode> {}
