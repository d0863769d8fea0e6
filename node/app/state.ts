import { BranchMPTNode, createMPT, decodeMPTNode, decodeRawMPTNode, ExtensionMPTNode, type MerklePatriciaTrie, type NodeReferenceOrRawMPTNode } from '@ethereumjs/mpt'
import { ValueEncoding } from '@ethereumjs/util'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { CHAIN_NAMES, decodeCanonical, encodeCanonical, OPERATIONS, type ChainName, type Genesis, type Operation } from '../../protocol/index.js'
import { readBytes, readString, readTuple, readUint, type CborValue } from '../../protocol/codec.js'
import { AppError } from './errors.js'
import {
  AUDIT_GENESIS_HASH,
  auditHash,
  decodeAuditEntry,
  decodeOperationRecord,
  decodePsbtRecord,
  decodeReserveRecord,
  decodeValidationRecord,
  encodeAuditEntry,
  encodeOperationRecord,
  encodePsbtRecord,
  encodeReserveRecord,
  encodeValidationRecord,
  type AuditEntry,
  type OperationRecord,
  type PsbtRecord,
  type ReserveRecord,
  type ValidationRecord,
} from './records.js'
import type { TrieDb } from './trie-db.js'
import { decodeOracleEventRecord, encodeOracleEventRecord, type OracleEventRecord } from './oracle-records.js'

/**
 * Typed access to the application state, an @ethereumjs/mpt Merkle-Patricia trie (secure:
 * keys are keccak-hashed, so attacker-chosen operation ids cannot shape deep paths) whose
 * nodes live in the node's LevelDB through a {@link TrieDb}. Keys are UTF-8 strings, values
 * canonical CBOR (protocol encodeCanonical) tuples whose first element is a format version:
 *
 *   config                      [1, networkId, guardianSetIndex, [threshold per OPERATIONS], operationTtlMs, genesisTimeMs]
 *   guardian/<index>            [1, name, votePublicKey, address, peerId]
 *   op/<operation>/<id>         OperationRecord (records.ts)
 *   audit/head                  [1, nextSeq, headHash hex]          the tip of the audit hash chain
 *   audit/<seq>                 AuditEntry (records.ts)
 *   pending                     [1, head, tail]                      the expiry queue's bounds
 *   pending/<seq>               [1, expiresAtMs, operation, id]      head ≤ seq < tail
 *   validation/<id>             ValidationRecord (records.ts)
 *   vexpiry                     [1, head, tail]                      the validations' expiry queue (FIFO, as pending)
 *   vexpiry/<seq>               [1, expiresAtMs, id]
 *   vrate/<chain>/<from>        [1, [approval block times]]          the sender's approvals of the last hour
 *   vdelayed/<chain>/<from>     [1, [id…]]                           the sender's delayed validations, FIFO
 *   vdelayed                    [1, [[chain, from]…]]                senders with delayed validations, first delayed first
 *   reserve                     ReserveRecord (records.ts)           the reserve key and its DKG certificate, once
 *   psbt/<id>                   PsbtRecord (records.ts)              PSBTs spending reserve outputs
 *   psbt-awaiting               [1, [id…]]                           approved PSBTs not yet signed, approval order
 *   oracle-event/<key>          OracleEventRecord (oracle-records.ts) an oracle event; key = keccak256(event id)
 * (<from> is the sender address, lower-case on EVM chains.)
 *
 * The expiry queue is a FIFO: every operation gets expiresAtMs = creation block time +
 * genesis.operationTtlMs, block times strictly increase and the TTL is fixed, so entries are
 * appended in expiry order and a block only ever looks at the head of the queue. Entries of
 * operations decided before they expire stay in the queue and are dropped when they reach the
 * head (they are no longer pending).
 *
 * An AppState is a block's working set: reads go through a cache, writes stay in memory until
 * {@link flush} puts them into the trie (in key order) and returns the new root. It also keeps
 * what the commit needs besides trie nodes: the operation records that changed (for the LevelDB
 * operation index) and the audit entries appended.
 */

