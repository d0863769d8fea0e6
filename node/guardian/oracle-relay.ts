import { equalBytes } from '@noble/curves/utils.js'
import { Counter, type Registry } from 'prom-client'
import type { Logger } from 'pino'
import { MAX_ORACLE_MESSAGE_BYTES, TxType, type Genesis, type OracleInfo, type Transaction } from '../../protocol/index.js'
import type { SubmitTxResult } from '../../api/index.js'
import { decodeOracleMessage, DlcError, verifyAttestationSignatures, verifyOracleAnnouncement, type OracleMessage } from '../../dlc/index.js'
import type { TopicVerdict } from '../network/index.js'

/** Why an oracle gossip message was refused, or `accepted`: the label of ubtc_oracle_messages_total. */
export type OracleMessageResult = 'accepted' | 'oversize' | 'malformed' | 'unknown_oracle' | 'bad_signature'

export interface OracleRelayOptions {
  readonly genesis: Genesis
  /** Signs `tx` as this guardian and submits it to the mempool (and the tx topic). */
  readonly submit: (tx: Transaction) => Promise<SubmitTxResult>
  readonly registry: Registry
  readonly logger: Logger
}

/**
 * The guardians' side of the oracle topic. Each message an oracle publishes is checked before
 * gossipsub relays it — it must decode as a dlcspecs announcement or attestation, be signed by
 * an oracle key of genesis, and its BIP-340 signature must verify — and is then relayed into the
 * log as an OracleMessage transaction, where the state machine checks it against the committed
 * event (announced nonce, outcomes, one attestation per oracle). Every guardian that sees the
 * message submits it; mempools keep one copy per message.
 *
 * Refused messages are dropped with blame on the relaying peer (gossipsub scoring), counted by
 * reason and logged; nothing an oracle or peer sends can stop the node.
 */
export class OracleRelay {
  private readonly messages: Counter<'kind' | 'result'>
  private readonly submissions: Counter<'result'>

  constructor(private readonly opts: OracleRelayOptions) {
    const registers = [opts.registry]
    this.messages = new Counter({
      name: 'ubtc_oracle_messages_total',
      help: 'Oracle gossip messages by kind (announcement, attestation, unknown) and result (accepted or why refused)',
      labelNames: ['kind', 'result'],
      registers,
    })
    this.submissions = new Counter({
      name: 'ubtc_oracle_submissions_total',
      help: 'Accepted oracle messages relayed into the mempool, by result (ok, or the mempool code: duplicate, invalid…)',
      labelNames: ['result'],
      registers,
    })
  }

  /** The topic validator: decides synchronously, then relays accepted messages into the log. */
  readonly validate = (data: Uint8Array, from: string): TopicVerdict => {
    const verdict = this.check(data)
    this.messages.inc({ kind: verdict.kind, result: verdict.result })
    if (verdict.result !== 'accepted') {
      this.opts.logger.warn({ from, kind: verdict.kind, result: verdict.result, detail: verdict.detail }, 'oracle message rejected')
      return 'reject'
    }
    void this.relay(data, verdict.oracle, verdict.message)
    return 'accept'
  }

  private check(
    data: Uint8Array,
  ):
    | { result: 'accepted'; kind: OracleMessage['kind']; oracle: OracleInfo; message: OracleMessage }
    | { result: Exclude<OracleMessageResult, 'accepted'>; kind: OracleMessage['kind'] | 'unknown'; detail: string } {
    if (data.length > MAX_ORACLE_MESSAGE_BYTES) return { result: 'oversize', kind: 'unknown', detail: `${data.length} bytes, at most ${MAX_ORACLE_MESSAGE_BYTES}` }
    let message: OracleMessage
    try {
      message = decodeOracleMessage(data)
    } catch (err) {
      if (err instanceof DlcError) return { result: 'malformed', kind: 'unknown', detail: err.message }
      throw err
    }
    const key = message.kind === 'announcement' ? message.announcement.oraclePublicKey : message.attestation.oraclePublicKey
    const oracle = this.opts.genesis.oracles.find((o) => equalBytes(o.publicKey, key))
    if (oracle === undefined) return { result: 'unknown_oracle', kind: message.kind, detail: 'signed by a key that is not a genesis oracle' }
    try {
      if (message.kind === 'announcement') verifyOracleAnnouncement(message.announcement)
      else verifyAttestationSignatures(message.attestation)
    } catch (err) {
      if (err instanceof DlcError) return { result: err.code === 'bad_signature' ? 'bad_signature' : 'malformed', kind: message.kind, detail: `${oracle.name}: ${err.message}` }
      throw err
    }
    return { result: 'accepted', kind: message.kind, oracle, message }
  }

  private async relay(data: Uint8Array, oracle: OracleInfo, message: OracleMessage): Promise<void> {
    const eventId = message.kind === 'announcement' ? message.announcement.event.eventId : message.attestation.eventId
    try {
      const result = await this.opts.submit({ type: TxType.OracleMessage, message: data })
      this.submissions.inc({ result: result.ok ? 'ok' : result.code })
      if (result.ok) this.opts.logger.info({ oracle: oracle.name, kind: message.kind, eventId, tx: result.hash }, 'oracle message relayed into the log')
      // Another guardian's copy already waits: the usual case when every guardian relays.
      else if (result.code !== 'duplicate') this.opts.logger.warn({ oracle: oracle.name, kind: message.kind, eventId, code: result.code, reason: result.reason }, 'oracle message not admitted')
    } catch (err) {
      this.submissions.inc({ result: 'error' })
      this.opts.logger.error({ err, oracle: oracle.name, eventId }, 'relaying an oracle message failed')
    }
  }
}
