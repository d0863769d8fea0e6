import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { generateGuardianKeys, publicInfo, type KeystorePublic } from '../node/keystore/index.js'
import { ProtocolError } from './errors.js'
import { genesisToJson, GuardianSet, MAX_GUARDIANS, parseGenesis, type Genesis } from './genesis.js'
import { voteAddress, votePublicKey } from './vote-key.js'

type Json = Record<string, any>

let pubs: KeystorePublic[]
let oraclePeer: string
let secondOraclePeer: string
const oracleKey = bytesToHex(schnorr.getPublicKey(schnorr.utils.randomSecretKey()))

beforeAll(async () => {
  pubs = (await Promise.all(Array.from({ length: 4 }, () => generateGuardianKeys()))).map(publicInfo)
  oraclePeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  secondOraclePeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
})

/** A valid genesis document (JSON form) for the four generated guardians; a fresh copy each call. */
function doc(): Json {
  return {
    network: 'ubtc-test',
    genesisTime: '2025-01-01T00:00:00.000Z',
    guardianSetIndex: 0,
    guardians: pubs.map((p, i) => ({ name: `guardian-${i}`, votePublicKey: p.votePublicKey, peerId: p.peerId })),
    thresholds: { validation: 3, lp_liquidation: 3, dlc_emergency: 4 },
    chains: {
      ethereum: { kind: 'evm', chainId: 1, paymentAddress: `0x${'ab'.repeat(20)}`, minPaymentWei: '1000000000000000', confirmations: 12 },
      solana: { kind: 'solana', paymentAddress: 'So11111111111111111111111111111111111111112', minPaymentLamports: '5000' },
    },
    oracles: [{ name: 'oracle-0', peerId: oraclePeer, publicKey: oracleKey }],
    bitcoinNetwork: 'testnet',
  }
}

/** Asserts that `json` is refused with 'invalid_genesis' and a message matching `message`. */
function expectInvalid(json: unknown, message: RegExp): void {
  let err: unknown
  try {
    parseGenesis(json)
  } catch (e) {
    err = e
  }
  expect(err, 'parseGenesis should have thrown').toBeInstanceOf(ProtocolError)
  expect((err as ProtocolError).code).toBe('invalid_genesis')
  expect((err as ProtocolError).message).toMatch(message)
}

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]))
  }
  return value
}

const hex = (g: Genesis): string => bytesToHex(g.hash)

