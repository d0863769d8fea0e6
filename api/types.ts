import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Block, Certificate, ChainName, Operation } from '../protocol/index.js'

/** One guardian peer as seen from this node. */
export interface PeerStatusView {
  readonly guardian: string
  readonly peerId: string
  readonly connected: boolean
  /** Milliseconds since the last heartbeat received from this peer; null if none yet. */
  readonly lastHeartbeatMs: number | null
  /** ISO-8601 time of the last heartbeat received; null if none yet. */
  readonly lastHeartbeatAt: string | null
  readonly height: number | null
  readonly version: string | null
}

/** What GET /v1/status returns, field for field. */
export interface StatusView {
  readonly guardian: string
  readonly peerId: string
  readonly version: string
  readonly network: string
  readonly guardianSetIndex: number
  /** Height of the last committed block (0 before the first). */
  readonly height: number
  /** Application state root after `height`, lower-case hex without 0x. */
  readonly stateRoot: string
  /** True while the node is catching up with blocks committed by the others. */
  readonly syncing: boolean
  readonly peers: readonly PeerStatusView[]
  readonly uptimeS: number
}

export interface Readiness {
  readonly ready: boolean
  readonly storeOpen: boolean
  readonly connectedGuardians: number
  readonly requiredGuardians: number
}

/** The API's only view of the node's health: implemented by the node, faked with plain data in tests. */
export interface NodeStatusSource {
  status(): StatusView
  readiness(): Readiness
}

export type OperationViewStatus = 'pending' | 'approved' | 'rejected' | 'expired'

/**
 * A guardian_consensus record, field for field the node's OperationRecord (node/app), which the
 * API must not import: the node passes its records through as they are.
 */
export interface OperationView {
  readonly operation: Operation
  readonly operationId: string
  readonly status: OperationViewStatus
  /** Approvals needed. */
  readonly threshold: number
  /** Guardian indexes, in vote (block) order. */
  readonly approvals: readonly number[]
  readonly rejections: readonly number[]
  /** Block time of the block with the first vote. */
  readonly createdAtMs: number
  readonly expiresAtMs: number
  readonly decidedAtMs: number | null
  readonly decidedHeight: number | null
  readonly createdHeight: number
}

export interface OperationsQuery {
  readonly operation?: Operation
  readonly status?: OperationViewStatus
  /** 1..100. */
  readonly limit: number
  /** Opaque: the nextCursor of the previous page. */
  readonly cursor?: string
}

export interface OperationsPage {
  readonly items: readonly OperationView[]
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null
}

export type ValidationViewStatus = 'pending' | 'approved' | 'rejected' | 'delayed' | 'expired' | 'signed'

export interface ValidationObservationView {
  /** Guardian index. */
  readonly guardian: number
  readonly observationHash: string
  /** Hex of the guardian's envelope signature over the observation. */
  readonly signature: string
}

/**
 * A payment validation as the node keeps it (node/app ValidationRecord, which the API must not
 * import; the node passes its records through, extra fields are ignored).
 */
export interface ValidationView {
  readonly id: string
  readonly chain: ChainName
  readonly txHash: string
  readonly fromAddress: string
  readonly amount: string
  /** UTF-8 text of the message, null if it is not valid UTF-8. */
  readonly messageText: string | null
  readonly status: ValidationViewStatus
  readonly reason: string | null
  readonly observations: readonly ValidationObservationView[]
  readonly conflicting: readonly ValidationObservationView[]
  readonly createdAtMs: number
  readonly processedAtMs: number | null
  /** The reserve's BIP-322 proof, once signed. */
  readonly signature: {
    readonly bitcoinSignature: string
    readonly bitcoinAddress: string
    readonly signers: readonly number[]
    readonly signedAtMs: number
    readonly signedHeight: number
  } | null
}

/** The committed reserve key: what a client needs to check a proof of reserves. */
export interface ReserveView {
  readonly address: string
  readonly network: string
  /** The taproot output key Q, x-only hex (what signatures verify against). */
  readonly groupKey: string
  /** The internal key P, compressed hex: Q = P + hashTapTweak(x(P))·G (BIP-341, no script tree). */
  readonly internalKey: string
  readonly threshold: number
  readonly guardians: number
  readonly verifyingShares: readonly string[]
  readonly dkgCertificate: {
    readonly sessionId: string
    /** reserveKeyDigest(genesis hash, key), hex: what every guardian signed. */
    readonly digest: string
    readonly signatures: ReadonlyArray<{ readonly guardian: number; readonly signature: string }>
  }
  readonly committedHeight: number
  readonly committedAtMs: number
}

/** A PSBT spending reserve outputs, as committed. */
export interface PsbtView {
  readonly id: string
  readonly psbt: string
  readonly inputs: readonly number[]
  readonly proposer: number
  readonly createdHeight: number
  readonly approvedAtMs: number | null
  readonly signedPsbt: string | null
  readonly signers: readonly number[]
  readonly signedAtMs: number | null
}

/** This node's view of the distributed key generation. */
export interface DkgStatusView {
  readonly state: 'idle' | 'running' | 'complete' | 'aborted'
  readonly attempt: number
  readonly sessionId: string | null
  readonly phase: string
  readonly round1: number
  readonly shares: number
  readonly signatures: number
  readonly culprit: string | null
  readonly reason: string | null
}

/** Operator actions, behind the admin token. */
export interface AdminSource {
  /** Starts a new DKG attempt (max seen + 1). */
  startDkg(): Promise<DkgStatusView>
  /** Signs and submits a PsbtProposal transaction of this guardian. */
  proposePsbt(psbt: Uint8Array): Promise<SubmitTxResult>
  /** Signs and submits this guardian's vote on an operation. */
  vote(operation: Operation, operationId: string, decision: 'approve' | 'reject'): Promise<SubmitTxResult>
}

