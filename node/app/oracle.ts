import { equalBytes } from '@noble/curves/utils.js'
import type { OracleMessageTx } from '../../protocol/index.js'
import {
  decodeOracleAnnouncement,
  decodeOracleAttestation,
  decodeOracleMessage,
  DlcError,
  verifyOracleAnnouncement,
  verifyOracleAttestation,
  type OracleAnnouncement,
  type OracleAttestation,
} from '../../dlc/index.js'
import type { BlockContext, ExecutionParams } from './execute.js'
import { oracleEventKey, type OracleEventRecord, type OracleMessageEntry } from './oracle-records.js'
import type { AppState } from './state.js'

/**
 * Oracle messages in the log. A guardian relays an oracle's dlcspecs announcement or
 * attestation as an OracleMessage transaction; the oracle's own BIP-340 signature is what
 * counts, so every rule below is checked against the message itself and the committed event:
 *
 * - the oracle key must be one of genesis.oracles;
 * - an announcement must verify; the first one creates the event, later ones (one per oracle)
 *   must announce the same outcomes and maturity;
 * - an attestation must verify against its oracle's committed announcement (same event id,
 *   an announced outcome, signed with the announced nonce);
 * - an oracle attests once: the same attestation again is a duplicate; another outcome is kept
 *   as evidence (`equivocations`) and that oracle stops counting;
 * - the outcome is decided when genesis.dlc.oracleThreshold non-equivocating oracles attest it,
 *   and is final.
 */

/** What a valid oracle message does to the state, computed once by the check. */
export interface CheckedOracleMessage {
  readonly oracle: string
  readonly before: OracleEventRecord | undefined
  readonly message:
    | { readonly kind: 'announcement'; readonly announcement: OracleAnnouncement }
    | { readonly kind: 'attestation'; readonly attestation: OracleAttestation; readonly equivocation: boolean }
}

/** Why `tx` cannot be executed on `state`, or what it does. Reads only. */
export async function checkOracleMessage(state: AppState, params: ExecutionParams, tx: OracleMessageTx): Promise<string | CheckedOracleMessage> {
  try {
    const message = decodeOracleMessage(tx.message)
    const key = message.kind === 'announcement' ? message.announcement.oraclePublicKey : message.attestation.oraclePublicKey
    const oracle = params.genesis.oracles.find((o) => equalBytes(o.publicKey, key))
    if (oracle === undefined) return 'oracle message signed by a key that is not a genesis oracle'
    if (message.kind === 'announcement') {
      const { announcement } = message
      verifyOracleAnnouncement(announcement)
      const before = await state.getOracleEvent(oracleEventKey(announcement.event.eventId))
      if (before !== undefined) {
        if (before.announcements.some((e) => e.oracle === oracle.name)) return `oracle ${oracle.name} already announced event ${announcement.event.eventId}`
        if (!sameList(before.outcomes, announcement.event.outcomes) || before.maturity !== announcement.event.maturity) {
          return `announcement of event ${announcement.event.eventId} by ${oracle.name} conflicts with the committed event (outcomes or maturity differ)`
        }
      }
      return { oracle: oracle.name, before, message }
    }
    const { attestation } = message
    const before = await state.getOracleEvent(oracleEventKey(attestation.eventId))
    const announced = before?.announcements.find((e) => e.oracle === oracle.name)
    if (before === undefined || announced === undefined) return `oracle ${oracle.name} has no committed announcement of event ${attestation.eventId}`
    // Checks the announced nonce and outcome, then the signature itself.
    verifyOracleAttestation(attestation, decodeOracleAnnouncement(announced.message))
    if (before.equivocations.some((e) => e.oracle === oracle.name)) return `oracle ${oracle.name} already equivocated on event ${attestation.eventId}`
    const earlier = before.attestations.find((e) => e.oracle === oracle.name)
    if (earlier !== undefined && decodeOracleAttestation(earlier.message).outcomes[0] === attestation.outcomes[0]) {
      return `oracle ${oracle.name} already attested ${attestation.outcomes[0]!} for event ${attestation.eventId}`
    }
    return { oracle: oracle.name, before, message: { kind: 'attestation', attestation, equivocation: earlier !== undefined } }
  } catch (err) {
    if (err instanceof DlcError) return `oracle message refused (${err.code}): ${err.message}`
    throw err
  }
}

export function applyOracleMessage(state: AppState, params: ExecutionParams, ctx: BlockContext, tx: OracleMessageTx, checked: CheckedOracleMessage): void {
  const entry: OracleMessageEntry = { oracle: checked.oracle, message: tx.message, height: ctx.height, timeMs: ctx.timeMs }
  const { message, before } = checked
  if (message.kind === 'announcement') {
    const { event } = message.announcement
    state.putOracleEvent(
      before === undefined
        ? {
            key: oracleEventKey(event.eventId),
            eventId: event.eventId,
            outcomes: [...event.outcomes],
            maturity: event.maturity,
            announcements: [entry],
            attestations: [],
            equivocations: [],
            outcome: null,
            consensusHeight: null,
            consensusAtMs: null,
            createdHeight: ctx.height,
            createdAtMs: ctx.timeMs,
          }
        : { ...before, announcements: [...before.announcements, entry] },
    )
    return
  }
  // An attestation always follows the committed announcement, so the event exists.
  const event = before!
  if (message.equivocation) {
    state.putOracleEvent({ ...event, equivocations: [...event.equivocations, entry] })
    return
  }
  const attestations = [...event.attestations, entry]
  const decided = event.outcome ?? decidedOutcome(attestations, event.equivocations, params.genesis.dlc.oracleThreshold)
  state.putOracleEvent({
    ...event,
    attestations,
    ...(event.outcome === null && decided !== null ? { outcome: decided, consensusHeight: ctx.height, consensusAtMs: ctx.timeMs } : {}),
  })
}

/** The outcome `threshold` oracles that never equivocated attested, or null. */
function decidedOutcome(attestations: readonly OracleMessageEntry[], equivocations: readonly OracleMessageEntry[], threshold: number): string | null {
  const excluded = new Set(equivocations.map((e) => e.oracle))
  const votes = new Map<string, number>()
  for (const entry of attestations) {
    if (excluded.has(entry.oracle)) continue
    const outcome = decodeOracleAttestation(entry.message).outcomes[0]!
    const count = (votes.get(outcome) ?? 0) + 1
    if (count >= threshold) return outcome
    votes.set(outcome, count)
  }
  return null
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
