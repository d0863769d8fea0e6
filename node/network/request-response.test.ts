import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { GuardianSet } from '../../protocol/index.js'
import { InProcessNetwork } from '../../testnet/in-process.js'
import { networkProtocol, sendRequest, serveRequests } from './request-response.js'

describe('request-response between guardians', () => {
  let net: InProcessNetwork
  beforeAll(async () => {
    net = await InProcessNetwork.create({ guardians: 3 })
    await net.waitConnected()
  }, 60_000)
  afterAll(async () => {
    await net.close()
  })

  it('answers with the requester identified by its authenticated peer id, and bounds the request size', async () => {
    const protocol = networkProtocol(net.genesis.hash, 'echo/1')
    const server = net.guardians.get(1)!
    await serveRequests(server.network, new GuardianSet(net.genesis), protocol, async (from, request) => new Uint8Array([from.index, ...request]), pino({ level: 'silent' }), { maxRequestBytes: 8 })
    const client = net.guardians.get(2)!
    const response = await sendRequest(client.network, net.genesis.guardians[1]!, protocol, new Uint8Array([7, 8]))
    expect([...response]).toEqual([2, 7, 8])
    await expect(sendRequest(client.network, net.genesis.guardians[1]!, protocol, new Uint8Array(64), { timeoutMs: 3000 })).rejects.toThrow()
    // the server still answers after a refused request
    expect([...(await sendRequest(client.network, net.genesis.guardians[1]!, protocol, new Uint8Array([1])))]).toEqual([2, 1])
  })

  it('refuses a protocol of another network', async () => {
    const client = net.guardians.get(0)!
    await expect(sendRequest(client.network, net.genesis.guardians[1]!, networkProtocol(new Uint8Array(32), 'echo/1'), new Uint8Array([1]), { timeoutMs: 3000 })).rejects.toThrow()
  })
})