export interface ValidationsQuery {
  readonly chain?: ChainName
  readonly status?: ValidationViewStatus
  /** Sender address (case-insensitive on EVM chains). */
  readonly from?: string
  /** 1..100. */
  readonly limit: number
  readonly cursor?: string
}

export interface ValidationsPage {
  readonly items: readonly ValidationView[]
  readonly nextCursor: string | null
}

/** An oracle message of an event as committed: who signed it, its dlcspecs bytes (hex), when. */
export interface OracleAnnouncementView {
  readonly oracle: string
  readonly publicKey: string
  readonly nonce: string
  readonly announcement: string
  readonly height: number
  readonly timeMs: number
}

export interface OracleAttestationView {
  readonly oracle: string
  readonly outcome: string
  readonly signature: string
  readonly attestation: string
  readonly height: number
  readonly timeMs: number
}

/** An oracle event (dlcspecs enum event) as the genesis oracles announced and attested it. */
export interface OracleEventView {
  /** hex keccak256 of the UTF-8 event id. */
  readonly key: string
  readonly eventId: string
  readonly outcomes: readonly string[]
  /** event_maturity_epoch, unix seconds. */
  readonly maturity: number
  readonly announcements: readonly OracleAnnouncementView[]
  readonly attestations: readonly OracleAttestationView[]
  /** Second attestations (another outcome) by an oracle: evidence; that oracle no longer counts. */
  readonly equivocations: readonly OracleAttestationView[]
  /** The outcome the threshold of oracles attested, once reached; final. */
  readonly outcome: string | null
  readonly consensusReached: boolean
  readonly consensusHeight: number | null
  readonly consensusAtMs: number | null
  readonly createdHeight: number
  readonly createdAtMs: number
}

export interface OracleEventsPage {
  readonly items: readonly OracleEventView[]
  readonly nextCursor: string | null
}

/** A committed block and the certificate (2f+1 precommits) that committed it. */
export interface CommittedBlock {
  readonly block: Block
  readonly certificate: Certificate
}

export type SubmitTxResult = { readonly ok: true; readonly hash: string } | { readonly ok: false; readonly code: string; readonly reason: string }

/** Everything the API reads from (or hands to) the node. */
export interface NodeApiSource extends NodeStatusSource {
  /** The committed block at `height` with its commit certificate; undefined if there is none (yet). */
  block(height: number): Promise<CommittedBlock | undefined>
  /** Height of the last committed block, 0 before the first. */
  latestHeight(): number
  operation(operation: Operation, operationId: string): Promise<OperationView | undefined>
  operations(query: OperationsQuery): Promise<OperationsPage>
  /** The committed validation with this id (protocol validationId), undefined if none. */
  validation(id: string): Promise<ValidationView | undefined>
  validations(query: ValidationsQuery): Promise<ValidationsPage>
  /** The genesis name of the guardian at `index`. */
  guardianName(index: number): string | undefined
  /**
   * Validates an encoded signed Tx envelope and adds it to the mempool. `hash` is the
   * transaction hash (hex); `code` is a stable snake_case reason, e.g. bad_signature.
   */
  submitTx(tx: Uint8Array): Promise<SubmitTxResult>
  /** The committed reserve key (undefined before a DKG result is committed). */
  reserve(): Promise<ReserveView | undefined>
  /** A committed PSBT spending reserve outputs. */
  psbt(id: string): Promise<PsbtView | undefined>
  /** This node's view of the DKG. */
  dkgStatus(): DkgStatusView
  /** The committed oracle event with this dlcspecs event id. */
  oracleEvent(eventId: string): Promise<OracleEventView | undefined>
  /** Committed oracle events, newest first. */
  oracleEvents(query: { readonly limit: number; readonly cursor?: string }): Promise<OracleEventsPage>
}

export interface ApiServerOptions {
  readonly host: string
  /** 0 picks a free port (tests); listen() resolves the actual URL. */
  readonly port: number
  readonly logger: Logger
  /** Served at /metrics; the API registers its own HTTP metrics here too. */
  readonly registry: Registry
  readonly source: NodeApiSource
  /** Node version, used as the OpenAPI document version. */
  readonly version: string
  /** Operator routes under /admin, enabled when `adminToken` is set (Authorization: Bearer <token>). */
  readonly admin?: AdminSource
  readonly adminToken?: string
}

export interface ApiServer {
  readonly fastify: FastifyInstance
  /** Starts listening; resolves the base URL, e.g. http://127.0.0.1:8500. */
  listen(): Promise<string>
  /** Stops the server; safe to call more than once. */
  close(): Promise<void>
}

/** Body of every error response. */
export interface ErrorBody {
  readonly error: string
  readonly message: string
}

/** What GET /v1/blocks/:height returns. Hashes and bytes are lower-case hex without 0x. */
export interface BlockView {
  readonly height: number
  readonly hash: string
  readonly header: {
    readonly height: number
    readonly timeMs: number
    /** ISO-8601 form of timeMs. */
    readonly time: string
    readonly proposer: number
    readonly guardianSetIndex: number
    readonly parentHash: string
    readonly lastCommitHash: string
    readonly txRoot: string
    readonly stateRoot: string
  }
  readonly txs: ReadonlyArray<{ readonly hash: string; readonly envelope: string }>
  readonly certificate: CertificateView
  /** The canonical encodings: what a client that trusts nobody decodes and verifies. */
  readonly raw: { readonly block: string; readonly certificate: string }
}

export interface CertificateView {
  readonly height: number
  readonly round: number
  readonly blockHash: string
  readonly signatures: ReadonlyArray<{ readonly signer: number; readonly timestampMs: number; readonly signature: string }>
}