export interface GuardianEntry {
  readonly index: number
  readonly name: string
  readonly votePublicKey: Uint8Array
  readonly address: string
  readonly peerId: string
}

export interface StateConfig {
  readonly networkId: Uint8Array
  readonly guardianSetIndex: number
  readonly thresholds: Readonly<Record<Operation, number>>
  readonly operationTtlMs: number
  readonly genesisTimeMs: number
}

export interface PendingEntry {
  readonly expiresAtMs: number
  readonly operation: Operation
  readonly operationId: string
}

export interface OperationChange {
  /** The record before this block (undefined: created in this block). */
  readonly before: OperationRecord | undefined
  readonly after: OperationRecord
}

export interface ValidationChange {
  readonly before: ValidationRecord | undefined
  readonly after: ValidationRecord
}

export interface Sender {
  readonly chain: ChainName
  readonly from: string
}

export const stateKeys = {
  config: 'config',
  guardian: (index: number): string => `guardian/${index}`,
  operation: (operation: Operation, operationId: string): string => `op/${operation}/${operationId}`,
  auditHead: 'audit/head',
  audit: (seq: number): string => `audit/${seq}`,
  pending: 'pending',
  pendingEntry: (seq: number): string => `pending/${seq}`,
  validation: (id: string): string => `validation/${id}`,
  validationExpiry: 'vexpiry',
  validationExpiryEntry: (seq: number): string => `vexpiry/${seq}`,
  rate: (s: Sender): string => `vrate/${s.chain}/${s.from}`,
  delayed: (s: Sender): string => `vdelayed/${s.chain}/${s.from}`,
  delayedSenders: 'vdelayed',
  reserve: 'reserve',
  psbt: (id: string): string => `psbt/${id}`,
  psbtAwaiting: 'psbt-awaiting',
  oracleEvent: (key: string): string => `oracle-event/${key}`,
} as const

const MAX_VALUE_BYTES = 64 * 1024
const V = 1
const MAX_INT = Number.MAX_SAFE_INTEGER

/** Genesis time in ms since the epoch (the BFT time of height 1). */
export function genesisTimeMs(genesis: Genesis): number {
  return Date.parse(genesis.genesisTime)
}

export class AppState {
  /** key → value (null: absent or deleted); both what was read and what was written. */
  private readonly values = new Map<string, Uint8Array | null>()
  private readonly dirty = new Set<string>()
  private readonly changes = new Map<string, OperationChange>()
  private readonly appended: AuditEntry[] = []
  private readonly vchanges = new Map<string, ValidationChange>()
  private readonly ochanges = new Map<string, OracleEventRecord>()

  private constructor(
    private readonly trie: MerklePatriciaTrie,
    readonly db: TrieDb,
  ) {}

  /** The state at `root` (null: the empty trie), writing through `db`. */
  static async at(db: TrieDb, root: Uint8Array | null): Promise<AppState> {
    const trie = await createMPT({ db, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes, ...(root === null ? {} : { root }) })
    return new AppState(trie, db)
  }

  /** Writes the genesis state: config and guardian set. */
  initGenesis(genesis: Genesis): void {
    this.write(
      stateKeys.config,
      encodeCanonical([V, genesis.hash, genesis.guardianSetIndex, OPERATIONS.map((op) => genesis.thresholds[op]), genesis.operationTtlMs, genesisTimeMs(genesis)]),
    )
    for (const g of genesis.guardians) {
      this.write(stateKeys.guardian(g.index), encodeCanonical([V, g.name, g.votePublicKey, g.address, g.peerId]))
    }
    this.write(stateKeys.auditHead, encodeCanonical([V, 0, AUDIT_GENESIS_HASH]))
    this.write(stateKeys.pending, encodeCanonical([V, 0, 0]))
  }