describe('parseGenesis', () => {
  it('parses a valid genesis', () => {
    const g = parseGenesis(doc())
    expect(g.network).toBe('ubtc-test')
    expect(g.guardianSetIndex).toBe(0)
    expect(g.bitcoinNetwork).toBe('testnet')
    // Four guardians: reserve_spend, absent from the document, defaults to the commit quorum (3), reserveThreshold to a majority (3).
    expect(g.thresholds).toEqual({ validation: 3, lp_liquidation: 3, dlc_emergency: 4, reserve_spend: 3 })
    expect(g.reserveThreshold).toBe(3)
    expect(g.guardians).toHaveLength(4)
    g.guardians.forEach((guardian, i) => {
      expect(guardian.index).toBe(i)
      expect(guardian.name).toBe(`guardian-${i}`)
      expect(bytesToHex(guardian.votePublicKey)).toBe(pubs[i]!.votePublicKey)
      expect(guardian.address).toBe(pubs[i]!.address)
      expect(guardian.peerId).toBe(pubs[i]!.peerId)
    })
    expect(g.chains.ethereum).toEqual(doc().chains.ethereum)
    expect(g.chains.solana).toEqual(doc().chains.solana)
    expect(g.oracles).toEqual([{ name: 'oracle-0', peerId: oraclePeer, publicKey: hexToBytes(oracleKey) }])
    expect(g.hash).toBeInstanceOf(Uint8Array)
    expect(g.hash).toHaveLength(32)
  })

  it('defaults the DLC rules to a 24 h lock, 2 of 3 oracles and majorities, and keeps them in the hash', () => {
    const g = parseGenesis(doc())
    expect(g.dlc).toEqual({ minLockSeconds: 86_400, minLockBlocks: 144, oracleThreshold: 2, cetThreshold: 3, timelockThreshold: 3, dustLimitSat: 330, minFeeRate: 1, maxFeeRate: 1000 })
    expect(hex(parseGenesis({ ...doc(), dlc: { minLockSeconds: 86_400 } }))).toBe(hex(g))
    expect(parseGenesis(genesisToJson(g))).toEqual(g)
  })

  it('defaults chains, oracles and bitcoinNetwork', () => {
    const d = doc()
    delete d.chains
    delete d.oracles
    delete d.bitcoinNetwork
    const g = parseGenesis(d)
    expect(g.chains).toEqual({})
    expect(g.oracles).toEqual([])
    expect(g.bitcoinNetwork).toBe('regtest')
    // An omitted bitcoinNetwork is the same network as an explicit 'regtest'.
    expect(hex(g)).toBe(hex(parseGenesis({ ...d, bitcoinNetwork: 'regtest', chains: {}, oracles: [] })))
  })

  it('parses validationRateLimitPerHour (default 20, 1..100000) into the hash', () => {
    const g = parseGenesis(doc())
    expect(g.validationRateLimitPerHour).toBe(20)
    expect(hex(parseGenesis({ ...doc(), validationRateLimitPerHour: 20 }))).toBe(hex(g))
    const five = parseGenesis({ ...doc(), validationRateLimitPerHour: 5 })
    expect(five.validationRateLimitPerHour).toBe(5)
    expect(hex(five)).not.toBe(hex(g))
    expect(genesisToJson(five).validationRateLimitPerHour).toBe(5)
    expect(parseGenesis({ ...doc(), validationRateLimitPerHour: 100_000 }).validationRateLimitPerHour).toBe(100_000)
    for (const bad of [0, 100_001, 1.5, '5']) {
      expect(() => parseGenesis({ ...doc(), validationRateLimitPerHour: bad })).toThrow(/validationRateLimitPerHour/)
    }
  })

  it('round-trips through genesisToJson with the same hash', () => {
    const g = parseGenesis(doc())
    const again = parseGenesis(JSON.parse(JSON.stringify(genesisToJson(g))))
    expect(hex(again)).toBe(hex(g))
    expect(again.guardians).toEqual(g.guardians)
  })

  it('hashes the same regardless of key order in the JSON input', () => {
    const d = doc()
    const reversed = reverseKeys(d) as Json
    expect(Object.keys(reversed)[0]).toBe('bitcoinNetwork')
    expect(hex(parseGenesis(reversed))).toBe(hex(parseGenesis(d)))
  })

  it('hashes the same for the same vote key in upper-case hex', () => {
    const d = doc()
    d.guardians[1].votePublicKey = d.guardians[1].votePublicKey.toUpperCase()
    expect(hex(parseGenesis(d))).toBe(hex(parseGenesis(doc())))
  })

  it.each<[string, (d: Json) => unknown]>([
    ['network', (d) => (d.network = 'ubtc-other')],
    ['genesisTime', (d) => (d.genesisTime = '2025-01-01T00:00:01.000Z')],
    ['guardianSetIndex', (d) => (d.guardianSetIndex = 1)],
    ['a guardian name', (d) => (d.guardians[2].name = 'guardian-x')],
    ['a guardian vote key', (d) => ([d.guardians[0].votePublicKey, d.guardians[1].votePublicKey] = [d.guardians[1].votePublicKey, d.guardians[0].votePublicKey])],
    ['a guardian peer id', (d) => ([d.guardians[0].peerId, d.guardians[1].peerId] = [d.guardians[1].peerId, d.guardians[0].peerId])],
    ['the guardian order', (d) => d.guardians.reverse()],
    ['a removed guardian', (d) => {
      d.guardians.pop()
      d.thresholds.dlc_emergency = 3
    }],
    ['a threshold', (d) => (d.thresholds.validation = 4)],
    ['a chain id', (d) => (d.chains.ethereum.chainId = 5)],
    ['a payment address', (d) => (d.chains.ethereum.paymentAddress = `0x${'cd'.repeat(20)}`)],
    ['a minimum payment', (d) => (d.chains.solana.minPaymentLamports = '5001')],
    ['confirmations', (d) => (d.chains.ethereum.confirmations = 6)],
    ['a removed chain', (d) => delete d.chains.solana],
    ['an oracle name', (d) => (d.oracles[0].name = 'oracle-1')],
    ['a removed oracle', (d) => (d.oracles = [])],
    ['an oracle key', (d) => (d.oracles[0].publicKey = bytesToHex(schnorr.getPublicKey(schnorr.utils.randomSecretKey())))],
    ['the DLC lock rule', (d) => (d.dlc = { minLockSeconds: 48 * 3600 })],
    ['bitcoinNetwork', (d) => (d.bitcoinNetwork = 'mainnet')],
  ])('changes the hash when %s changes', (_, mutate) => {
    const d = doc()
    mutate(d)
    expect(hex(parseGenesis(d))).not.toBe(hex(parseGenesis(doc())))
  })

  describe('rejects with invalid_genesis, naming the field', () => {
    it.each<[string, (d: Json) => unknown, RegExp]>([
      ['a non-object document', () => [], /^genesis: expected an object/],
      ['an unknown top-level key', (d) => ({ ...d, extra: 1 }), /^genesis: unknown key "extra"/],
      ['an unknown guardian key', (d) => void (d.guardians[1].address = '0x00'), /genesis\.guardians\[1\]: unknown key "address"/],
      ['an unknown thresholds key', (d) => void (d.thresholds.withdrawal = 3), /genesis\.thresholds: unknown key "withdrawal"/],
      ['an unknown chain', (d) => void (d.chains.dogecoin = {}), /genesis\.chains: unknown key "dogecoin"/],
      ['an unknown chain config key', (d) => void (d.chains.ethereum.rpc = 'http://x'), /genesis\.chains\.ethereum: unknown key "rpc"/],
      ['an unknown oracle key', (d) => void (d.oracles[0].url = 'x'), /genesis\.oracles\[0\]: unknown key "url"/],
      ['a bad network name', (d) => void (d.network = 'has space'), /genesis\.network/],
      ['an empty network name', (d) => void (d.network = ''), /genesis\.network/],
      ['a bad genesisTime', (d) => void (d.genesisTime = 'yesterday'), /genesis\.genesisTime/],
      ['a negative guardianSetIndex', (d) => void (d.guardianSetIndex = -1), /genesis\.guardianSetIndex/],
      ['a fractional guardianSetIndex', (d) => void (d.guardianSetIndex = 0.5), /genesis\.guardianSetIndex/],
      ['empty guardians', (d) => void (d.guardians = []), /genesis\.guardians: expected a non-empty array/],
      ['missing guardians', (d) => void delete d.guardians, /genesis\.guardians: expected a non-empty array/],
      ['a guardian that is not an object', (d) => void (d.guardians[2] = 'guardian-2'), /genesis\.guardians\[2\]: expected an object/],
      ['a bad guardian name', (d) => void (d.guardians[3].name = 'guardian/3'), /genesis\.guardians\[3\]\.name/],
      ['a guardian name over 64 bytes', (d) => void (d.guardians[3].name = 'g'.repeat(65)), /genesis\.guardians\[3\]\.name/],
      ['a duplicate guardian name', (d) => void (d.guardians[2].name = 'guardian-0'), /duplicate guardian name guardian-0/],
      ['a duplicate guardian peerId', (d) => void (d.guardians[2].peerId = d.guardians[0].peerId), /duplicate guardian peerId/],
      ['a duplicate vote key', (d) => void (d.guardians[2].votePublicKey = d.guardians[0].votePublicKey), /duplicate guardian votePublicKey/],
      ['a bad peer id', (d) => void (d.guardians[1].peerId = '12D3KooWnotapeerid'), /genesis\.guardians\[1\]\.peerId: not a libp2p peer id/],
      ['a missing peer id', (d) => void delete d.guardians[1].peerId, /genesis\.guardians\[1\]\.peerId/],
      ['vote key that is not hex', (d) => void (d.guardians[0].votePublicKey = 'zz'.repeat(33)), /genesis\.guardians\[0\]\.votePublicKey: expected hex/],
      ['vote key with odd-length hex', (d) => void (d.guardians[0].votePublicKey = '0'.repeat(65)), /genesis\.guardians\[0\]\.votePublicKey: expected hex/],
      ['vote key with a 0x prefix', (d) => void (d.guardians[0].votePublicKey = `0x${d.guardians[0].votePublicKey}`), /genesis\.guardians\[0\]\.votePublicKey/],
      ['vote key that is not on the curve', (d) => void (d.guardians[0].votePublicKey = `02${'00'.repeat(31)}07`), /genesis\.guardians\[0\]\.votePublicKey: not a compressed secp256k1 public key/],
      ['vote key with a bad prefix byte', (d) => void (d.guardians[0].votePublicKey = `05${d.guardians[0].votePublicKey.slice(2)}`), /genesis\.guardians\[0\]\.votePublicKey: not a compressed/],
      ['uncompressed vote key', (d) => void (d.guardians[0].votePublicKey = `04${'11'.repeat(64)}`), /genesis\.guardians\[0\]\.votePublicKey: not a compressed/],
      ['a threshold below a majority', (d) => void (d.thresholds.validation = 2), /genesis\.thresholds\.validation: expected an integer 3\.\.4/],
      ['a threshold above n', (d) => void (d.thresholds.dlc_emergency = 5), /genesis\.thresholds\.dlc_emergency: expected an integer 3\.\.4/],
      ['a missing threshold', (d) => void delete d.thresholds.lp_liquidation, /genesis\.thresholds\.lp_liquidation/],
      ['a threshold as a string', (d) => void (d.thresholds.validation = '3'), /genesis\.thresholds\.validation/],
      ['missing thresholds', (d) => void delete d.thresholds, /genesis\.thresholds: expected an object/],
      ['an evm chain without chainId', (d) => void delete d.chains.ethereum.chainId, /genesis\.chains\.ethereum\.chainId/],
      ['an evm chain with chainId 0', (d) => void (d.chains.ethereum.chainId = 0), /genesis\.chains\.ethereum\.chainId/],
      ['an evm chain with the wrong kind', (d) => void (d.chains.ethereum.kind = 'solana'), /genesis\.chains\.ethereum\.kind/],
      ['a short evm payment address', (d) => void (d.chains.ethereum.paymentAddress = `0x${'ab'.repeat(19)}`), /genesis\.chains\.ethereum\.paymentAddress/],
      ['an evm payment address without 0x', (d) => void (d.chains.ethereum.paymentAddress = 'ab'.repeat(20)), /genesis\.chains\.ethereum\.paymentAddress/],
      ['an evm payment address with non-hex', (d) => void (d.chains.ethereum.paymentAddress = `0x${'zz'.repeat(20)}`), /genesis\.chains\.ethereum\.paymentAddress/],
      ['a minimum payment with a leading zero', (d) => void (d.chains.ethereum.minPaymentWei = '01'), /genesis\.chains\.ethereum\.minPaymentWei/],
      ['a minimum payment as a number', (d) => void (d.chains.ethereum.minPaymentWei = 1000), /genesis\.chains\.ethereum\.minPaymentWei/],
      ['a negative minimum payment', (d) => void (d.chains.solana.minPaymentLamports = '-1'), /genesis\.chains\.solana\.minPaymentLamports/],
      ['a solana chain with the wrong kind', (d) => void (d.chains.solana.kind = 'evm'), /genesis\.chains\.solana\.kind/],
      ['a solana chain without payment address', (d) => void delete d.chains.solana.paymentAddress, /genesis\.chains\.solana\.paymentAddress/],
      ['a bad bitcoinNetwork', (d) => void (d.bitcoinNetwork = 'signet'), /genesis\.bitcoinNetwork: expected one of mainnet, testnet, regtest/],
      ['oracles that are not an array', (d) => void (d.oracles = {}), /genesis\.oracles: expected an array/],
      ['an oracle with a bad peer id', (d) => void (d.oracles[0].peerId = 'nope'), /genesis\.oracles\[0\]\.peerId/],
      ['an oracle sharing a guardian peer id', (d) => void (d.oracles[0].peerId = d.guardians[3].peerId), /duplicate peerId/],
      ['an oracle without a public key', (d) => void delete d.oracles[0].publicKey, /genesis\.oracles\[0\]\.publicKey/],
      ['an oracle key that is compressed', (d) => void (d.oracles[0].publicKey = `02${d.oracles[0].publicKey}`), /genesis\.oracles\[0\]\.publicKey: expected a 32-byte x-only/],
      ['an oracle key off the curve', (d) => void (d.oracles[0].publicKey = '00'.repeat(31) + '05'), /genesis\.oracles\[0\]\.publicKey: not a point/],
      ['two oracles with one key', (d) => void d.oracles.push({ name: 'oracle-1', peerId: secondOraclePeer, publicKey: d.oracles[0].publicKey }), /duplicate oracle publicKey/],
      ['a DLC lock under 24 h', (d) => void (d.dlc = { minLockSeconds: 23 * 3600 }), /genesis\.dlc\.minLockSeconds \(at least 24 h\)/],
      ['a DLC timelock threshold under a majority', (d) => void (d.dlc = { timelockThreshold: 2 }), /genesis\.dlc\.timelockThreshold/],
      ['an unknown DLC rule', (d) => void (d.dlc = { maxAmount: 1 }), /genesis\.dlc: unknown key "maxAmount"/],
    ])('%s', (_, mutate, message) => {
      const d = doc()
      const replaced = mutate(d)
      expectInvalid(replaced ?? d, message)
    })

    it('more than MAX_GUARDIANS guardians', () => {
      const d = doc()
      d.guardians = Array.from({ length: MAX_GUARDIANS + 1 }, () => d.guardians[0])
      expectInvalid(d, new RegExp(`genesis\\.guardians: at most ${MAX_GUARDIANS} guardians`))
    })

    it('non-object input', () => {
      for (const input of [null, undefined, 'genesis', 42]) expectInvalid(input, /^genesis: expected an object/)
    })
  })

  it('accepts a threshold of exactly a majority, and of n', () => {
    const d = doc()
    d.thresholds = { validation: 3, lp_liquidation: 4, dlc_emergency: 4 }
    expect(parseGenesis(d).thresholds.validation).toBe(3)
    // With a single guardian, a majority is that guardian.
    const one = doc()
    one.guardians = one.guardians.slice(0, 1)
    one.thresholds = { validation: 1, lp_liquidation: 1, dlc_emergency: 1 }
    expect(parseGenesis(one).guardians).toHaveLength(1)
  })
})

