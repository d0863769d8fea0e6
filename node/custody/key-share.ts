import { bytesToHex } from '@noble/hashes/utils.js'
import type { Logger } from 'pino'
import type { ReserveKey } from '../../protocol/index.js'
import { frostSecretOf, readKeyShare } from '../keystore/index.js'
import type { KeyShareSource } from './signing/index.js'

/**
 * This guardian's share of the COMMITTED reserve key: loaded from the encrypted share file once
 * the state holds a reserve key, and only if the file has a share of that very DKG session (a
 * share of an aborted or superseded attempt is never used).
 */
export class CommittedKeyShare implements KeyShareSource {
  private loaded: { key: ReserveKey; identifier: string; signingShare: Uint8Array } | undefined
  private missingReported: string | undefined

  constructor(
    private readonly opts: {
      readonly sharesFile: string
      readonly passphrase: string
      readonly committedKey: () => Promise<ReserveKey | undefined>
      readonly logger: Logger
    },
  ) {}

  current(): { key: ReserveKey; identifier: string; signingShare: Uint8Array } | undefined {
    return this.loaded
  }

  /** Loads the share of the committed key if it is not loaded yet; call after each commit. */
  async refresh(): Promise<void> {
    const key = await this.opts.committedKey()
    if (key === undefined) return
    const session = bytesToHex(key.sessionId)
    if (this.loaded !== undefined && bytesToHex(this.loaded.key.sessionId) === session) return
    // The share is written before this guardian vouches for the key, so it is there or lost: read once.
    if (this.missingReported === session) return
    const entry = await readKeyShare(this.opts.sharesFile, this.opts.passphrase, key.sessionId).catch((err: unknown) => {
      this.opts.logger.error({ err, sharesFile: this.opts.sharesFile }, 'cannot read the key share file')
      return undefined
    })
    if (entry === undefined || bytesToHex(entry.key.groupKey) !== bytesToHex(key.groupKey)) {
      if (this.missingReported !== session) {
        this.missingReported = session
        this.opts.logger.error({ session, sharesFile: this.opts.sharesFile }, 'the committed reserve key has no share of this guardian: it cannot sign')
      }
      return
    }
    this.loaded = { key, ...frostSecretOf(entry) }
    this.opts.logger.info({ session, groupKey: bytesToHex(key.groupKey) }, 'reserve key share loaded')
  }
}