  // ─── raw access ────────────────────────────────────────────────────────────

  private async read(key: string): Promise<Uint8Array | null> {
    const cached = this.values.get(key)
    if (cached !== undefined) return cached
    const value = await this.trie.get(utf8ToBytes(key))
    this.values.set(key, value)
    return value
  }

  private write(key: string, value: Uint8Array | null): void {
    this.values.set(key, value)
    this.dirty.add(key)
  }

  private async readTuple(key: string, arity: number): Promise<unknown[] | undefined> {
    const bytes = await this.read(key)
    if (bytes === null) return undefined
    try {
      return readTuple(decodeCanonical(bytes, MAX_VALUE_BYTES, key), V, arity, key)
    } catch (err) {
      throw new AppError('corrupt_state', `state: ${key} does not decode (${(err as Error).message})`, { cause: err })
    }
  }

  private corrupt(key: string, err: unknown): never {
    throw new AppError('corrupt_state', `state: ${key} does not decode (${(err as Error).message})`, { cause: err })
  }

  // ─── typed access ──────────────────────────────────────────────────────────

  async getConfig(): Promise<StateConfig | undefined> {
    const t = await this.readTuple(stateKeys.config, 5)
    if (t === undefined) return undefined
    try {
      const thresholds = t[2]
      if (!Array.isArray(thresholds) || thresholds.length !== OPERATIONS.length) throw new Error('thresholds: expected one per operation')
      return {
        networkId: readBytes(t[0], 'networkId', { exact: 32 }),
        guardianSetIndex: readUint(t[1], 2 ** 32 - 1, 'guardianSetIndex'),
        thresholds: Object.fromEntries(OPERATIONS.map((op, i) => [op, readUint(thresholds[i], 255, `thresholds.${op}`)])) as Record<Operation, number>,
        operationTtlMs: readUint(t[3], MAX_INT, 'operationTtlMs'),
        genesisTimeMs: readUint(t[4], MAX_INT, 'genesisTimeMs'),
      }
    } catch (err) {
      this.corrupt(stateKeys.config, err)
    }
  }

  async getGuardian(index: number): Promise<GuardianEntry | undefined> {
    const key = stateKeys.guardian(index)
    const t = await this.readTuple(key, 4)
    if (t === undefined) return undefined
    try {
      return {
        index,
        name: readString(t[0], 'name', 64),
        votePublicKey: readBytes(t[1], 'votePublicKey', { exact: 33 }),
        address: readString(t[2], 'address', 42),
        peerId: readString(t[3], 'peerId', 256),
      }
    } catch (err) {
      this.corrupt(key, err)
    }
  }

  async getOperation(operation: Operation, operationId: string): Promise<OperationRecord | undefined> {
    const bytes = await this.read(stateKeys.operation(operation, operationId))
    return bytes === null ? undefined : decodeOperationRecord(bytes)
  }

  /** Stores `after`; `before` is the record as read in this block (undefined: new). */
  putOperation(before: OperationRecord | undefined, after: OperationRecord): void {
    const key = stateKeys.operation(after.operation, after.operationId)
    this.write(key, encodeOperationRecord(after))
    const earlier = this.changes.get(key)
    this.changes.set(key, { before: earlier === undefined ? before : earlier.before, after })
  }

  async getAuditHead(): Promise<{ nextSeq: number; headHash: string }> {
    const t = await this.readTuple(stateKeys.auditHead, 2)
    if (t === undefined) return { nextSeq: 0, headHash: AUDIT_GENESIS_HASH }
    try {
      return { nextSeq: readUint(t[0], MAX_INT, 'nextSeq'), headHash: readString(t[1], 'headHash', 64) }
    } catch (err) {
      this.corrupt(stateKeys.auditHead, err)
    }
  }

