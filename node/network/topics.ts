import { bytesToHex } from '@noble/hashes/utils.js'
import { MessageKind, type GossipKind } from '../../protocol/index.js'

/** Short names, used in topic strings and as metric labels. */
export const KIND_NAMES: Readonly<Record<GossipKind, string>> = {
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
export function topicFor(networkId: Uint8Array, kind: GossipKind): string {
  return `/ubtc/${bytesToHex(networkId.subarray(0, 8))}/${KIND_NAMES[kind]}/1`
}

export function topicsFor(networkId: Uint8Array): Map<string, GossipKind> {
  const topics = new Map<string, GossipKind>()
  for (const kind of Object.keys(KIND_NAMES).map(Number) as GossipKind[]) topics.set(topicFor(networkId, kind), kind)
  return topics
}

/**
 * The topic oracles publish their dlcspecs announcements and attestations on. Its payloads are
 * the oracles' own signed messages (BIP-340), not guardian envelopes: guardians validate them
 * against the genesis oracle keys before relaying.
 */
export function oracleTopic(networkId: Uint8Array): string {
  return `/ubtc/${bytesToHex(networkId.subarray(0, 8))}/oracle/1`
}
