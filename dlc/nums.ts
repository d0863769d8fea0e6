import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'

/**
 * BIP-341's "nothing up my sleeve" point H, x-only: the internal key of every contract output, so
 * the key path is unspendable and only the three leaves can move the coins. Nobody knows its
 * discrete log because its x coordinate is SHA-256 of the uncompressed generator G (BIP-341,
 * "Constructing and spending Taproot outputs"), which is how it is computed here.
 */
export const NUMS_INTERNAL_KEY: Uint8Array = sha256(secp256k1.Point.BASE.toBytes(false))
