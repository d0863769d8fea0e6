import type { PrivateKey } from '@libp2p/interface'
import type { Genesis } from '../../../protocol/index.js'
import { generateGuardianKeys, generateOracleKeys, oraclePublicInfo, publicInfo, type GuardianKeys, type OracleKeys } from '../../keystore/index.js'
import { oracleTopic } from '../../network/index.js'
import { testnetGenesis } from '../../setup/index.js'
import { gossipHost } from '../publisher.js'

/** A stand-in guardian: a libp2p host with the guardians' stack and gossipsub settings. */
export type GuardianHost = Awaited<ReturnType<typeof gossipHost>>

/** A guardian host listening on 127.0.0.1 (port chosen by the OS). */
export function guardianHost(privateKey: PrivateKey): Promise<GuardianHost> {
  return gossipHost(privateKey, ['/ip4/127.0.0.1/tcp/0'])
}

/** The first address `host` listens on. */
export function addressOf(host: GuardianHost): string {
  return host.getMultiaddrs()[0]!.toString()
}

export interface OracleTestnet {
  readonly guardians: GuardianKeys[]
  readonly oracle: OracleKeys
  /** A testnet genesis of `network` listing the guardians and the oracle. */
  readonly genesis: Genesis
  /** Its oracle topic. */
  readonly topic: string
}

/** `guardians` new guardian keys, one oracle's and the genesis of both. */
export async function oracleTestnet(network: string, guardians: number): Promise<OracleTestnet> {
  const guardianKeys = await Promise.all(Array.from({ length: guardians }, () => generateGuardianKeys()))
  const oracle = await generateOracleKeys()
  const genesis = testnetGenesis(guardianKeys.map(publicInfo), network, {}, undefined, [oraclePublicInfo(oracle)])
  return { guardians: guardianKeys, oracle, genesis, topic: oracleTopic(genesis.hash) }
}
