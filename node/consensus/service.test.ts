import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Step } from '../../consensus/index.js'
import { encodeEnvelope, encodeTx, MessageKind, signEnvelope, TxType } from '../../protocol/index.js'
import { findFreeBasePort } from '../../testnet/index.js'
import { loadConfig } from '../config/index.js'
import { GuardianNode } from '../guardian/index.js'
import { readKeystore } from '../keystore/index.js'
import { initTestnet } from '../setup/index.js'
import { ConsensusPersistence } from './persistence.js'

async function metric(apiUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}

describe('consensus shell crash safety', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ubtc-shell-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('what is on disk is never older than what was signed: a proposer that prevoted has its prevote step persisted', async () => {
    // Two guardians, only guardian-1 (the proposer of height 1, round 0) runs: it proposes and
    // prevotes, then waits for a quorum that cannot come. Its round state on disk must be at least
    // at the prevote step, as its signing record is.
    const layout = await initTestnet({ dir, guardians: 2, basePort: await findFreeBasePort(2) })
    const g = layout.guardians[1]!
    const config = await loadConfig(g.configFile, { env: {}, flags: { 'empty-block-interval-ms': '0', 'timeout-propose-ms': '60000' } })
    const { node, apiUrl } = await GuardianNode.start({ config, env: {}, logger: pino({ level: 'silent' }) })
    try {
      const passphrase = (await readFile(join(g.dir, 'passphrase'), 'utf8')).trim()
      const { keys } = await readKeystore(join(g.dir, 'keystore.json'), passphrase)
      const tx = encodeEnvelope(signEnvelope(layout.genesis.hash, MessageKind.Tx, 0, 1, encodeTx({ type: TxType.GuardianVote, operation: 'validation', operationId: 'shell-1', decision: 'approve' }), keys.votePrivateKey))
      expect(await node.submitTx(tx)).toMatchObject({ ok: true })
      const deadline = Date.now() + 20_000
      while ((await metric(apiUrl, 'ubtc_gossip_messages_published_total', 'topic="vote"')) < 1) {
        if (Date.now() > deadline) throw new Error('guardian-1 did not prevote')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    } finally {
      await node.stop()
    }
    const db = new ClassicLevel<string, unknown>(config.dataDir, { valueEncoding: 'json' })
    await db.open()
    try {
      const persistence = new ConsensusPersistence(db)
      const signed = await persistence.loadSigned()
      const round = await persistence.loadRoundState()
      expect(signed?.last).toMatchObject({ height: 1, round: 0, step: 2 })
      expect(round).toMatchObject({ height: 1, round: 0 })
      expect(round!.step).toBeGreaterThanOrEqual(Step.Prevote)
      expect(signed!.last.valueId).toMatch(/^[0-9a-f]{64}$/)
    } finally {
      await db.close()
    }
  })
})
