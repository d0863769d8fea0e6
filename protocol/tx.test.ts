import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { encodeCanonical } from './codec.js'
import { codeOf } from './test-helpers/expect-code.js'
import { decodeTx, encodeTx, MAX_AMOUNT, MAX_ORACLE_MESSAGE_BYTES, observationHash, TxType, validationId, type ObservationTx } from './tx.js'

const OBS: ObservationTx = {
  type: TxType.Observation,
  chain: 'ethereum',
  txHash: '0x' + '1a'.repeat(32),
  from: '0x' + 'Cd'.repeat(20),
  to: '0x' + 'ab'.repeat(20),
  amount: 10n ** 18n,
  message: utf8ToBytes('bc1qdest'),
  blockHeight: 19_000_000,
  blockHash: '0x' + 'ee'.repeat(32),
}

const raw = (fields: unknown[]): Uint8Array => encodeCanonical(fields as never)

describe('ObservationTx', () => {
  it('round-trips, small and 64-bit amounts, empty message', () => {
    expect(decodeTx(encodeTx(OBS))).toEqual(OBS)
    for (const amount of [0n, 1n, BigInt(Number.MAX_SAFE_INTEGER) + 1n, MAX_AMOUNT]) {
      expect(decodeTx(encodeTx({ ...OBS, amount }))).toEqual({ ...OBS, amount })
    }
    const sol = { ...OBS, chain: 'solana' as const, txHash: '5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW', message: new Uint8Array() }
    expect(decodeTx(encodeTx(sol))).toEqual(sol)
  })

  it('decodes a GuardianVote as before', () => {
    const vote = { type: TxType.GuardianVote as const, operation: 'validation' as const, operationId: 'v-1', decision: 'approve' as const }
    expect(decodeTx(encodeTx(vote))).toEqual(vote)
  })

  it('enforces the limits', () => {
    const fields = (patch: Record<number, unknown>): unknown[] => {
      const f: unknown[] = [1, 2, 0, OBS.txHash, OBS.from, OBS.to, 5, OBS.message, 1, OBS.blockHash]
      for (const [i, v] of Object.entries(patch)) f[Number(i)] = v
      return f
    }
    expect(decodeTx(raw(fields({})))).toMatchObject({ amount: 5n })
    expect(codeOf(() => decodeTx(raw(fields({ 4: 'a'.repeat(129) }))))).toBe('oversize')
    expect(decodeTx(raw(fields({ 4: 'a'.repeat(128) })))).toMatchObject({ from: 'a'.repeat(128) })
    expect(decodeTx(raw(fields({ 5: 'b'.repeat(128) })))).toMatchObject({ to: 'b'.repeat(128) })
    expect(codeOf(() => decodeTx(raw(fields({ 9: 'c'.repeat(129) }))))).toBe('oversize')
    expect(codeOf(() => decodeTx(raw(fields({ 7: new Uint8Array(1025) }))))).toBe('oversize')
    expect(decodeTx(raw(fields({ 7: new Uint8Array(1024) })))).toMatchObject({ message: new Uint8Array(1024) })
    expect(codeOf(() => decodeTx(raw(fields({ 4: '' }))))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw(fields({ 4: '0x ab' }))))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw(fields({ 3: '0x' + 'AB'.repeat(32) }))))).toBe('malformed') // EVM hashes are lower case
    expect(codeOf(() => decodeTx(raw(fields({ 2: 9 }))))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw(fields({ 6: -1 }))))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw(fields({ 6: '5' }))))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw(fields({ 8: -1 }))))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw([...fields({}), 0])))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw(fields({}).slice(0, -1))))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw(fields({ 1: 3 }))))).toBe('malformed')
    expect(codeOf(() => encodeTx({ ...OBS, amount: MAX_AMOUNT + 1n }))).toBe('malformed')
  })

  it('computes validationId and observationHash', () => {
    expect(validationId('ethereum', OBS.txHash)).toBe(bytesToHex(keccak_256(utf8ToBytes(`ethereum:${OBS.txHash}`))))
    expect(validationId('ethereum', OBS.txHash)).toMatch(/^[0-9a-f]{64}$/)
    expect(validationId('polygon', OBS.txHash)).not.toBe(validationId('ethereum', OBS.txHash))
    expect(observationHash(OBS)).toBe(bytesToHex(keccak_256(encodeTx(OBS))))
    expect(observationHash({ ...OBS, amount: OBS.amount + 1n })).not.toBe(observationHash(OBS))
  })
})

describe('OracleMessageTx', () => {
  it('round-trips the oracle bytes, refuses empty and oversized ones', () => {
    const tx = { type: TxType.OracleMessage as const, message: new Uint8Array(300).fill(7) }
    expect(decodeTx(encodeTx(tx))).toEqual(tx)
    expect(decodeTx(raw([1, 6, new Uint8Array(MAX_ORACLE_MESSAGE_BYTES)]))).toMatchObject({ message: new Uint8Array(MAX_ORACLE_MESSAGE_BYTES) })
    expect(codeOf(() => decodeTx(raw([1, 6, new Uint8Array(MAX_ORACLE_MESSAGE_BYTES + 1)])))).toBe('oversize')
    expect(codeOf(() => decodeTx(raw([1, 6, new Uint8Array(0)])))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw([1, 6, 'text'])))).toBe('malformed')
    expect(codeOf(() => decodeTx(raw([1, 6, new Uint8Array(3), 0])))).toBe('malformed')
  })
})
