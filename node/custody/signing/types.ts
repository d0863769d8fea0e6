import type { ReserveKey, SigningJobRef, ThresholdSignatureTx } from '../../../protocol/index.js'

/** What may be signed: computed only from the node's own committed state (never from a request). */
export interface SigningJobSource {
  /** The messages (32-byte sighashes) job `ref` signs, if the committed state says it awaits a signature now; otherwise undefined. */
  jobMessages(ref: SigningJobRef): Promise<Uint8Array[] | undefined>
  /** Jobs awaiting a signature in the committed state, oldest first, at most `limit`, with the block time at which each became signable. */
  pendingJobs(limit: number): Promise<Array<{ ref: SigningJobRef; signableAtMs: number }>>
}

/** This guardian's key share, once the reserve key is committed and the share is loaded. */
export interface KeyShareSource {
  current(): { key: ReserveKey; identifier: string; signingShare: Uint8Array } | undefined
}

/**
 * What the node's consensus answers to a submitted transaction (its `SubmitResult` fits this
 * shape): accepted into the mempool, or refused with a code and a reason.
 */
export interface SignatureSubmitResult {
  readonly ok: boolean
  readonly code?: string
  readonly reason?: string
}

/** Hands a finished signature to consensus (the node signs it into an envelope and gossips it). */
export type SignatureSubmitter = (tx: ThresholdSignatureTx) => Promise<SignatureSubmitResult>

/** A job with the messages this guardian's committed state gives it. */
export interface SigningJob {
  readonly ref: SigningJobRef
  readonly messages: readonly Uint8Array[]
}

/**
 * How one signing session ended:
 * - `signed`: every job's signatures verified and were submitted (see `submitted`);
 * - `insufficient_signers`: fewer than t guardians (with a share, connected, not excluded) to ask;
 * - `failed`: signers refused, timed out or sent bad shares until the rounds ran out;
 * - `no_key`: this guardian has no key share;
 * - `aborted`: the service stopped.
 */
export type SessionOutcomeKind = 'signed' | 'insufficient_signers' | 'failed' | 'no_key' | 'aborted'

export interface SessionOutcome {
  readonly outcome: SessionOutcomeKind
  /** Guardian indexes whose shares made the signatures (ascending), when signed. */
  readonly signers?: readonly number[]
  /** The transactions handed to `submit`, with consensus's answer to each. */
  readonly submitted?: ReadonlyArray<{ readonly tx: ThresholdSignatureTx; readonly result: SignatureSubmitResult }>
  /** Rounds (commit + sign) the session ran. */
  readonly rounds: number
  readonly detail?: string
}
