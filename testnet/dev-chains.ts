import { getAddressDecoder } from '@solana/kit'
import type { ChainConfig, ChainName } from '../protocol/index.js'
import { startAnvil, type AnvilInstance } from './anvil.js'
import { startSolanaDevRpc, type SolanaDevRpc } from './solana-rpc/index.js'

/** The local chains a testnet runs: two anvil EVM chains and the litesvm Solana dev RPC. */
export interface DevChains {
  readonly ethereum: AnvilInstance
  readonly polygon: AnvilInstance
  readonly solana: SolanaDevRpc
  /** `ubtc node` flags pointing a guardian at these chains. */
  readonly nodeFlags: readonly string[]
  stop(): Promise<void>
}

export const DEV_CHAIN_IDS = { ethereum: 31337, polygon: 31338 } as const
export const DEV_EVM_PAYMENT_ADDRESS = '0x000000000000000000000000000000000000b7c0'
/** A fixed 32-byte key as the Solana payment address (nobody needs to sign for it in a dev chain). */
export const DEV_SOLANA_PAYMENT_ADDRESS: string = getAddressDecoder().decode(new Uint8Array(32).fill(7))
/** anvil mines on a timer so that payments reach confirmation depth without more traffic. */
const BLOCK_TIME_MS = 500

/** The genesis chain configs that match {@link startDevChains}. */
export function devChainConfigs(): Partial<Record<ChainName, ChainConfig>> {
  const evm = (chainId: number): ChainConfig => ({ kind: 'evm', chainId, paymentAddress: DEV_EVM_PAYMENT_ADDRESS, minPaymentWei: '1000000000000000', confirmations: 2 })
  return {
    ethereum: evm(DEV_CHAIN_IDS.ethereum),
    polygon: evm(DEV_CHAIN_IDS.polygon),
    solana: { kind: 'solana', paymentAddress: DEV_SOLANA_PAYMENT_ADDRESS, minPaymentLamports: '100000' },
  }
}

export async function startDevChains(): Promise<DevChains> {
  const started: Array<{ stop(): Promise<void> }> = []
  try {
    const ethereum = await startAnvil({ chainId: DEV_CHAIN_IDS.ethereum, blockTimeMs: BLOCK_TIME_MS })
    started.push(ethereum)
    const polygon = await startAnvil({ chainId: DEV_CHAIN_IDS.polygon, blockTimeMs: BLOCK_TIME_MS })
    started.push(polygon)
    const solana = await startSolanaDevRpc()
    started.push(solana)
    return {
      ethereum,
      polygon,
      solana,
      nodeFlags: ['--ethereum-rpc-urls', ethereum.url, '--polygon-rpc-urls', polygon.url, '--solana-rpc-urls', solana.url],
      stop: async () => {
        await Promise.all(started.map((c) => c.stop()))
      },
    }
  } catch (err) {
    await Promise.all(started.map((c) => c.stop()))
    throw err
  }
}
