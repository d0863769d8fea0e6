import { hexToBytes } from '@noble/hashes/utils.js'
import { verifySimpleSignature } from '../../chains/index.js'
import type { BitcoinNetwork } from '../../protocol/index.js'
import { parseFlags, UsageError } from './usage-error.js'

export const VERIFY_MESSAGE_HELP = `ubtc verify-message --address A --message M --signature S [--network mainnet|testnet|regtest]
ubtc verify-message --address A --message-hex HEX --signature S [--network …]

Verifies a BIP-322 "simple" signature (base64 witness stack) of a message by a Bitcoin address,
offline: P2TR key path (the reserve's proofs) and P2WPKH. --message is taken as UTF-8 text;
--message-hex gives the exact bytes instead. With --network, the address must belong to it.

Prints one JSON line: {"valid":true,"address":…,"type":"p2tr"|"p2wpkh"} and exits 0, or
{"valid":false,"reason":…} and exits 1. A wrong command line exits 2.`

const NETWORKS: readonly BitcoinNetwork[] = ['mainnet', 'testnet', 'regtest']

/** `ubtc verify-message`: checks a proof of reserves (or any BIP-322 simple signature) without a node. Returns the exit code. */
export async function verifyMessageCommand(argv: readonly string[], out: (line: string) => void): Promise<number> {
  const flags = parseFlags(argv, {
    address: { type: 'string' },
    message: { type: 'string' },
    'message-hex': { type: 'string' },
    signature: { type: 'string' },
    network: { type: 'string' },
  })
  if (flags.address === undefined) throw new UsageError('--address A is required')
  if (flags.signature === undefined) throw new UsageError('--signature S (base64) is required')
  if (flags.message === undefined && flags['message-hex'] === undefined) throw new UsageError('--message M or --message-hex HEX is required')
  if (flags.message !== undefined && flags['message-hex'] !== undefined) throw new UsageError('give either --message or --message-hex, not both')
  const network = flags.network
  if (network !== undefined && !(NETWORKS as readonly string[]).includes(network)) {
    throw new UsageError(`--network must be one of ${NETWORKS.join(', ')}, got "${network}"`)
  }
  let message: Uint8Array | string
  if (flags['message-hex'] !== undefined) {
    const hex = flags['message-hex'].replace(/^0x/i, '')
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new UsageError('--message-hex must be an even number of hex digits')
    message = hexToBytes(hex.toLowerCase())
  } else {
    message = flags.message!
  }
  const verdict = verifySimpleSignature({ address: flags.address, message, signature: flags.signature, network: network as BitcoinNetwork | undefined })
  if (verdict.valid) {
    out(JSON.stringify({ valid: true, address: flags.address, type: verdict.type }))
    return 0
  }
  out(JSON.stringify({ valid: false, reason: verdict.reason }))
  return 1
}
