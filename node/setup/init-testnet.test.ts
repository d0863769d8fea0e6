import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseGenesis } from '../../protocol/index.js'
import { loadGenesis } from '../guardian/index.js'
import { generateGuardianKeys, oracleJournalPath, publicInfo, readOracleKeystore } from '../keystore/index.js'
import { initTestnet, SetupError, testnetGenesis, testnetOracles } from './index.js'

let root: string
let counter = 0
const fresh = (): string => join(root, `t${counter++}`)

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ubtc-init-testnet-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('initTestnet oracles', () => {
  it('writes three oracle keystores by default and lists them in genesis with their keys', async () => {
    const dir = fresh()
    const layout = await initTestnet({ dir, guardians: 2, basePort: 20_000 })
    expect(layout.oracles.map((o) => o.name)).toEqual(['oracle-0', 'oracle-1', 'oracle-2'])

    const genesis = await loadGenesis(layout.genesisFile)
    expect(bytesToHex(genesis.hash)).toBe(bytesToHex(layout.genesis.hash))
    expect(genesis.oracles.map((o) => ({ name: o.name, peerId: o.peerId, publicKey: bytesToHex(o.publicKey) }))).toEqual(
      layout.oracles.map((o) => ({ name: o.name, peerId: o.peerId, publicKey: o.publicKey })),
    )
    for (const oracle of layout.oracles) {
      expect(oracle.dir).toBe(join(dir, oracle.name))
      expect(oracle.keystoreFile).toBe(join(dir, oracle.name, 'keystore.json'))
      expect((await stat(oracle.passphraseFile)).mode & 0o777).toBe(0o600)
      const passphrase = (await readFile(oracle.passphraseFile, 'utf8')).trim()
      const { public: pub } = await readOracleKeystore(oracle.keystoreFile, passphrase)
      expect(pub).toEqual({ publicKey: oracle.publicKey, peerId: oracle.peerId })
      // Cheap testnet scrypt parameters, as the guardians'.
      expect((JSON.parse(await readFile(oracle.keystoreFile, 'utf8')) as { crypto: { kdfparams: { n: number } } }).crypto.kdfparams.n).toBe(2 ** 14)
    }
    expect(testnetOracles(dir, genesis)).toEqual(layout.oracles)
  })

  it('writes as many oracles as asked, none included', async () => {
    const none = await initTestnet({ dir: fresh(), guardians: 1, basePort: 20_000, oracles: 0 })
    expect(none.oracles).toEqual([])
    expect(none.genesis.oracles).toEqual([])
    const one = await initTestnet({ dir: fresh(), guardians: 1, basePort: 20_000, oracles: 1 })
    expect(one.genesis.oracles.map((o) => o.name)).toEqual(['oracle-0'])
    for (const bad of [-1, 1.5, 17]) {
      await expect(initTestnet({ dir: fresh(), guardians: 1, basePort: 20_000, oracles: bad })).rejects.toThrow(SetupError)
    }
  })

  it('--force gives the oracles new keys and drops the journals of the old ones', async () => {
    const dir = fresh()
    const first = await initTestnet({ dir, guardians: 1, basePort: 20_000, oracles: 1 })
    const journal = oracleJournalPath(first.oracles[0]!.keystoreFile)
    await writeFile(journal, '{}')
    const second = await initTestnet({ dir, guardians: 1, basePort: 20_000, oracles: 1, force: true })
    expect(second.oracles[0]!.publicKey).not.toBe(first.oracles[0]!.publicKey)
    await expect(access(journal)).rejects.toThrow(/ENOENT/)
  })

  it('testnetGenesis keeps working without oracles, and names given oracles in order', async () => {
    const keys = await Promise.all([0, 1].map(() => generateGuardianKeys()))
    const plain = testnetGenesis(keys.map(publicInfo), 'plain')
    expect(plain.oracles).toEqual([])
    const layout = await initTestnet({ dir: fresh(), guardians: 1, basePort: 20_000, oracles: 2 })
    const withOracles = testnetGenesis(keys.map(publicInfo), 'with-oracles', {}, undefined, layout.oracles)
    expect(withOracles.oracles.map((o) => [o.name, bytesToHex(o.publicKey)])).toEqual(layout.oracles.map((o) => [o.name, o.publicKey]))
    // What genesisToJson writes parses back to the same network id.
    expect(parseGenesis(JSON.parse(await readFile(layout.genesisFile, 'utf8'))).hash).toEqual(layout.genesis.hash)
  })
})
