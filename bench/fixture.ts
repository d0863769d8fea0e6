import { GuardianSet, type Genesis, type Heartbeat } from '../protocol/index.js'
import { generateGuardianKeys, publicInfo, type GuardianKeys } from '../node/keystore/index.js'
import { testnetGenesis } from '../node/setup/index.js'

/** A genesis of `n` freshly keyed guardians, as the local testnet builds one. */
export interface BenchFixture {
  readonly genesis: Genesis
  readonly guardians: GuardianSet
  readonly keys: readonly GuardianKeys[]
}

export async function createFixture(n: number): Promise<BenchFixture> {
  const keys = await Promise.all(Array.from({ length: n }, () => generateGuardianKeys()))
  const genesis = testnetGenesis(keys.map(publicInfo), 'ubtc-bench')
  return { genesis, guardians: new GuardianSet(genesis), keys }
}

/** A heartbeat as a running guardian sends it. */
export function heartbeatOf(fixture: BenchFixture, signer: number, timestampMs: number): Heartbeat {
  const g = fixture.guardians.at(signer)!
  return { name: g.name, version: '0.1.0', height: 812_345n, peerCount: fixture.guardians.size - 1, timestampMs, peerId: g.peerId }
}
