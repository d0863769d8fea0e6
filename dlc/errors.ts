import { CodedError } from '../protocol/index.js'

/**
 * Why the DLC engine refused something. Each helper adds its codes here; callers (CLI, API,
 * state machine) branch on `code` and show `message`.
 */
export type DlcErrorCode =
  /** Bytes that do not decode (dlcspecs wire form, terms JSON, encodings). */
  | 'malformed'
  /** A BIP-340 or adaptor signature that does not verify. */
  | 'bad_signature'
  /** A well-formed announcement that breaks a rule (outcomes, nonces, maturity). */
  | 'invalid_announcement'
  /** A well-formed attestation that does not match its announcement. */
  | 'invalid_attestation'
  /** Terms that do not parse into the typed form. */
  | 'invalid_terms'
  /** Terms that parse but break a security rule; `reasons` on the error lists each. */
  | 'terms_rejected'
  /** A CET pre-signature that does not verify, or is missing. */
  | 'bad_presignature'
  /** An ephemeral key used after its erasure. */
  | 'key_erased'
  /** Fewer matching attestations than the oracle threshold. */
  | 'not_enough_attestations'
  /** A funding outpoint that is not a txid (64 hex) and an output index (u32). */
  | 'invalid_funding'
  /** An outcome the contract's oracle event does not announce. */
  | 'unknown_outcome'
  /** A key that is not one of the contract's keys for the path asked (ephemeral or guardian). */
  | 'unknown_key'
  /** A PSBT that is not a spend of the contract by the expected leaf, or a bad signature for it. */
  | 'bad_psbt'
  /** Fewer guardian signatures than the leaf's threshold. */
  | 'not_enough_signatures'
  /** Signers that cannot satisfy a leaf (fewer than its threshold), or a satisfaction for another leaf. */
  | 'unsatisfiable'

export class DlcError extends CodedError<DlcErrorCode> {}
