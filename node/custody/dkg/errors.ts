import { CodedError } from '../../../protocol/index.js'

/** Why the DKG service refused an operator request. */
export type DkgServiceErrorCode =
  /** A reserve key is committed already: there is nothing to generate. */
  | 'already_committed'
  /** Every guardian signed a result already; it awaits commit, so no new attempt is opened. */
  | 'pending_commit'
  /** The guardian set or threshold cannot run a FROST DKG (noble needs 2 ≤ t ≤ n). */
  | 'unsupported'
  /** The service was stopped. */
  | 'stopped'

export class DkgServiceError extends CodedError<DkgServiceErrorCode> {}
