import { performance } from 'node:perf_hooks'
import {
  adaptorSign,
  adaptorVerify,
  attestOutcome,
  cetSigningJobs,
  compileContract,
  completeCet,
  decodeOracleMessage,
  defaultDlcRules,
  devOracleNonceSecret,
  devOracles,
  encodeOracleAttestation,
  EphemeralKey,
  exampleTerms,
  verifyAttestationSignatures,
  verifyCetPreSignatures,
  type CetPreSignature,
  type FundingOutpoint,
} from '../dlc/index.js'
import { measureRate, percentile, progress, round } from './measure.js'

export interface DlcFigures {
  readonly dlc_compile_ms: number
  readonly dlc_presign_ms_per_guardian: number
  readonly dlc_presignatures: number
  readonly dlc_verify_presignatures_ms: number
  readonly dlc_complete_cet_ms: number
  readonly adaptor_sign_per_s: number
  readonly adaptor_verify_per_s: number
  readonly oracle_attestation_checks_per_s: number
}

const RUNS = 5
const FUNDING: FundingOutpoint = { txid: '5f'.repeat(32), vout: 0 }

/**
 * The DLC engine on this thread, without a network: compiling the default 5-guardian contract
 * (miniscript compile, taproot tree, rules and the enumeration of every leaf's satisfactions);
 * one guardian pre-signing every CET (2 outcomes × 3 oracle pairs adaptor signatures) with its
 * ephemeral key; anyone verifying all 5 guardians' pre-signatures; completing the CET from two
 * attestations; adaptor signing and verification; and the gossip check of an oracle
 * attestation (decode + BIP-340 verify), which every guardian runs on each message it relays.
 * Medians of RUNS runs for the whole-contract steps.
 */
export function runDlc(durationMs: number): DlcFigures {
  const rules = defaultDlcRules('regtest')
  const now = Math.floor(Date.now() / 1000)
  const compileMs: number[] = []
  const preSignMs: number[] = []
  const verifyMs: number[] = []
  const completeMs: number[] = []
  let preSignatures = 0
  for (let run = 0; run < RUNS; run++) {
    const keys = Array.from({ length: rules.guardianCount }, () => EphemeralKey.generate())
    let t = performance.now()
    const contract = compileContract(exampleTerms(rules, { now, ephemeralKeys: keys.map((k) => k.publicKey) }), rules, { now })
    compileMs.push(performance.now() - t)

    const presigs: CetPreSignature[] = []
    for (const key of keys) {
      t = performance.now()
      presigs.push(...key.preSignCets(contract, FUNDING))
      preSignMs.push(performance.now() - t)
    }
    preSignatures = presigs.length
    t = performance.now()
    verifyCetPreSignatures(contract, FUNDING, presigs)
    verifyMs.push(performance.now() - t)

    const [announcement] = contract.terms.oracle.announcements
    const eventId = announcement!.event.eventId
    const attestations = devOracles()
      .slice(0, 2)
      .map((oracle, i) => attestOutcome(oracle.secretKey, devOracleNonceSecret(oracle, eventId), contract.terms.oracle.announcements[i]!, 'repaid'))
    t = performance.now()
    completeCet(contract, FUNDING, presigs, attestations)
    completeMs.push(performance.now() - t)
  }
  const median = (samples: readonly number[]) => round(percentile(samples, 50), 2)
  progress(`DLC compile + analysis ${median(compileMs)} ms; one guardian pre-signs its CETs in ${median(preSignMs)} ms; all ${preSignatures} pre-signatures verify in ${median(verifyMs)} ms; completeCet ${median(completeMs)} ms`)

  const keys = Array.from({ length: rules.guardianCount }, () => EphemeralKey.generate())
  const contract = compileContract(exampleTerms(rules, { now, ephemeralKeys: keys.map((k) => k.publicKey) }), rules, { now })
  const job = cetSigningJobs(contract, FUNDING)[0]!
  const secret = devOracles()[0]!.secretKey
  const publicKey = devOracles()[0]!.publicKey
  let sink = 0
  const sign = measureRate(() => {
    sink ^= adaptorSign(secret, job.sighash, job.adaptorPoint).s[0]!
  }, durationMs)
  const presig = adaptorSign(secret, job.sighash, job.adaptorPoint)
  const verify = measureRate(() => {
    sink ^= adaptorVerify(publicKey, job.sighash, job.adaptorPoint, presig) ? 1 : 0
  }, durationMs)
  progress(`adaptor sign ${Math.round(sign.perSecond)}/s, verify ${Math.round(verify.perSecond)}/s`)

  const oracle = devOracles()[1]!
  const announcement = contract.terms.oracle.announcements[1]!
  const attestation = encodeOracleAttestation(attestOutcome(oracle.secretKey, devOracleNonceSecret(oracle, announcement.event.eventId), announcement, 'repaid'))
  const check = measureRate(() => {
    const message = decodeOracleMessage(attestation)
    if (message.kind === 'attestation') verifyAttestationSignatures(message.attestation)
    sink ^= 1
  }, durationMs)
  progress(`oracle attestation gossip check ${Math.round(check.perSecond)}/s`)
  if (sink === -1) progress('unreachable')

  return {
    dlc_compile_ms: median(compileMs),
    dlc_presign_ms_per_guardian: median(preSignMs),
    dlc_presignatures: preSignatures,
    dlc_verify_presignatures_ms: median(verifyMs),
    dlc_complete_cet_ms: median(completeMs),
    adaptor_sign_per_s: round(sign.perSecond),
    adaptor_verify_per_s: round(verify.perSecond),
    oracle_attestation_checks_per_s: round(check.perSecond),
  }
}
