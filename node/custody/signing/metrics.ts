import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/**
 * Prometheus metrics of FROST signing. Metrics already registered under the same name are
 * reused, so a signing service restarted in the same process (same registry) does not throw.
 */
export class SigningMetrics {
  readonly sessions: Counter<'outcome'>
  readonly sessionDuration: Histogram
  readonly invalidShares: Counter<'guardian'>
  readonly noncePoolSize: Gauge
  readonly signerSessions: Gauge
  readonly sharesServed: Counter
  readonly signerRefusals: Counter<'code'>
  readonly signerFailures: Counter<'guardian'>

  constructor(registry: Registry) {
    const registers = [registry]
    const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined
    this.sessions =
      existing('ubtc_custody_signing_sessions_total') ??
      new Counter({ name: 'ubtc_custody_signing_sessions_total', help: 'FROST signing sessions coordinated by this guardian, by outcome', labelNames: ['outcome'], registers })
    this.sessionDuration =
      existing('ubtc_custody_signing_session_seconds') ??
      new Histogram({
        name: 'ubtc_custody_signing_session_seconds',
        help: 'Duration of FROST signing sessions coordinated by this guardian',
        buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      })
    this.invalidShares =
      existing('ubtc_custody_invalid_shares_total') ??
      new Counter({ name: 'ubtc_custody_invalid_shares_total', help: 'Signature shares that failed verification, by the guardian that sent them', labelNames: ['guardian'], registers })
    this.noncePoolSize = existing('ubtc_custody_nonce_pool_size') ?? new Gauge({ name: 'ubtc_custody_nonce_pool_size', help: 'Nonce pairs generated ahead and not yet committed to', registers })
    this.signerSessions =
      existing('ubtc_custody_signer_open_sessions') ?? new Gauge({ name: 'ubtc_custody_signer_open_sessions', help: 'Signing sessions holding this signer\u2019s nonces in memory', registers })
    this.sharesServed = existing('ubtc_custody_shares_served_total') ?? new Counter({ name: 'ubtc_custody_shares_served_total', help: 'Signature shares this signer computed', registers })
    this.signerRefusals =
      existing('ubtc_custody_signer_refusals_total') ??
      new Counter({ name: 'ubtc_custody_signer_refusals_total', help: 'Requests this signer refused, by error code', labelNames: ['code'], registers })
    this.signerFailures =
      existing('ubtc_custody_signer_failures_total') ??
      new Counter({ name: 'ubtc_custody_signer_failures_total', help: 'Signers that refused, timed out or answered wrongly in sessions this guardian coordinated', labelNames: ['guardian'], registers })
  }
}
