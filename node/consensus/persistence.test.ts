import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Step, type PersistedRoundState } from '../../consensus/index.js'
import { ZERO_HASH, type Block } from '../../protocol/index.js'
import { ConsensusPersistence } from './persistence.js'

const block = (height: number, root: number): Block => ({
  header: {
    height,
    timeMs: 1_700_000_000_000 + height,
    proposer: height % 4,
    guardianSetIndex: 0,
    parentHash: ZERO_HASH,
    lastCommitHash: ZERO_HASH,
    txRoot: ZERO_HASH,
    stateRoot: new Uint8Array(32).fill(root),
  },
  txs: [new Uint8Array([1, 2, 3])],
  lastCommit: null,
})

describe('ConsensusPersistence', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-persist-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('round state (locks, valid value, proof-of-lock prevotes) and the last signed record survive reopening the database', async () => {
    const state: PersistedRoundState<Block> = {
      height: 7,
      round: 3,
      step: Step.Precommit,
      lockedRound: 2,
      lockedValue: { id: 'aa'.repeat(32), value: block(7, 1) },
      validRound: 3,
      validValue: { id: 'bb'.repeat(32), value: block(7, 2) },
      polVotes: [0, 1, 3].map((signer) => ({ kind: 'prevote' as const, height: 7, round: 3, valueId: 'bb'.repeat(32), signer, timestampMs: 0, signature: new Uint8Array(65).fill(signer) })),
    }
    const signed = { last: { height: 7, round: 3, step: 3 as const, valueId: null }, envelopes: [new Uint8Array([9, 9]), new Uint8Array([8])] }
    const path = join(dir, 'db')
    let db = new ClassicLevel<string, unknown>(path, { valueEncoding: 'json' })
    await db.open()
    const first = new ConsensusPersistence(db)
    expect(await first.loadRoundState()).toBeUndefined()
    expect(await first.loadSigned()).toBeUndefined()
    await first.saveRoundState(state)
    await first.saveSigned(signed)
    await db.close()

    db = new ClassicLevel<string, unknown>(path, { valueEncoding: 'json' })
    await db.open()
    const again = new ConsensusPersistence(db)
    expect(await again.loadRoundState()).toEqual(state)
    expect(await again.loadSigned()).toEqual(signed)
    await db.close()
  })
})
