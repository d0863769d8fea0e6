import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** `ubtc_dkg_*` metrics of the DKG service. */
export class DkgMetrics {
  /** Attempts this guardian took part in, by how they ended (started, complete, aborted, abandoned). */
  readonly runs: Counter<'outcome'>
  /** Aborted attempts by culprit guardian (name) and reason. */
  readonly aborts: Counter<'culprit' | 'reason'>
  /** From entering an attempt to holding every guardian's signature over the result. */
  readonly duration: Histogram
  /** The attempt this guardian is in. */
  readonly attempt: Gauge
  /** Peer answers that were malformed or unattributable (ignored and asked again), by guardian. */
  readonly badMessages: Counter<'guardian'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.runs = reuse(registry, 'ubtc_dkg_runs_total') ?? new Counter({ name: 'ubtc_dkg_runs_total', help: 'DKG attempts by outcome', labelNames: ['outcome'], registers })
    this.aborts =
      reuse(registry, 'ubtc_dkg_aborts_total') ??
      new Counter({ name: 'ubtc_dkg_aborts_total', help: 'Aborted DKG attempts by culprit guardian and reason', labelNames: ['culprit', 'reason'], registers })
    this.duration =
      reuse(registry, 'ubtc_dkg_duration_seconds') ??
      new Histogram({ name: 'ubtc_dkg_duration_seconds', help: 'Time from entering a DKG attempt to holding all result signatures', buckets: [0.5, 1, 2, 5, 10, 30, 60, 300], registers })
    this.attempt = reuse(registry, 'ubtc_dkg_attempt') ?? new Gauge({ name: 'ubtc_dkg_attempt', help: 'The DKG attempt this guardian is in', registers })
    this.badMessages =
      reuse(registry, 'ubtc_dkg_bad_messages_total') ??
      new Counter({ name: 'ubtc_dkg_bad_messages_total', help: 'Malformed or unattributable DKG answers from a guardian', labelNames: ['guardian'], registers })
  }
}

/** A service recreated on the same registry (a restart in tests) keeps its metrics. */
function reuse<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined
}
