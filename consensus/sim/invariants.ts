import { proposerFor, type ValueId } from '../index.js'
import type { CommittedBlock } from './app.js'
import { shortId, type ConsensusMsg } from './messages.js'

export type ViolationKind =
  /** Two honest nodes committed different values at one height. */
  | 'agreement'
  /** An honest node committed a value the height/round proposer never proposed, or an invalid one. */
  | 'validity'
  /** Two different messages signed under an honest key at one (height, round, step). */
  | 'double_sign'
  /** Honest nodes at the same height with different state roots. */
  | 'state_root'
  /** After GST an honest node did not commit enough heights in time. */
  | 'liveness'
  /** The engine threw, or broke its contract (e.g. decided a height out of order). */
  | 'engine_error'
  /** The run hit its event cap (a message storm or a livelock). */
  | 'event_cap'

export interface Violation {
  readonly kind: ViolationKind
  readonly atMs: number
  readonly message: string
}

export interface NodeRef {
  readonly id: number
  readonly index: number
}

const STEP_NAMES = ['', 'proposal', 'prevote', 'precommit']

/**
 * The safety and liveness properties, checked as events happen: every signature under an
 * honest key, every commit and every proposal is reported here the moment it happens, and the
 * run stops at the first event that breaks a property.
 */
export class Invariants {
  readonly violations: Violation[] = []
  /** First honest commit per height. */
  private readonly committed = new Map<number, { readonly valueId: ValueId; readonly root: ValueId; readonly node: number }>()
  /** (signer, height, round, step) → value id ('nil' for nil) of everything signed under an honest key. */
  private readonly signed = new Map<string, string>()
  /** (height, round, signer, value id) of every signed proposal, honest or not. */
  private readonly proposed = new Set<string>()

  constructor(
    private readonly n: number,
    private readonly honest: ReadonlySet<number>,
    private readonly now: () => number,
    private readonly replay: string,
  ) {}

  get ok(): boolean {
    return this.violations.length === 0
  }

  fail(kind: ViolationKind, detail: string): void {
    const atMs = this.now()
    this.violations.push({ kind, atMs, message: `${kind} violation at ${atMs} ms: ${detail} — replay: ${this.replay}` })
  }

  /** Every message signed by any node (Byzantine ones included, for the proposal log). */
  onSigned(signer: number, msg: ConsensusMsg): void {
    if (msg.type === 'proposal') {
      const p = msg.proposal
      this.proposed.add(`${p.height}/${p.round}/${signer}/${p.valueId}`)
    }
    if (!this.honest.has(signer)) return
    const m = msg.type === 'proposal' ? msg.proposal : msg.vote
    const step = msg.type === 'proposal' ? 1 : msg.vote.kind === 'prevote' ? 2 : 3
    const key = `${signer}/${m.height}/${m.round}/${step}`
    const value = m.valueId ?? 'nil'
    const before = this.signed.get(key)
    if (before === undefined) this.signed.set(key, value)
    else if (before !== value) {
      this.fail(
        'double_sign',
        `honest validator ${signer} signed two ${STEP_NAMES[step]}s at height ${m.height} round ${m.round}: ${shortId(before === 'nil' ? null : before)} and ${shortId(m.valueId)}`,
      )
    }
  }

  /** An honest node committed `entry` (decided by its engine, or fetched by block sync). */
  onCommit(node: NodeRef, entry: CommittedBlock, appValid: boolean, how: 'decide' | 'sync'): void {
    const { height, round, valueId } = entry
    const where = `node ${node.id} (validator ${node.index}) ${how === 'decide' ? 'decided' : 'synced'} ${shortId(valueId)} at height ${height} round ${round}`
    if (!appValid) this.fail('validity', `${where}, which the application rejects`)
    const proposer = proposerFor(height, round, this.n)
    if (!this.proposed.has(`${height}/${round}/${proposer}/${valueId}`)) {
      this.fail('validity', `${where}, but validator ${proposer}, the proposer of that round, never proposed it`)
    }
    const first = this.committed.get(height)
    if (first === undefined) {
      this.committed.set(height, { valueId, root: entry.root, node: node.id })
      return
    }
    if (first.valueId !== valueId) {
      this.fail('agreement', `${where}, but node ${first.node} committed ${shortId(first.valueId)} there`)
    } else if (first.root !== entry.root) {
      this.fail('state_root', `${where} with state root ${shortId(entry.root)}, but node ${first.node} has ${shortId(first.root)} at that height`)
    }
  }

  onEngineError(node: NodeRef, err: unknown): void {
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    this.fail('engine_error', `the engine of node ${node.id} (validator ${node.index}) threw ${text}`)
  }

  /** Liveness: each honest node's committed height against the height it needs by now. */
  checkLiveness(heights: ReadonlyArray<{ readonly node: NodeRef; readonly height: number; readonly needed: number }>, sinceMs: number): void {
    const slow = heights.filter((h) => h.height < h.needed)
    if (slow.length === 0) return
    const list = slow.map((h) => `node ${h.node.id} at height ${h.height} (needs ${h.needed})`).join(', ')
    this.fail('liveness', `${this.now() - sinceMs} ms after GST: ${list}`)
  }
}
