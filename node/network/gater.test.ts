import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { guardianGater, type DenialDirection } from './gater.js'

let guardianA: PeerId
let guardianB: PeerId
let outsider: PeerId

beforeAll(async () => {
  ;[guardianA, guardianB, outsider] = await Promise.all(
    [0, 1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))),
  ) as [PeerId, PeerId, PeerId]
})

function setup(): { gater: ReturnType<typeof guardianGater>; denied: Array<[string, DenialDirection]> } {
  const denied: Array<[string, DenialDirection]> = []
  const gater = guardianGater(new Set([guardianA.toString(), guardianB.toString()]), (peerId, direction) => {
    denied.push([peerId.toString(), direction])
  })
  return { gater, denied }
}

/** The gater's checks, by the direction they guard. */
function checks(gater: ReturnType<typeof guardianGater>): Array<[string, DenialDirection, (p: PeerId) => boolean | Promise<boolean>]> {
  return [
    ['denyDialPeer', 'outbound', (p) => gater.denyDialPeer!(p)],
    ['denyInboundEncryptedConnection', 'inbound', (p) => gater.denyInboundEncryptedConnection!(p, undefined as never)],
    ['denyOutboundEncryptedConnection', 'outbound', (p) => gater.denyOutboundEncryptedConnection!(p, undefined as never)],
  ]
}

describe('guardianGater', () => {
  it('admits listed peers in both directions without reporting them', async () => {
    const { gater, denied } = setup()
    for (const [name, , check] of checks(gater)) {
      expect(await check(guardianA), name).toBe(false)
      expect(await check(guardianB), name).toBe(false)
    }
    expect(denied).toEqual([])
  })

  it('admits a listed peer given as an equal but distinct PeerId object', async () => {
    const { gater } = setup()
    const copy = peerIdFromString(guardianA.toString())
    expect(copy).not.toBe(guardianA)
    for (const [name, , check] of checks(gater)) expect(await check(copy), name).toBe(false)
  })

  it('denies an unlisted peer on inbound and outbound, reporting the direction', async () => {
    const { gater, denied } = setup()
    for (const [name, direction, check] of checks(gater)) {
      denied.length = 0
      expect(await check(outsider), name).toBe(true)
      expect(denied, name).toEqual([[outsider.toString(), direction]])
    }
  })

  it('denies everyone when nothing is listed', async () => {
    const seen: DenialDirection[] = []
    const gater = guardianGater(new Set(), (_, direction) => seen.push(direction))
    expect(await gater.denyDialPeer!(guardianA)).toBe(true)
    expect(await gater.denyInboundEncryptedConnection!(guardianA, undefined as never)).toBe(true)
    expect(seen).toEqual(['outbound', 'inbound'])
  })
})
