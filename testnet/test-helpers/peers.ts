import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import type { PrivateKey } from '@libp2p/interface'

/** A libp2p peer run by the test itself: an outsider, or an impostor holding a genesis key. */
export async function barePeer(privateKey: PrivateKey): Promise<Libp2p<{ pubsub: GossipSub }>> {
  return createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: 'StrictNoSign', allowPublishToZeroTopicPeers: true }) },
  })
}

/** The value of the Prometheus sample `name{…labels…}` a node serves (0 if absent). */
export async function metric(apiUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}
