export { BECH32_PREFIX, decodeAddress, p2trAddress, p2trScript, taprootOutputKey, type DecodedAddress, type SegwitAddressType } from './address.js'
export {
  BIP322_TAG,
  bip322MessageHash,
  bip322TaprootSighash,
  bip322ToSign,
  bip322ToSpend,
  decodeSimpleSignature,
  encodeSimpleSignature,
  MAX_SIMPLE_SIGNATURE_BYTES,
  MAX_WITNESS_ITEMS,
  verifySimpleSignature,
  type SimpleSignatureInput,
  type SimpleSignatureVerdict,
} from './bip322.js'
export { BitcoinError, type BitcoinErrorCode } from './errors.js'
export { applyReserveSignatures, MAX_PSBT_BYTES, parseReservePsbt, reserveInputSighashes, type ReservePsbt } from './psbt.js'
