import { bytesToHex } from '@noble/hashes/utils.js'
import { MessageKind } from '../../protocol/index.js'

/** Short names, used in topic strings and as metric labels. */
export const KIND_NAMES: Readonly<Record<MessageKind, string>> = {
  [MessageKind.Heartbeat]: 'heartbeat',
  [MessageKind.Proposal]: 'proposal',
  [MessageKind.Vote]: 'vote',
  [MessageKind.Tx]: 'tx',
  [MessageKind.Rebroadcast]: 'rebroadcast',
}

/**
 * Gossip topics are scoped to the network (first 8 bytes of the genesis hash), so nodes of
 * two networks sharing peers never mix messages.
 */
export function topicFor(networkId: Uint8Array, kind: MessageKind): string {
  return `/ubtc/${bytesToHex(networkId.subarray(0, 8))}/${KIND_NAMES[kind]}/1`
}

export function topicsFor(networkId: Uint8Array): Map<string, MessageKind> {
  const topics = new Map<string, MessageKind>()
  for (const kind of Object.keys(KIND_NAMES).map(Number) as MessageKind[]) topics.set(topicFor(networkId, kind), kind)
  return topics
}