describe('GuardianSet', () => {
  it('looks guardians up by index, peer id and name', () => {
    const g = parseGenesis({ ...doc(), guardianSetIndex: 7 })
    const set = new GuardianSet(g)
    expect(set.index).toBe(7)
    expect(set.size).toBe(4)
    expect(set.guardians).toBe(g.guardians)
    for (const guardian of g.guardians) {
      expect(set.at(guardian.index)).toBe(guardian)
      expect(set.byPeer(guardian.peerId)).toBe(guardian)
      expect(set.named(guardian.name)).toBe(guardian)
    }
    expect(set.at(4)).toBeUndefined()
    expect(set.at(-1)).toBeUndefined()
    expect(set.byPeer(oraclePeer)).toBeUndefined()
    expect(set.named('oracle-0')).toBeUndefined()
    expect(set.named('guardian-9')).toBeUndefined()
  })

  it('needs more than two thirds to commit', () => {
    expect(new GuardianSet(parseGenesis(doc())).commitQuorum).toBe(3)
    const d = doc()
    d.guardians = d.guardians.slice(0, 3)
    d.thresholds = { validation: 2, lp_liquidation: 2, dlc_emergency: 3 }
    expect(new GuardianSet(parseGenesis(d)).commitQuorum).toBe(3)
  })

  it('derives each guardian address from its vote key', () => {
    const g = parseGenesis(doc())
    for (const guardian of g.guardians) expect(guardian.address).toBe(voteAddress(guardian.votePublicKey))
  })
})

describe('voteAddress', () => {
  it('matches the known Ethereum address of private key 1', () => {
    const one = new Uint8Array(32)
    one[31] = 1
    expect(voteAddress(votePublicKey(one))).toBe('0x7e5f4552091a69125d5dfcb7b8c2659029395bdf')
  })
})
