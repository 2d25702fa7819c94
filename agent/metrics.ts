// Prometheus metrics of the agent (served by common/status-server.ts).
import client from 'prom-client';
import type { Datapath } from './datapath.ts';
import type { PinnedMaps } from './inspect.ts';
import type { FrontendRow } from './frontend.ts';

export class AgentMetrics {
  readonly registry = new client.Registry();
  readonly applied = new client.Counter({ name: 'sluice_versions_applied_total', help: 'State versions applied to the datapath', registers: [this.registry] });
  readonly nacked = new client.Counter({ name: 'sluice_versions_nacked_total', help: 'State versions refused (nacked); the previous state was kept', registers: [this.registry] });
  readonly serviceErrors = new client.Counter({ name: 'sluice_service_errors_total', help: 'Services left as they were because they could not be programmed', registers: [this.registry] });
  readonly applySeconds = new client.Histogram({
    name: 'sluice_apply_duration_seconds', help: 'Time to apply one state version to the maps',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly appliedVersion = new client.Gauge({ name: 'sluice_applied_version', help: 'Last state version applied', registers: [this.registry] });
  readonly cpConnected = new client.Gauge({ name: 'sluice_control_plane_connected', help: '1 while the control plane stream is up', registers: [this.registry] });
  readonly nodeEligible = new client.Gauge({
    name: 'sluice_node_eligible', help: '0 while the control plane says this node is being deleted (deletionTimestamp, ToBeDeletedByClusterAutoscaler taint, Node deleted): /healthz answers 503; else 1',
    registers: [this.registry],
  });
  readonly cpReconnects = new client.Counter({ name: 'sluice_control_plane_reconnects_total', help: 'Control plane stream losses', registers: [this.registry] });
  readonly attachErrors = new client.Gauge({ name: 'sluice_attach_errors', help: 'Failed attempts to attach to an interface', registers: [this.registry] });
  readonly gcDeleted = new client.Counter({ name: 'sluice_gc_deleted_total', help: 'Expired entries removed by the agent', labelNames: ['map'], registers: [this.registry] });
  readonly errors = new client.Counter({ name: 'sluice_errors_total', help: 'Errors by kind', labelNames: ['kind'], registers: [this.registry] });
  /** Service ports left out by the agent (SCTP), reported with the datapath's events as port_refused. */
  refusedPorts = 0;
  readonly frontendsSkipped = new client.Gauge({
    name: 'sluice_frontends_skipped', help: 'Frontends of services not programmed because this node does not serve their IP family (IPv6 turned off in its kernel)', labelNames: ['family'], registers: [this.registry],
  });
  readonly socketsDestroyed = new client.Counter({ name: 'sluice_sockets_destroyed_total', help: 'Sockets destroyed because their backend was removed (socket-level balancing)', labelNames: ['protocol'], registers: [this.registry] });

  constructor(dp: Datapath, maps: PinnedMaps, interfaces: () => number) {
    const reg = [this.registry];
    this.nodeEligible.set(1);
    new client.Gauge({ name: 'sluice_services', help: 'Frontends (service address, port, protocol) programmed', registers: reg, collect() { this.set(dp.frontends.size); } });
    new client.Gauge({ name: 'sluice_backends', help: 'Backends programmed', registers: reg, collect() { this.set(dp.backendCount); } });
    new client.Gauge({ name: 'sluice_attached_interfaces', help: 'Interfaces with the datapath attached', registers: reg, collect() { this.set(interfaces()); } });
    new client.Gauge({
      name: 'sluice_map_entries', help: 'Entries in use per BPF map', labelNames: ['map'], registers: reg,
      collect() { for (const f of cachedFill()) this.set({ map: f.map }, f.entries); },
    });
    new client.Gauge({
      name: 'sluice_map_capacity', help: 'Capacity per BPF map', labelNames: ['map'], registers: reg,
      collect() { for (const f of cachedFill()) this.set({ map: f.map }, f.capacity); },
    });
    const perService = (name: string, help: string, field: keyof FrontendRow['stats']) =>
      new client.Counter({
        name, help, labelNames: ['service', 'frontend'], registers: reg,
        collect() {
          this.reset();
          for (const s of cachedServices()) this.inc({ service: s.name, frontend: s.frontend }, s.stats[field]);
        },
      });
    perService('sluice_service_connections_total', 'New connections balanced, per frontend (from BPF counters)', 'connections');
    perService('sluice_service_packets_total', 'Client-to-service packets, per frontend', 'packets');
    perService('sluice_service_bytes_total', 'Client-to-service bytes, per frontend', 'bytes');
    perService('sluice_service_rejects_total', 'Packets refused for lack of endpoints, per frontend', 'rejects');
    perService('sluice_service_socket_translations_total', 'connect()/sendmsg() calls translated at the socket, per frontend', 'socketTranslations');
    perService('sluice_service_socket_rejects_total', 'connect()/sendmsg() calls refused for lack of endpoints, per frontend', 'socketRejects');
    const events: client.Counter<'event'> = new client.Counter({
      name: 'sluice_datapath_events_total', help: 'Node-wide datapath counters', labelNames: ['event'], registers: reg,
      collect: () => {
        events.reset();
        for (const [k, v] of Object.entries(maps.counters())) events.inc({ event: k }, v);
        events.inc({ event: 'port_refused' }, this.refusedPorts);
      },
    });
    // One map walk serves all gauges of a scrape.
    let fill: ReturnType<PinnedMaps['fill']> = [], fillAt = 0;
    let svcs: ReturnType<PinnedMaps['services']> = [], svcAt = 0;
    const cachedFill = () => { if (Date.now() - fillAt > 1000) { fill = maps.fill(); fillAt = Date.now(); } return fill; };
    const cachedServices = () => { if (Date.now() - svcAt > 1000) { svcs = maps.services(); svcAt = Date.now(); } return svcs; };
  }
}
