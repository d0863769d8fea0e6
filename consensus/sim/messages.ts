import type { SignedProposal, SignedVote, ValueId } from '../index.js'
import type { SimBlock } from './app.js'

/** What simulated nodes send each other. */
export interface ProposalMsg {
  readonly type: 'proposal'
  readonly proposal: SignedProposal<SimBlock>
}

export interface VoteMsg {
  readonly type: 'vote'
  readonly vote: SignedVote
}

export type ConsensusMsg = ProposalMsg | VoteMsg

/**
 * Anti-entropy, standing in for gossip's "every message a correct node received reaches every
 * correct node" (the assumption behind Algorithm 1's liveness): each node announces the height
 * it works on every gossip interval, and while it is stuck also the keys of the messages of
 * that height it holds; a peer at the same height answers with the ones it is missing.
 */
export interface StatusMsg {
  readonly type: 'status'
  /** committed height + 1 */
  readonly height: number
  readonly round: number
  readonly have: ReadonlySet<string> | null
}

export interface BundleMsg {
  readonly type: 'bundle'
  readonly msgs: readonly ConsensusMsg[]
}

/** Block sync, as the real node does it: a node behind fetches committed blocks with their certificates. */
export interface SyncRequestMsg {
  readonly type: 'sync_request'
  readonly fromHeight: number
}

export interface SyncedBlock {
  readonly height: number
  readonly round: number
  readonly valueId: ValueId
  readonly value: SimBlock
  /** 2f+1 precommits for (height, round, valueId). */
  readonly commit: readonly SignedVote[]
}

export interface BlocksMsg {
  readonly type: 'blocks'
  readonly blocks: readonly SyncedBlock[]
}

export type WireMessage = ConsensusMsg | StatusMsg | BundleMsg | SyncRequestMsg | BlocksMsg

export function heightOf(msg: ConsensusMsg): number {
  return msg.type === 'proposal' ? msg.proposal.height : msg.vote.height
}

/** Identity of a consensus message for anti-entropy (a precommit's timestamp is not part of it). */
export function messageKey(msg: ConsensusMsg): string {
  if (msg.type === 'proposal') {
    const p = msg.proposal
    return `P${p.round}/${p.signer}/${p.polRound}/${p.valueId}`
  }
  const v = msg.vote
  return `${v.kind === 'prevote' ? 'V' : 'C'}${v.round}/${v.signer}/${v.valueId ?? 'nil'}`
}

export function shortId(valueId: ValueId | null): string {
  return valueId === null ? 'nil' : valueId.slice(0, 8)
}

export function describeMessage(msg: WireMessage): string {
  switch (msg.type) {
    case 'proposal': {
      const p = msg.proposal
      return `proposal h${p.height} r${p.round} pol${p.polRound} ${shortId(p.valueId)} by ${p.signer}`
    }
    case 'vote': {
      const v = msg.vote
      return `${v.kind} h${v.height} r${v.round} ${shortId(v.valueId)} by ${v.signer}`
    }
    case 'status':
      return `status h${msg.height} r${msg.round}${msg.have === null ? '' : ` have ${msg.have.size}`}`
    case 'bundle':
      return `bundle of ${msg.msgs.length}`
    case 'sync_request':
      return `sync_request from h${msg.fromHeight}`
    case 'blocks':
      return `blocks h${msg.blocks[0]?.height ?? '-'}..${msg.blocks.at(-1)?.height ?? '-'}`
  }
}