  async getAudit(seq: number): Promise<AuditEntry | undefined> {
    const bytes = await this.read(stateKeys.audit(seq))
    return bytes === null ? undefined : decodeAuditEntry(bytes)
  }

  /** Appends a decision to the audit hash chain and returns the entry. */
  async appendAudit(decision: Omit<AuditEntry, 'seq' | 'prevHash' | 'hash'>): Promise<AuditEntry> {
    const head = await this.getAuditHead()
    const body = { seq: head.nextSeq, height: decision.height, timeMs: decision.timeMs, operation: decision.operation, operationId: decision.operationId, status: decision.status, prevHash: head.headHash }
    const entry: AuditEntry = { ...body, hash: auditHash(body) }
    this.write(stateKeys.audit(entry.seq), encodeAuditEntry(entry))
    this.write(stateKeys.auditHead, encodeCanonical([V, entry.seq + 1, entry.hash]))
    this.appended.push(entry)
    return entry
  }

  async getPendingBounds(): Promise<{ head: number; tail: number }> {
    const t = await this.readTuple(stateKeys.pending, 2)
    if (t === undefined) return { head: 0, tail: 0 }
    try {
      const head = readUint(t[0], MAX_INT, 'head')
      const tail = readUint(t[1], MAX_INT, 'tail')
      if (head > tail) throw new Error('head beyond tail')
      return { head, tail }
    } catch (err) {
      this.corrupt(stateKeys.pending, err)
    }
  }

  async getPendingEntry(seq: number): Promise<PendingEntry | undefined> {
    const key = stateKeys.pendingEntry(seq)
    const t = await this.readTuple(key, 3)
    if (t === undefined) return undefined
    try {
      const operation = t[1]
      if (typeof operation !== 'string' || !(OPERATIONS as readonly string[]).includes(operation)) throw new Error('unknown operation')
      return { expiresAtMs: readUint(t[0], MAX_INT, 'expiresAtMs'), operation: operation as Operation, operationId: readString(t[2], 'operationId', 1024) }
    } catch (err) {
      this.corrupt(key, err)
    }
  }

  /** Appends to the expiry queue (callers append in expiry order, see above). */
  async pushPending(entry: PendingEntry): Promise<void> {
    const { head, tail } = await this.getPendingBounds()
    this.write(stateKeys.pendingEntry(tail), encodeCanonical([V, entry.expiresAtMs, entry.operation, entry.operationId]))
    this.write(stateKeys.pending, encodeCanonical([V, head, tail + 1]))
  }

  /** Removes the head of the expiry queue. */
  async popPending(): Promise<void> {
    const { head, tail } = await this.getPendingBounds()
    if (head === tail) return
    this.write(stateKeys.pendingEntry(head), null)
    this.write(stateKeys.pending, encodeCanonical([V, head + 1, tail]))
  }

  // ─── payment validations ───────────────────────────────────────────────────

  async getValidation(id: string): Promise<ValidationRecord | undefined> {
    const bytes = await this.read(stateKeys.validation(id))
    return bytes === null ? undefined : decodeValidationRecord(bytes)
  }

  putValidation(before: ValidationRecord | undefined, after: ValidationRecord): void {
    const key = stateKeys.validation(after.id)
    this.write(key, encodeValidationRecord(after))
    const earlier = this.vchanges.get(key)
    this.vchanges.set(key, { before: earlier === undefined ? before : earlier.before, after })
  }

  private async queueBounds(key: string): Promise<{ head: number; tail: number }> {
    const t = await this.readTuple(key, 2)
    if (t === undefined) return { head: 0, tail: 0 }
    try {
      const head = readUint(t[0], MAX_INT, 'head')
      const tail = readUint(t[1], MAX_INT, 'tail')
      if (head > tail) throw new Error('head beyond tail')
      return { head, tail }
    } catch (err) {
      this.corrupt(key, err)
    }
  }

