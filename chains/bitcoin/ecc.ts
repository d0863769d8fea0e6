import * as ecc from 'tiny-secp256k1'
import { initEccLib } from 'bitcoinjs-lib'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'

// bitcoinjs-lib needs an elliptic-curve backend for taproot (P2TR outputs, PSBT taproot inputs);
// tiny-secp256k1 (libsecp256k1 in wasm) is the one the rest of the node uses. The library keeps
// it in a module global: setting it once on import of this folder is enough.
initEccLib(ecc)

export { ecc }

const tagHashes = new Map<string, Uint8Array>()

/** BIP-340 tagged hash: sha256(sha256(tag) ‖ sha256(tag) ‖ data…). */
export function taggedHash(tag: string, ...data: Uint8Array[]): Uint8Array {
  let tagHash = tagHashes.get(tag)
  if (tagHash === undefined) {
    tagHash = sha256(utf8ToBytes(tag))
    tagHashes.set(tag, tagHash)
  }
  return sha256(concatBytes(tagHash, tagHash, ...data))
}
