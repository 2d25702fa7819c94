// The node agent as a library: startAgent loads the datapath (adopting pinned maps from an earlier
// run, so traffic never stops), attaches it to pods' interfaces, and applies the desired services from
// the control plane (or, standalone, from a state file) to the maps. agent/main.ts is its command line.
import type { Logger } from 'pino';
import { serveStatus, type StatusServer } from '../common/status-server.ts';
import type { NodeState, Service } from '../proto/contract.ts';
import { InterfaceAttacher } from './attach.ts';
import { CapacityError, Datapath, type MapSizes } from './datapath.ts';
import { MapWriteError } from './maps/transaction.ts';
import { attachExternal, type ExternalAttachment, type EXTERNAL_MODES } from './external.ts';
import { collectGarbageInSteps, forgetRemovedUdp, type GcTimeouts } from './gc.ts';
import { monotonicNs } from './inspect.ts';
import { kernelFamilies, masqueradeAddress, nodePortIps } from './nodeport-addresses.ts';
import { chooseMasqueradePorts } from './masquerade-ports.ts';
import { PinnedMaps } from './inspect.ts';
import { AgentMetrics } from './metrics.ts';
import { DEFAULT_HEALTHZ_TIMEOUT_S, ProxyHealth, serveProxyHealth, type HealthServer } from './health.ts';
import { KubeProxyMetrics } from './metrics-kubeproxy.ts';
import { nextHopCacheChoice, readMultipathHashPolicy, type NextHopCacheMode } from './next-hop-cache.ts';
import { ServiceHealthServers } from './service-health.ts';
import { Reconciler } from './reconciler.ts';
import { applySocketLb, type SocketLbAttachment, type SocketLbMode } from './socket-lb.ts';
import { StaleSocketSweeper } from './socket-sweep.ts';
import { SKIPPED_LISTED, STATUS_HEARTBEAT_MS, writeStatus, type AgentStatus } from './status.ts';
import type { SkippedService } from './reconciler.ts';
import { connectStateStream, type ClientTls, type StateStreamClient } from './stream-client.ts';
import { stateFileServices, watchStateFile, type StateFileWatch } from './state-file.ts';
import { mark, span, traceFields } from '../common/trace.ts';

const E2BIG = 7;

export interface AgentOptions {
  node: string;
  /** Where desired state comes from: control plane replicas (tried in turn), or a JSON state file. */
  source: { controlPlane: string[]; tls?: ClientTls } | { stateFile: string };
  /** Name patterns of pods' host-side veths. */
  podInterfaces: string[];
  /** The node's external interface (north-south); off when unset. */
  externalInterface?: string;
  externalMode: (typeof EXTERNAL_MODES)[number];
  /** sl_ext_xdp's next-hop cache (agent/next-hop-cache.ts); default auto. */
  nextHopCache?: NextHopCacheMode;
  /** --nodeport-addresses: CIDRs and "primary" (the external interface's addresses); default ["primary"]. */
  nodePortAddresses?: string[];
  /** Socket-level balancing (agent/socket-lb.ts), attached at cgroupRoot unless off. */
  socketLb: SocketLbMode;
  /** A cgroup v2 directory: the node's processes and pods are under it (in a cluster, the host's root). */
  cgroupRoot?: string;
  /** Also destroy TCP sockets connected to a removed backend (connected UDP ones always are). */
  socketLbDestroyTcp?: boolean;
  pinRoot: string;
  /** The status file for `sluice status` goes under runDir/<node>/. */
  runDir: string;
  bpfDir: string;
  /** /metrics, /healthz, /readyz; not served when unset. */
  metrics?: { host: string; port: number };
  /** kube-proxy's node health server (/healthz, /livez; it listens on :10256); not served when unset. */
  healthz?: { host: string; port: number };
  /** A received change not programmed within this long makes /healthz answer 503 (default 60 s). */
  healthzTimeoutMs?: number;
  sizes: MapSizes;
  gc: GcTimeouts;
  gcIntervalMs: number;
  scanIntervalMs: number;
  log: Logger;
}