  /** The head of the validations' expiry queue, or undefined if it is empty. */
  async peekValidationExpiry(): Promise<{ expiresAtMs: number; id: string } | null | undefined> {
    const { head, tail } = await this.queueBounds(stateKeys.validationExpiry)
    if (head === tail) return undefined
    const key = stateKeys.validationExpiryEntry(head)
    const t = await this.readTuple(key, 2)
    if (t === undefined) return null
    try {
      return { expiresAtMs: readUint(t[0], MAX_INT, 'expiresAtMs'), id: readString(t[1], 'id', 64) }
    } catch (err) {
      this.corrupt(key, err)
    }
  }

  async pushValidationExpiry(expiresAtMs: number, id: string): Promise<void> {
    const { head, tail } = await this.queueBounds(stateKeys.validationExpiry)
    this.write(stateKeys.validationExpiryEntry(tail), encodeCanonical([V, expiresAtMs, id]))
    this.write(stateKeys.validationExpiry, encodeCanonical([V, head, tail + 1]))
  }

  async popValidationExpiry(): Promise<void> {
    const { head, tail } = await this.queueBounds(stateKeys.validationExpiry)
    if (head === tail) return
    this.write(stateKeys.validationExpiryEntry(head), null)
    this.write(stateKeys.validationExpiry, encodeCanonical([V, head + 1, tail]))
  }

  private async readList(key: string): Promise<unknown[]> {
    const t = await this.readTuple(key, 1)
    if (t === undefined) return []
    if (!Array.isArray(t[0])) this.corrupt(key, new Error('expected a list'))
    return t[0] as unknown[]
  }

  private writeList(key: string, list: CborValue[]): void {
    this.write(key, list.length === 0 ? null : encodeCanonical([V, list]))
  }

  /** Block times of the sender's approvals (as stored: the caller prunes). */
  async getRateWindow(sender: Sender): Promise<number[]> {
    const key = stateKeys.rate(sender)
    try {
      return (await this.readList(key)).map((v, i) => readUint(v, MAX_INT, `times[${i}]`))
    } catch (err) {
      this.corrupt(key, err)
    }
  }

  putRateWindow(sender: Sender, times: readonly number[]): void {
    this.writeList(stateKeys.rate(sender), [...times])
  }

  async getDelayed(sender: Sender): Promise<string[]> {
    return this.readIds(stateKeys.delayed(sender))
  }

  /** A stored list of record ids (hex hashes). */
  private async readIds(key: string): Promise<string[]> {
    try {
      return (await this.readList(key)).map((v, i) => readString(v, `ids[${i}]`, 64))
    } catch (err) {
      this.corrupt(key, err)
    }
  }

  putDelayed(sender: Sender, ids: readonly string[]): void {
    this.writeList(stateKeys.delayed(sender), [...ids])
  }

  async getDelayedSenders(): Promise<Sender[]> {
    const key = stateKeys.delayedSenders
    try {
      return (await this.readList(key)).map((v, i) => {
        if (!Array.isArray(v) || v.length !== 2) throw new Error(`senders[${i}]: expected [chain, from]`)
        const chain = v[0]
        if (typeof chain !== 'string' || !(CHAIN_NAMES as readonly string[]).includes(chain)) throw new Error(`senders[${i}]: unknown chain`)
        return { chain: chain as ChainName, from: readString(v[1], `senders[${i}].from`, 128) }
      })
    } catch (err) {
      this.corrupt(key, err)
    }
  }

  putDelayedSenders(senders: readonly Sender[]): void {
    this.writeList(
      stateKeys.delayedSenders,
      senders.map((s) => [s.chain, s.from]),
    )
  }

  // ─── reserve custody ───────────────────────────────────────────────────────

  async getReserve(): Promise<ReserveRecord | undefined> {
    const bytes = await this.read(stateKeys.reserve)
    return bytes === null ? undefined : decodeReserveRecord(bytes)
  }

