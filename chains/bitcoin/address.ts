import { address as btcAddress } from 'bitcoinjs-lib'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { BitcoinNetwork } from '../../protocol/index.js'
import { ecc, taggedHash } from './ecc.js'
import { BitcoinError } from './errors.js'

/** The bech32 human-readable part of each network's segwit addresses (testnet's `tb` also covers signet). */
export const BECH32_PREFIX: Readonly<Record<BitcoinNetwork, string>> = { mainnet: 'bc', testnet: 'tb', regtest: 'bcrt' }

const NETWORK_OF_PREFIX: ReadonlyMap<string, BitcoinNetwork> = new Map(Object.entries(BECH32_PREFIX).map(([network, prefix]) => [prefix, network as BitcoinNetwork]))

const OP_0 = 0x00
const OP_1 = 0x51

/** The segwit output types this module understands. */
export type SegwitAddressType = 'p2wpkh' | 'p2wsh' | 'p2tr'

/** A decoded segwit address. */
export interface DecodedAddress {
  readonly network: BitcoinNetwork
  /** Witness version (0 or 1). */
  readonly version: number
  /** Witness program: the key hash (P2WPKH), script hash (P2WSH) or x-only output key (P2TR). */
  readonly program: Uint8Array
  /** The output script that pays this address: OP_n <program>. */
  readonly scriptPubKey: Uint8Array
  readonly type: SegwitAddressType
}

/**
 * BIP-341 output key for internal key P (x-only 32 bytes) and an optional merkle root:
 * Q = P + int(hashTapTweak(P‖root))·G. Without a root (undefined or empty: a key-path-only output, as
 * the reserve is) the tweak is hashTapTweak(P), as BIP-86 and FROST taproot DKGs compute it. `parity` is Q's y parity,
 * needed to spend by script path and to tweak a secret key. Throws BitcoinError('bad_address') for
 * a P that is not on the curve or a root that is not 32 bytes.
 */
export function taprootOutputKey(internalKeyXOnly: Uint8Array, merkleRoot?: Uint8Array): { outputKey: Uint8Array; parity: 0 | 1 } {
  if (internalKeyXOnly.length !== 32 || !ecc.isXOnlyPoint(internalKeyXOnly)) {
    throw new BitcoinError('bad_address', 'taproot internal key: not a 32-byte x-only secp256k1 public key')
  }
  if (merkleRoot !== undefined && merkleRoot.length !== 32 && merkleRoot.length !== 0) {
    throw new BitcoinError('bad_address', `taproot merkle root: must be 32 bytes, got ${merkleRoot.length}`)
  }
  const tweak = taggedHash('TapTweak', internalKeyXOnly, ...(merkleRoot === undefined ? [] : [merkleRoot]))
  let tweaked: ReturnType<typeof ecc.xOnlyPointAddTweak>
  try {
    tweaked = ecc.xOnlyPointAddTweak(internalKeyXOnly, tweak)
  } catch {
    // A tweak ≥ the group order (probability ~2⁻¹²⁸) is invalid by BIP-341.
    tweaked = null
  }
  if (tweaked === null) throw new BitcoinError('bad_address', 'taproot tweak is invalid for this internal key')
  return { outputKey: tweaked.xOnlyPubkey, parity: tweaked.parity }
}

/** The key-path P2TR output script for an x-only output key: OP_1 <32 bytes>. */
export function p2trScript(outputKeyXOnly: Uint8Array): Uint8Array {
  checkOutputKey(outputKeyXOnly)
  const script = new Uint8Array(34)
  script[0] = OP_1
  script[1] = 32
  script.set(outputKeyXOnly, 2)
  return script
}

/** The P2TR address (bech32m, prefix bc / tb / bcrt) of an x-only output key on `network`. */
export function p2trAddress(outputKeyXOnly: Uint8Array, network: BitcoinNetwork): string {
  checkOutputKey(outputKeyXOnly)
  return btcAddress.toBech32(outputKeyXOnly, 1, BECH32_PREFIX[network])
}

/**
 * Decodes a segwit address: its scriptPubKey, witness version/program, and network; throws
 * BitcoinError with a clear message (wrong network when `network` is given and differs). Supports
 * P2WPKH, P2WSH, P2TR; base58 addresses and other witness versions are 'unsupported'. bech32 is
 * required for version 0 and bech32m for version 1 (BIP-350); a P2TR program must be a curve point.
 */
export function decodeAddress(address: string, network?: BitcoinNetwork): DecodedAddress {
  if (typeof address !== 'string' || address.length === 0) throw new BitcoinError('bad_address', 'address is empty')
  if (address.length > 90) throw new BitcoinError('bad_address', `address is too long (${address.length} characters)`)
  const shown = JSON.stringify(address)
  let decoded: { version: number; prefix: string; data: Uint8Array }
  try {
    decoded = btcAddress.fromBech32(address)
  } catch (err) {
    if (/^[13mn2][1-9A-HJ-NP-Za-km-z]{25,34}$/.test(address)) {
      throw new BitcoinError('unsupported', `${shown} looks like a legacy (base58) address; only segwit addresses (P2WPKH, P2WSH, P2TR) are supported`)
    }
    throw new BitcoinError('bad_address', `${shown} is not a valid segwit address: ${(err as Error).message.replace(address, 'address')}`, { cause: err })
  }
  const addressNetwork = NETWORK_OF_PREFIX.get(decoded.prefix)
  if (addressNetwork === undefined) throw new BitcoinError('bad_address', `${shown} has prefix "${decoded.prefix}", not a Bitcoin network (bc, tb, bcrt)`)
  if (network !== undefined && addressNetwork !== network) {
    throw new BitcoinError('wrong_network', `${shown} is a ${addressNetwork} address, expected a ${network} address (prefix ${BECH32_PREFIX[network]})`)
  }
  const { version, data: program } = decoded
  if (version > 16) throw new BitcoinError('bad_address', `${shown} has witness version ${version} (at most 16)`)
  if (program.length < 2 || program.length > 40) throw new BitcoinError('bad_address', `${shown} has a ${program.length}-byte witness program (2 to 40 allowed)`)
  let type: SegwitAddressType
  if (version === 0 && program.length === 20) type = 'p2wpkh'
  else if (version === 0 && program.length === 32) type = 'p2wsh'
  else if (version === 0) throw new BitcoinError('bad_address', `${shown}: a version 0 witness program must be 20 or 32 bytes, got ${program.length}`)
  else if (version === 1 && program.length === 32) {
    if (!ecc.isXOnlyPoint(program)) throw new BitcoinError('bad_address', `${shown}: the taproot output key ${bytesToHex(program)} is not a secp256k1 point`)
    type = 'p2tr'
  } else throw new BitcoinError('unsupported', `${shown} is a witness version ${version} address with a ${program.length}-byte program; only P2WPKH, P2WSH and P2TR are supported`)
  const scriptPubKey = new Uint8Array(2 + program.length)
  scriptPubKey[0] = version === 0 ? OP_0 : OP_1 + version - 1
  scriptPubKey[1] = program.length
  scriptPubKey.set(program, 2)
  return { network: addressNetwork, version, program, scriptPubKey, type }
}

function checkOutputKey(key: Uint8Array): void {
  if (key.length !== 32 || !ecc.isXOnlyPoint(key)) throw new BitcoinError('bad_address', 'taproot output key: not a 32-byte x-only secp256k1 public key')
}