export interface AgentHandle {
  readonly datapath: Datapath;
  /** Port of the metrics server (0 when off). */
  readonly metricsPort: number;
  /** Port of the node health server (0 when off or not bound). */
  readonly healthzPort: number;
  /** Stop following the source and release everything; programs and maps stay in place. */
  stop(): Promise<void>;
}

/** Why the agent could not start, with the fields to log alongside. */
export class AgentStartError extends Error {
  readonly fields: Record<string, unknown>;
  constructor(message: string, fields: Record<string, unknown>) {
    super(message);
    this.fields = fields;
  }
}

const errText = (e: unknown): string => (e as Error).message;

export async function startAgent(o: AgentOptions): Promise<AgentHandle> {
  const { log, node, runDir } = o;
  let dp: Datapath;
  try {
    dp = Datapath.open({ node, pinRoot: o.pinRoot, objectDir: o.bpfDir, sizes: o.sizes, warn: (msg, fields) => log.warn(fields, msg) });
  } catch (e) {
    throw new AgentStartError('cannot load the datapath', { err: errText(e) });
  }
  log.info({ node, pinDir: dp.pinDir, adopted: dp.adopted, frontends: dp.frontends.size, backends: dp.backendCount, sizes: dp.sizes },
    dp.adopted ? 'adopted pinned maps: traffic keeps flowing from the last state' : 'created maps');

  let external: ExternalAttachment | undefined;
  if (o.externalInterface) {
    try {
      external = attachExternal(o.externalInterface, dp.programs, o.externalMode);
      log.info({ interface: external.name, mode: external.mode, addresses: external.ips, fallbacks: external.fallbacks }, 'north-south datapath attached');
    } catch (e) {
      dp.close();
      throw new AgentStartError('cannot attach the north-south datapath', { err: errText(e) });
    }
    const nh = nextHopCacheChoice(o.nextHopCache ?? 'auto', readMultipathHashPolicy());
    try {
      if (dp.setNextHopCache(nh.flags)) log.info({ mode: o.nextHopCache ?? 'auto', keyedBy: nh.keyedBy, multipathHashPolicy: nh.policy }, 'next-hop cache');
    } catch (e) {
      // The datapath's default until written: per-flow keys, right under any multipath policy.
      log.warn({ mode: o.nextHopCache ?? 'auto', err: errText(e) }, 'next-hop cache keyed by flow: its switch could not be written');
    }
  }

  let socketLb: SocketLbAttachment;
  try {
    socketLb = applySocketLb(dp, o.socketLb, o.cgroupRoot);
    if (socketLb.mode !== 'off') log.info(socketLb, 'socket-level balancing attached');
  } catch (e) {
    dp.close();
    throw new AgentStartError('cannot attach the socket-level datapath', { mode: o.socketLb, cgroupRoot: o.cgroupRoot, err: errText(e) });
  }
  let sweeper: StaleSocketSweeper | undefined;
  if (socketLb.mode !== 'off') {
    try {
      sweeper = StaleSocketSweeper.open(o.bpfDir, dp.pinDir, { tcp: !!o.socketLbDestroyTcp });
    } catch (e) {
      log.warn({ err: errText(e) }, 'stale sockets are not destroyed (needs Linux >= 6.5 with bpf_sock_destroy): ' +
        'connected UDP sockets keep a removed backend until the application reconnects');
    }
  }
  let sweptRemovals = dp.backendsRemoved;
  /** After a change that removed backends: destroy the sockets still connected to them. */
  const sweepStaleSockets = (): void => {
    if (!sweeper || dp.backendsRemoved === sweptRemovals) return;
    sweptRemovals = dp.backendsRemoved;
    try {
      const r = sweeper.sweep(o.cgroupRoot!);
      metrics.socketsDestroyed.inc({ protocol: 'udp' }, r.udp);
      metrics.socketsDestroyed.inc({ protocol: 'tcp' }, r.tcp);
      log.info(r, 'swept sockets connected to removed backends');
    } catch (e) {
      metrics.errors.inc({ kind: 'socket_sweep' });
      log.warn({ err: errText(e) }, 'socket sweep failed');
    }
  };

  // NodePorts of both families (kube-proxy's per-family proxiers each take their family's addresses).
  const nodeIps = nodePortIps(o.nodePortAddresses ?? ['primary'], [...external?.ips ?? [], ...external?.ips6 ?? []]);
  // Both families unless the kernel has IPv6 off: then IPv6 frontends are reported as skipped.
  const families = kernelFamilies();
  // Hairpin is source-NATed to the node's address with or without a north-south interface.
  const masquerade = masqueradeAddress(external?.ips ?? [], nodeIps);
  const ports = masquerade ? chooseMasqueradePorts(log) : undefined;
  if (masquerade) {
    dp.setNodeIp(masquerade, ports);
    log.info({ address: masquerade, ports: ports && `${ports.min}-${ports.max}` }, 'source NAT (hairpin, externalTrafficPolicy Cluster) to this node address');
  } else log.warn({}, 'no node address to masquerade to: a pod reaching itself through its service is dropped');
  // IPv6's own source (sl_config6), from the same places; its ports are sl_config's range.
  const masquerade6 = families.includes(6) ? masqueradeAddress(external?.ips6 ?? [], nodeIps, undefined, 6) : undefined;
  dp.setNodeIp6(masquerade6);
  if (masquerade6) log.info({ address: masquerade6 }, 'source NAT of IPv6 flows (hairpin, externalTrafficPolicy Cluster) to this node address');
  else if (families.includes(6)) log.warn({}, 'no IPv6 node address to masquerade to: a pod reaching itself through an IPv6 service address is dropped');
  const maps = new PinnedMaps(node, o.pinRoot);
  // Without north-south, another node's answers to a masqueraded pod flow would be lost.
  if (!external) log.info({}, 'no --external-interface: pods reach externalTrafficPolicy Cluster external addresses unmasqueraded');
  const reconciler = new Reconciler(dp, { node, nodeIps, families, ...(external ? {} : { podsUnmasqueraded: true }) });
  // Flows created before this start may come from programs that never mark a reply.
  const gc: GcTimeouts = { ...o.gc, synSince: monotonicNs() };
  const attacher = new InterfaceAttacher(o.podInterfaces, dp.programs, (msg, fields) => log.info(fields, msg));
  const metrics = new AgentMetrics(dp, maps, () => attacher.attached.length);
  const kpMetrics = new KubeProxyMetrics(metrics.registry);
  const health = new ProxyHealth(o.healthzTimeoutMs ?? DEFAULT_HEALTHZ_TIMEOUT_S * 1000);
  const svcHealth = new ServiceHealthServers({
    node, addresses: external?.ips ?? [], proxyHealthy: () => health.isHealthy(), warn: (msg, fields) => log.warn(fields, msg),
  });
  const status: AgentStatus = {
    node, pid: process.pid, startedAt: new Date().toISOString(), adopted: dp.adopted,
    source: 'controlPlane' in o.source ? `control plane ${o.source.controlPlane.join(',')}` : `state file ${o.source.stateFile}`,
    appliedVersion: 0, nacked: [], interfaces: [], ipFamilies: families.map((f) => `IPv${f}`),
    kubeProxyReplacement: {
      protocols: ['TCP', 'UDP'], nodePortAddresses: external?.ips ?? [], maglevSlots: dp.sizes.maglev, conntrackTimeouts: o.gc,
      devices: external ? [{ name: external.name, mode: external.mode, addresses: external.ips }] : [],
      healthz: o.healthz ? `${o.healthz.host}:${o.healthz.port}` : '', healthCheckNodePorts: [],
    },
    socketLb: { mode: socketLb.mode, cgroup: socketLb.cgroup, staleSockets: !sweeper ? 'kept' : o.socketLbDestroyTcp ? 'udp+tcp destroyed' : 'udp destroyed' },
    external: external ? `${external.name} ${external.mode} (${external.ips.join(', ')})${external.fallbacks.length ? `; not used: ${external.fallbacks.join('; ')}` : ''}` : undefined,
  };
  let stream: StateStreamClient | undefined;
  let ready = false;
  metrics.frontendsSkipped.set({ family: 'ipv6' }, 0);
  /** IPv6 frontends left out on a node with IPv6 off (called when they changed): gauge, status, one log line. */
  const reportSkipped = (version: number, skipped: SkippedService[]): void => {
    const frontends = skipped.reduce((n, s) => n + s.frontends.length, 0);
    metrics.frontendsSkipped.set({ family: 'ipv6' }, frontends);
    const reason = 'IPv6 is turned off in this node\'s kernel (no /proc/sys/net/ipv6); IPv4 frontends of dual-stack services are programmed';
    status.skipped = skipped.length ? {
      family: 'ipv6', reason, frontends, truncated: skipped.length > SKIPPED_LISTED,
      services: skipped.slice(0, SKIPPED_LISTED).map((s) => ({ service: s.service, whole: s.whole, frontends: s.frontends.map(({ frontend, type, name }) => ({ frontend, type, name })) })),
    } : undefined;
    const whole = skipped.filter((s) => s.whole).map((s) => s.service);
    log.warn({
      version, family: 'ipv6', frontends, services: skipped.length, ipv6OnlyServices: whole.slice(0, 20), ipv6Only: whole.length,
      examples: skipped.slice(0, 5).map((s) => s.frontends[0]!.frontend), reason,
    }, frontends ? 'IPv6 frontends not programmed' : 'no IPv6 frontend left out any more');
  };

  const saveStatus = (): void => {
    status.interfaces = attacher.attached.map((a) => a.name).sort();
    status.kubeProxyReplacement!.healthCheckNodePorts = svcHealth.ports;
    if (stream) {
      status.controlPlane = {
        target: stream.target, connected: stream.connected, serverId: stream.serverId || undefined,
        lastError: stream.lastError || undefined, reconnects: status.controlPlane?.reconnects ?? 0,
      };
    }
    try { writeStatus(status, runDir); } catch (e) { log.warn({ err: errText(e) }, 'cannot write the status file'); }
  };

  /**
   * The control plane's word on this node (every update carries it; null from an older control
   * plane): while it is being deleted, /healthz on :10256 answers 503 with the reason. Taken whether
   * or not the update's services apply: it touches no map.
   */
  const syncNode = (n: NodeState | null): void => {
    if (!n) return;
    const changed = health.syncNode(n);
    metrics.nodeEligible.set(health.nodeEligible ? 1 : 0);
    const inel = health.ineligible;
    status.nodeState = { known: n.known, eligible: !inel, ...(inel && { reason: inel.reason, since: inel.since }) };
    if (!changed) return;
    if (inel) log.warn({ reason: inel.reason }, 'node is being deleted: /healthz answers 503 so that load balancers drain it');
    else log.info({ known: n.known }, 'node no longer being deleted: eligible again');
    // (the status file is written once the update's services are applied, just after)
  };

  /** Flows to removed UDP backends go now, not at the next GC pass (kube-proxy deletes them too). */
  const forgetUdp = (): void => {
    try {
      metrics.gcDeleted.inc({ map: 'sl_ct' }, forgetRemovedUdp(dp));
    } catch (e) {
      metrics.errors.inc({ kind: 'gc' });
      log.warn({ err: errText(e) }, 'cannot forget flows to removed UDP backends; the next GC pass will');
    }
  };

  /**
   * Apply one version; returns the error text for a nack, or undefined when applied. A snapshot's
   * services may be a source read as it is iterated (a state file: stateFileServices; a gRPC
   * snapshot: decodeAgentUpdate).
   */
  const apply = (version: number, snapshot: boolean, upserts: Iterable<Service>, removals: string[]): string | undefined => {
    const t0 = performance.now();
    health.queuedUpdate();
    try {
      mark('agentApply');
      const r = snapshot ? reconciler.applySnapshot(upserts) : reconciler.applyDelta([...upserts], removals);
      mark('agentMapsWritten');
      const seconds = (performance.now() - t0) / 1000;
      for (const e of r.errors) log.error({ version, err: e }, 'service left as it was');
      if (r.refused.length !== (status.refused?.length ?? 0)) log.warn({ version, refused: r.refused }, 'service ports left out');
      status.refused = r.refused.length ? r.refused : undefined;
      metrics.refusedPorts = r.refused.length;
      if (r.skippedChanged) reportSkipped(version, r.skipped);
      if (r.udpBackendsGone) forgetUdp();
      metrics.serviceErrors.inc(r.errors.length);
      metrics.applied.inc();
      metrics.applySeconds.observe(seconds);
      metrics.appliedVersion.set(version);
      status.appliedVersion = version;
      status.appliedAt = new Date().toISOString();
      ready = true;
      health.updated();
      // The change's trigger times come from the apply (a snapshot's source is not iterated again: a
      // state file or a gRPC snapshot would be parsed twice).
      kpMetrics.synced(seconds, r.triggers, removals, reconciler.services.values(), node);
      svcHealth.sync(reconciler.services.values()).then((moved) => { if (moved) saveStatus(); }, (e: unknown) => log.warn({ err: errText(e) }, 'health-check node ports not updated'));
      sweepStaleSockets();
      log.info({ version, snapshot, services: r.services, changed: r.changed, removed: r.removed, ms: +(seconds * 1000).toFixed(2), trace: traceFields('agentLogged') }, 'applied');
      return undefined;
    } catch (e) {
      const msg = errText(e);
      metrics.nacked.inc();
      // Refused before any write, or a write the kernel answered with E2BIG (another writer filled the map).
      const full = e instanceof CapacityError || (e instanceof MapWriteError && e.errno === E2BIG);
      metrics.errors.inc({ kind: full ? 'map_full' : 'apply' });
      status.nacked = [...status.nacked, { version, error: msg, at: new Date().toISOString() }].slice(-10);
      log.error({ version, err: msg, capacity: full }, 'version not applied; previous state kept');
      return msg;
    } finally {
      saveStatus();
    }
  };

  let fileWatch: StateFileWatch | undefined;
  const followStateFile = (file: string): void => {
    let version = 0;
    const load = () => {
      let services: Iterable<Service>;
      try {
        services = stateFileServices(file);
      } catch (e) {
        log.error({ file, err: errText(e) }, 'state file unreadable; previous state kept');
        return;
      }
      apply(++version, true, services, []);
    };
    load();
    fileWatch = watchStateFile(file, load, (e) => log.warn({ file, err: errText(e) }, 'cannot watch the state file\'s directory; polling it every 100 ms'));
  };

  const followControlPlane = (targets: string[], tls: ClientTls | undefined): StateStreamClient => {
    let wasConnected = false;
    const s = connectStateStream({
      target: targets, nodeName: node, agentId: `${node}/${process.pid}`, lastAppliedVersion: status.appliedVersion, tls,
      logger: log.child({ component: 'stream' }),
      onUpdate: async (u) => { syncNode(u.node); return apply(u.version, u.snapshot, u.upserts, u.removals); },
    });
    s.on('connected', (serverId) => {
      wasConnected = true;
      metrics.cpConnected.set(1);
      log.info({ target: s.target, serverId }, 'control plane connected');
      saveStatus();
    });
    s.on('disconnected', (why) => {
      metrics.cpConnected.set(0);
      if (wasConnected) {
        wasConnected = false;
        metrics.cpReconnects.inc();
        if (status.controlPlane) status.controlPlane.reconnects++;
        log.warn({ target: s.target, why }, 'control plane unreachable; the datapath keeps its last state while reconnecting');
      }
      saveStatus();
    });
    return s;
  };

  let http: StatusServer | undefined;
  if (o.metrics) {
    try {
      http = await serveStatus({ ...o.metrics, registry: metrics.registry, notReady: () => (ready ? undefined : 'no state applied yet') });
    } catch (e) {
      maps.close();
      sweeper?.close();
      dp.close();
      throw new AgentStartError('cannot serve metrics', { addr: `${o.metrics.host}:${o.metrics.port}`, err: errText(e) });
    }
  }
  let healthz: HealthServer | undefined;
  if (o.healthz) {
    // As kube-proxy: a health port that cannot be bound is reported, the datapath still runs.
    try {
      healthz = await serveProxyHealth({ ...o.healthz, health, healthz: kpMetrics.healthz, livez: kpMetrics.livez });
    } catch (e) {
      log.error({ addr: `${o.healthz.host}:${o.healthz.port}`, err: errText(e) }, 'cannot serve the node health server');
    }
  }
  attacher.start(o.scanIntervalMs);
  if (!dp.migration) dp.finishMigration(); // an address filter of a new size: covered again (no-op otherwise)
  if (dp.migration) {
    // Every interface found now runs the new programs: the old ones wrote their last entries.
    try {
      dp.finishMigration();
    } catch (e) {
      throw new AgentStartError('cannot finish migrating the pinned maps', { err: errText(e), ...dp.migration });
    }
    const { from, to, maps: migrated, copied } = dp.migration;
    status.migration = { from, to, maps: migrated, entries: copied, at: new Date().toISOString() };
    log.info({ from, to, maps: migrated, entries: copied }, 'migrated pinned maps');
    saveStatus();
  }
  let lastSaved = Date.now();
  const scanSave = setInterval(() => span('agentStatus', () => {
    metrics.attachErrors.set(attacher.errors);
    // Also a heartbeat: `sluice status` takes a file older than a few of these for a dead agent.
    if (attacher.attached.length !== status.interfaces.length || Date.now() - lastSaved >= STATUS_HEARTBEAT_MS) { saveStatus(); lastSaved = Date.now(); }
  }), 1000);
  scanSave.unref();

  // In steps (collectGarbageInSteps): an update from the control plane arriving during a pass is
  // applied between two of its batches, not after the whole pass. One pass at a time.
  // stop() ends a pass at its next pause (the maps are closed after it) and waits for it.
  let gcRunning: Promise<void> | undefined, gcStopping = false;
  const gcPause = async (): Promise<void> => {
    await new Promise((resolve) => setImmediate(resolve));
    if (gcStopping) throw new Error('agent stopping');
  };
  const gcTimer = setInterval(() => {
    if (gcRunning) return;
    mark('agentGcStart');
    gcRunning = collectGarbageInSteps(dp, gc, undefined, gcPause).then((r) => {
      metrics.gcDeleted.inc({ map: 'sl_ct' }, r.ctDeleted);
      metrics.gcDeleted.inc({ map: 'sl_affinity' }, r.affinityDeleted);
      if (r.ctDeleted || r.affinityDeleted) log.debug(r, 'expired entries removed');
    }, (e: unknown) => {
      if (gcStopping) return;
      metrics.errors.inc({ kind: 'gc' });
      log.warn({ err: errText(e) }, 'garbage collection failed');
    }).finally(() => { gcRunning = undefined; mark('agentGcEnd'); });
  }, o.gcIntervalMs);
  gcTimer.unref();

  if ('stateFile' in o.source) followStateFile(o.source.stateFile);
  else stream = followControlPlane(o.source.controlPlane, o.source.tls);
  saveStatus();
  log.info({ interfaces: attacher.attached.length }, 'agent ready');

  let stopped = false;
  return {
    datapath: dp,
    metricsPort: http?.port ?? 0,
    healthzPort: healthz?.port ?? 0,
    async stop() {
      if (stopped) return;
      stopped = true;
      stream?.close();
      fileWatch?.close();
      attacher.stop();
      clearInterval(gcTimer);
      gcStopping = true;
      await gcRunning;
      clearInterval(scanSave);
      await http?.close();
      await healthz?.close();
      await svcHealth.close();
      status.pid = 0;
      saveStatus();
      maps.close();
      sweeper?.close();
      dp.close();
    },
  };
}
