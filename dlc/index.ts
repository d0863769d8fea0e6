/**
 * The DLC engine: contract terms, their compiler to a taproot output with miniscript leaves,
 * the security rules and spending-path analysis, dlcspecs oracle messages, Schnorr adaptor
 * signatures, CETs and the spending-path transactions. Pure: no networking, no storage.
 */
export { DlcError, type DlcErrorCode } from './errors.js'
