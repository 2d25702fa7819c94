// The manifests source's metrics: problems counted by reason, files in error as a gauge.
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createManifestsMetrics } from '../../controlplane/metrics-manifests.ts';

describe('manifests metrics', () => {
  it('counts problems by reason and reports the files in error', async () => {
    const registry = new Registry();
    const m = createManifestsMetrics(registry);
    m.watch({ fileErrors: [{ file: 'a.yaml', reason: 'yaml', message: 'x' }] } as never);
    m.onSourceError('yaml');
    m.onSourceError('too-large');
    m.onSourceError('yaml');
    const text = await registry.metrics();
    expect(text).toContain('sluice_cp_manifests_errors_total{reason="yaml"} 2');
    expect(text).toContain('sluice_cp_manifests_errors_total{reason="too-large"} 1');
    expect(text).toContain('sluice_cp_manifests_files_in_error 1');
  });
});
