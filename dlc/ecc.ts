import * as ecc from 'tiny-secp256k1'
import { initEccLib } from 'bitcoinjs-lib'

// bitcoinjs-lib needs an elliptic-curve backend for taproot (p2tr payments, PSBT taproot inputs)
// and keeps it in a module global. dlc/ does not import chains/, so it sets the same backend
// (tiny-secp256k1, libsecp256k1 in wasm) itself; setting it twice is harmless.
initEccLib(ecc)

export { ecc }
