// Metrics of the manifests source (registered by main.ts next to metrics.ts's):
// - sluice_cp_manifests_errors_total{reason}: problems, counted once per distinct problem (a file's
//   new error, an unreadable directory, a failed state-file write), never once per rescan;
// - sluice_cp_manifests_files_in_error: files currently unreadable or invalid (their last good
//   content is still served), so an alert can fire until they are fixed.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ManifestsSource, SourceErrorReason } from './source-manifests.ts';

export interface ManifestsMetrics {
  /** Pass as ManifestsSourceOptions.onSourceError. */
  onSourceError(reason: SourceErrorReason): void;
  /** The source whose files the gauge reports. */
  watch(source: ManifestsSource): void;
}

export function createManifestsMetrics(registry: Registry): ManifestsMetrics {
  let src: ManifestsSource | null = null;
  const errors = new Counter({ name: 'sluice_cp_manifests_errors_total', help: 'Problems of the manifests source, once per distinct problem', labelNames: ['reason'], registers: [registry] });
  new Gauge({
    name: 'sluice_cp_manifests_files_in_error', help: 'Manifest files currently unreadable or invalid (their last good content is kept)', registers: [registry],
    collect() { this.set(src?.fileErrors.length ?? 0); },
  });
  return {
    onSourceError: (reason) => errors.inc({ reason }),
    watch: (s) => { src = s; },
  };
}
