import { proposerFor, type UnsignedProposal, type ValueId } from '../index.js'
import { blockId, buildBlock, buildInvalidBlock, type SimBlock } from './app.js'
import type { SimKeys } from './crypto.js'
import type { Invariants } from './invariants.js'
import type { ConsensusMsg, ProposalMsg, VoteMsg } from './messages.js'
import type { Behaviour, SimNode } from './node.js'
import type { Prng } from './prng.js'

/**
 * Byzantine validators. Each runs an ordinary engine (so it follows the protocol well enough
 * to stay relevant) and twists what it sends:
 * - `equivocate`: as proposer, sends different values — other valid blocks, invalid blocks,
 *   sometimes with a made-up POL round — to different peers; now and then proposes in rounds
 *   where it is not the proposer.
 * - `double_vote`: in every step sends its vote to some peers and a conflicting one (nil, or
 *   another value) to the others.
 * - `silent`: never sends anything (built as a node that never starts).
 * - `twins`: two ordinary engines with the same index and key, each linked to a different set
 *   of peers, which equivocate together without either misbehaving (built by the scenario).
 */
export type ByzantineKind = 'equivocate' | 'double_vote' | 'silent' | 'twins'

export const BYZANTINE_KINDS: readonly ByzantineKind[] = ['equivocate', 'double_vote', 'silent', 'twins']

export interface ByzantineDeps {
  readonly keys: SimKeys
  readonly invariants: Invariants
  readonly n: number
  readonly prng: Prng
}

export function makeBehaviour(kind: 'equivocate' | 'double_vote', deps: ByzantineDeps): Behaviour {
  return kind === 'equivocate' ? new Equivocator(deps) : new DoubleVoter(deps)
}

abstract class Twister implements Behaviour {
  abstract readonly name: string

  constructor(protected readonly deps: ByzantineDeps) {}

  abstract sendOwn(node: SimNode, msg: ConsensusMsg): void

  protected signProposal(node: SimNode, p: UnsignedProposal<SimBlock>): ProposalMsg {
    const msg: ProposalMsg = { type: 'proposal', proposal: this.deps.keys.signProposal(node.index, p) }
    this.deps.invariants.onSigned(node.index, msg)
    return msg
  }

  /** Sends variant i to the i-th slice of the shuffled peers (every variant reaches someone when it can). */
  protected split(node: SimNode, variants: readonly ConsensusMsg[]): void {
    const peers = this.deps.prng.shuffle(node.peers())
    if (peers.length === 0) return
    const cuts = new Set<number>()
    while (cuts.size < Math.min(variants.length, peers.length) - 1) cuts.add(this.deps.prng.int(1, peers.length - 1))
    const bounds = [0, ...[...cuts].sort((a, b) => a - b), peers.length]
    for (let i = 0; i + 1 < bounds.length; i++) {
      for (let j = bounds[i]!; j < bounds[i + 1]!; j++) node.sendTo(peers[j]!, variants[i]!)
    }
  }

  protected broadcast(node: SimNode, msg: ConsensusMsg): void {
    for (const peer of node.peers()) node.sendTo(peer, msg)
  }

  protected fakeId(): ValueId {
    let hex = ''
    for (let i = 0; i < 8; i++) hex += this.deps.prng.next().toString(16).padStart(8, '0')
    return hex
  }
}

class Equivocator extends Twister {
  readonly name = 'equivocate'

  sendOwn(node: SimNode, msg: ConsensusMsg): void {
    if (msg.type === 'vote') {
      this.broadcast(node, msg)
      if (msg.vote.kind === 'prevote' && proposerFor(msg.vote.height, msg.vote.round, this.deps.n) !== node.index && this.deps.prng.chance(0.3)) {
        this.impostor(node, msg)
      }
      return
    }
    const p = msg.proposal
    const prng = this.deps.prng
    const variants: ConsensusMsg[] = [msg]
    const count = prng.int(1, 3)
    for (let i = 0; i < count; i++) {
      const value = prng.chance(0.4)
        ? buildInvalidBlock(p.height, p.value.parentId, node.index, prng)
        : distinctBlock(p.height, p.value.parentId, node.index, prng, p.valueId)
      const polRound = p.round > 0 && prng.chance(0.3) ? prng.int(0, p.round - 1) : -1
      variants.push(this.signProposal(node, { height: p.height, round: p.round, polRound, valueId: blockId(value), value }))
    }
    this.split(node, prng.shuffle(variants))
  }

  /** A proposal in a round this validator does not lead: the engine must ignore it. */
  private impostor(node: SimNode, vote: VoteMsg): void {
    const { height, round } = vote.vote
    const value = buildBlock(height, node.chain.tipId, node.index, this.deps.prng)
    const msg = this.signProposal(node, { height, round, polRound: -1, valueId: blockId(value), value })
    this.split(node, [msg])
  }
}

class DoubleVoter extends Twister {
  readonly name = 'double_vote'

  sendOwn(node: SimNode, msg: ConsensusMsg): void {
    if (msg.type === 'proposal') {
      this.broadcast(node, msg)
      return
    }
    const v = msg.vote
    const prng = this.deps.prng
    const known: ValueId[] = []
    for (const m of node.messages()) {
      if (m.type === 'proposal' && m.proposal.valueId !== v.valueId && !known.includes(m.proposal.valueId)) known.push(m.proposal.valueId)
    }
    let other: ValueId | null
    if (v.valueId !== null && prng.chance(0.5)) other = null
    else other = known.length > 0 && prng.chance(0.8) ? prng.pick(known) : this.fakeId()
    const twin: VoteMsg = {
      type: 'vote',
      vote: this.deps.keys.signVote(node.index, { kind: v.kind, height: v.height, round: v.round, valueId: other }, v.timestampMs),
    }
    this.deps.invariants.onSigned(node.index, twin)
    this.split(node, prng.chance(0.5) ? [msg, twin] : [twin, msg])
  }
}

/** A valid block at (height, parent) whose id differs from `avoid`. */
function distinctBlock(height: number, parentId: ValueId, proposer: number, prng: Prng, avoid: ValueId): SimBlock {
  const block = buildBlock(height, parentId, proposer, prng)
  if (blockId(block) !== avoid) return block
  return { ...block, txs: block.txs.length === 0 ? [prng.int(0, 0xffff)] : block.txs.slice(1) }
}
