// Prometheus metrics of the control plane (prom-client). One registry per control plane instance so
// tests can run several in one process.
import { Counter, Gauge, Registry } from 'prom-client';
import type { StateStore } from './store.ts';

export interface ControlPlaneMetrics {
  registry: Registry;
  agents: Gauge;
  updatesSent: Counter<'kind'>;
  acks: Counter;
  nacks: Counter;
  invalidObjects: Counter<'kind'>;
  sourceErrors: Counter<'source'>;
  /** Client messages or streams refused by the gRPC server (controlplane/server.ts), by reason. */
  rejected: Counter<'reason'>;
}

export function createMetrics(store: StateStore, registry = new Registry()): ControlPlaneMetrics {
  new Gauge({
    name: 'sluice_cp_services', help: 'Services currently modelled (valid, non-headless, non-ExternalName)', registers: [registry],
    collect() { this.set(store.size); },
  });
  new Gauge({
    name: 'sluice_cp_endpoints', help: 'Endpoints (service port x endpoint) currently modelled, before per-node selection', registers: [registry],
    collect() { this.set(store.endpointCount); },
  });
  new Gauge({
    name: 'sluice_cp_invalid_objects', help: 'Objects that currently have validation errors', registers: [registry],
    collect() { this.set(store.invalidObjectCount()); },
  });
  return {
    registry,
    agents: new Gauge({ name: 'sluice_cp_connected_agents', help: 'Agents with an open state stream', registers: [registry] }),
    updatesSent: new Counter({ name: 'sluice_cp_updates_sent_total', help: 'State updates sent to agents', labelNames: ['kind'], registers: [registry] }),
    acks: new Counter({ name: 'sluice_cp_acks_total', help: 'Updates acknowledged (applied) by agents', registers: [registry] }),
    nacks: new Counter({ name: 'sluice_cp_nacks_total', help: 'Updates rejected (nack) by agents', registers: [registry] }),
    invalidObjects: new Counter({ name: 'sluice_cp_invalid_object_reports_total', help: 'Validation errors reported (each time an object becomes or changes while invalid)', labelNames: ['kind'], registers: [registry] }),
    sourceErrors: new Counter({ name: 'sluice_cp_source_errors_total', help: 'Errors of the sources (watch/list failures, unreadable manifests)', labelNames: ['source'], registers: [registry] }),
    rejected: new Counter({ name: 'sluice_cp_rejected_messages_total', help: 'Agent messages refused by the gRPC server (undecodable, invalid Hello, out of order, unknown ack)', labelNames: ['reason'], registers: [registry] }),
  };
}
