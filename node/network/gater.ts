import type { ConnectionGater, PeerId } from '@libp2p/interface'

export type DenialDirection = 'inbound' | 'outbound'

/**
 * Admits only the peers named in genesis (guardians, and oracle peers when configured). The
 * check runs once the noise handshake has proven the remote's peer id, before any protocol
 * (gossipsub included) is negotiated, so an outsider can neither read nor publish.
 */
export function guardianGater(allowed: ReadonlySet<string>, onDenied: (peerId: PeerId, direction: DenialDirection) => void): ConnectionGater {
  const denied = (peerId: PeerId, direction: DenialDirection): boolean => {
    if (allowed.has(peerId.toString())) return false
    onDenied(peerId, direction)
    return true
  }
  return {
    denyDialPeer: (peerId) => denied(peerId, 'outbound'),
    denyInboundEncryptedConnection: (peerId) => denied(peerId, 'inbound'),
    denyOutboundEncryptedConnection: (peerId) => denied(peerId, 'outbound'),
  }
}