  putReserve(record: ReserveRecord): void {
    this.write(stateKeys.reserve, encodeReserveRecord(record))
  }

  async getPsbt(id: string): Promise<PsbtRecord | undefined> {
    const bytes = await this.read(stateKeys.psbt(id))
    return bytes === null ? undefined : decodePsbtRecord(bytes)
  }

  putPsbt(record: PsbtRecord): void {
    this.write(stateKeys.psbt(record.id), encodePsbtRecord(record))
  }

  /** Approved PSBTs awaiting their signatures, in approval order. */
  async getPsbtsAwaiting(): Promise<string[]> {
    return this.readIds(stateKeys.psbtAwaiting)
  }

  putPsbtsAwaiting(ids: readonly string[]): void {
    this.writeList(stateKeys.psbtAwaiting, [...ids])
  }

  // ─── oracle events ─────────────────────────────────────────────────────────

  async getOracleEvent(key: string): Promise<OracleEventRecord | undefined> {
    const bytes = await this.read(stateKeys.oracleEvent(key))
    return bytes === null ? undefined : decodeOracleEventRecord(bytes)
  }

  putOracleEvent(record: OracleEventRecord): void {
    this.write(stateKeys.oracleEvent(record.key), encodeOracleEventRecord(record))
    this.ochanges.set(record.key, record)
  }

  // ─── block results ─────────────────────────────────────────────────────────

  /** Oracle events changed since this AppState was opened (their latest version), in key order. */
  oracleEventChanges(): OracleEventRecord[] {
    return [...this.ochanges.keys()].sort().map((key) => this.ochanges.get(key)!)
  }

  /** Validation records changed since this AppState was opened, in key order. */
  validationChanges(): ValidationChange[] {
    return [...this.vchanges.keys()].sort().map((key) => this.vchanges.get(key)!)
  }

  /** Operation records changed since this AppState was opened, in key order. */
  operationChanges(): OperationChange[] {
    return [...this.changes.keys()].sort().map((key) => this.changes.get(key)!)
  }

  /** Audit entries appended since this AppState was opened, in order. */
  auditAppended(): AuditEntry[] {
    return [...this.appended]
  }

  /**
   * Writes the pending changes into the trie and returns the new state root. Trie nodes go to
   * the TrieDb overlay; nodes that the intermediate puts created but the final root does not
   * reach are dropped from it, so a commit persists only the new root's nodes.
   */
  async flush(): Promise<Uint8Array> {
    for (const key of [...this.dirty].sort()) {
      const value = this.values.get(key) ?? null
      if (value === null) await this.trie.del(utf8ToBytes(key))
      else await this.trie.put(utf8ToBytes(key), value)
    }
    this.dirty.clear()
    const root = this.trie.root()
    retainReachable(this.db, root)
    return root
  }

  get root(): Uint8Array {
    return this.trie.root()
  }
}

/** Keeps only the pending trie nodes reachable from `root` (nodes not pending are already on disk, with their subtrees). */
function retainReachable(db: TrieDb, root: Uint8Array): void {
  const live = new Set<string>()
  const stack: NodeReferenceOrRawMPTNode[] = [root]
  while (stack.length > 0) {
    const ref = stack.pop()!
    let node
    if (Array.isArray(ref)) {
      node = decodeRawMPTNode(ref as Uint8Array[])
    } else {
      const key = bytesToHex(ref as Uint8Array)
      if (live.has(key)) continue
      const bytes = db.pending(key)
      if (bytes === undefined || bytes === null) continue
      live.add(key)
      node = decodeMPTNode(bytes)
    }
    if (node instanceof BranchMPTNode) {
      for (const [, child] of node.getChildren()) stack.push(child)
    } else if (node instanceof ExtensionMPTNode) {
      stack.push(node.value() as NodeReferenceOrRawMPTNode)
    }
  }
  db.retain((key) => live.has(key))
}
