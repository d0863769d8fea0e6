#!/usr/bin/env node
import '../../protocol/polyfill.js'
import { nodeCommand } from '../../node/cli/index.js'
import { FrostSigner, type FrostCommitmentList, type FrostNonces, type FrostPublic, type FrostSecret } from '../../node/custody/index.js'

/**
 * Fault injection for the end-to-end tests: `ubtc node` whose FROST signer answers every sign
 * request with corrupted signature shares. Coordinators must name this guardian and sign
 * without it. Takes the flags of `ubtc node`. Never run it on a real network.
 */
class BadShareSigner extends FrostSigner {
  protected override computeShare(secret: FrostSecret, pub: FrostPublic, nonces: FrostNonces, commitmentList: FrostCommitmentList, message: Uint8Array): Uint8Array {
    const share = Uint8Array.from(super.computeShare(secret, pub, nonces, commitmentList, message))
    share[31]! ^= 1
    return share
  }
}

await nodeCommand(process.argv.slice(2), process.env, { createSigner: (opts) => new BadShareSigner(opts) })
