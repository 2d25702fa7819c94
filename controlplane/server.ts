// The gRPC state server: StateService.Stream, xDS-style.
//
// Per stream: the agent sends Hello{node_name, last_applied_version}; the server answers with a
// full snapshot for that node (once the store has synced), then deltas as the store changes. Every
// update carries a fresh monotonic version and a nonce; at most ONE update per agent is
// unacknowledged. While one is in flight, changes only add service keys to a pending set (bounded
// by the number of services); when the ack arrives, one delta carrying the newest state of every
// pending key goes out. A nack is logged and counted; the keys it carried are marked "agent state
// unknown" and re-sent with the next change (never resent on their own, so no nack loop).
// Every update also carries the node's state (being deleted or not, node-state.ts); a change to it
// alone goes out as an update without services.
// Snapshots are written one at a time (issue 14): each is one buffer of the whole state (~0.7 KB
// per service, plus grpc-js's framed copy of it), so agents connecting together (every agent, after
// a control plane restart) are served one after another, not all built at once. An agent that
// does not read holds the others back for at most snapshotWriteWaitMs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type * as http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { encodeStateUpdate, pb, stateServiceDefinition, type NodeState, type StateUpdateMsg } from '../proto/contract.ts';
import type { sluice } from '../proto/gen/state.js';
import type { StateStore } from './store.ts';
import type { ControlPlaneMetrics } from './metrics.ts';
import { clip, helloProblem } from './hello.ts';
import { nodeStateFor, sameNodeState } from './node-state.ts';
import { traceFields } from '../common/trace.ts';

/** Largest message either side accepts: a 10,000 x 10 snapshot is ~8 MB (see docs), keep headroom. */
export const MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

export const SERVER_KEEPALIVE = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
};

/**
 * Versions: microseconds since the Unix epoch at start, then +1 per update (and never below the
 * clock), so a restarted control plane (or another replica) keeps producing larger versions.
 * Stays below 2^53 until the year 2255.
 */
export class VersionClock {
  private last = 0;
  next(): number {
    this.last = Math.max(this.last + 1, Date.now() * 1000);
    return this.last;
  }
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** Agents send only Hello and Ack (with a nack's error text): 1 MiB is far above either. */
export const MAX_RECEIVE_BYTES = 1024 * 1024;

export interface ListenOptions {
  /** mTLS files; required for a TCP address unless `insecure`. */
  tls?: TlsFiles;
  /** Serve plain TCP without authentication (--insecure-listen): anyone who reaches it gets every node's state. */
  insecure?: boolean;
}

/** A fresh "unix:" address in a new private (0700) temp directory: for in-process servers and benches. */
export function privateSocketAddress(prefix = 'sluice-cp-'): string {
  return `unix:${path.join(fs.mkdtempSync(path.join(os.tmpdir(), prefix)), 'cp.sock')}`;
}

/** Why a control plane may not listen on `address` with these options (TCP needs mTLS), or undefined. */
export function listenProblem(address: string, o: ListenOptions): string | undefined {
  if (address.startsWith('unix:') || o.tls || o.insecure) return undefined;
  return `refusing to serve ${address} without mTLS: give --tls-cert, --tls-key and --tls-ca, listen on unix:/path, or pass --insecure-listen`;
}

export type RejectReason = 'undecodable' | 'hello-invalid' | 'hello-duplicate' | 'before-hello' | 'ack-unknown' | 'empty' | 'no-hello';

export interface StateServerOptions {
  store: StateStore;
  logger: Logger;
  metrics: ControlPlaneMetrics;
  serverId?: string;
  /** How long a snapshot's write may hold back the next agent's snapshot (default 10 s). */
  snapshotWriteWaitMs?: number;
}

interface InFlight {
  version: number;
  nonce: string;
  snapshot: boolean;
  /** Services carried (upserts and removals). */
  services: number;
  /** Deltas: revision each carried key had on the agent before this update (undefined: absent). A snapshot's is empty (a nacked one is resent whole). */
  prevRevs: Map<string, number | undefined>;
}

/**
 * Messages arrive as bytes and are decoded per stream, so an undecodable one is counted against its
 * stream. Updates leave as bytes too: each is assembled from the store's per-service encodings
 * (encodeStateUpdate), never re-encoded from objects per agent.
 */
type Call = grpc.ServerDuplexStream<Buffer, Buffer>;

class AgentSession {
  node = '';
  agentId = '';
  helloReceived = false;
  /** Something this client sent was refused (counted); its stream is not counted again as 'no-hello'. */
  refused = false;
  closed = false;
  /** key -> store revision the agent has (or is being sent). Rebuildable: a snapshot resets it. */
  readonly sent = new Map<string, number>();
  /** Keys changed since the last update was built (bounded by the number of services). */
  readonly pending = new Set<string>();
  /** Keys of a nacked update: re-sent with the next change. */
  readonly retry = new Set<string>();
  needSnapshot = true;
  /** The node state last sent (undefined: none yet, or its update was nacked). */
  nodeSent: NodeState | undefined;
  /** This stream has been told its Node object exists: if it goes, the node is being deleted. */
  nodeSeen = false;
  /** After a nack, nothing is sent until the store changes again. */
  parked = false;
  inflight: InFlight | null = null;
  lastAckedVersion = 0;
  /** While this agent's snapshot is being written: the timer that stops it holding back the next. */
  snapshotWait: NodeJS.Timeout | undefined;
  readonly call: Call;
  readonly peer: string;
  constructor(call: Call) {
    this.call = call;
    this.peer = call.getPeer();
  }
}

export class StateServer {
  readonly serverId: string;
  private readonly store: StateStore;
  private readonly log: Logger;
  private readonly metrics: ControlPlaneMetrics;
  private readonly clock = new VersionClock();
  private readonly sessions = new Set<AgentSession>();
  /** The agent whose snapshot is being written (null: none); the agents waiting for theirs, in order. */
  private snapshotWriting: AgentSession | null = null;
  private readonly snapshotQueue = new Set<AgentSession>();
  private readonly snapshotWriteWaitMs: number;
  private server: grpc.Server | null = null;
  private socketPath: string | null = null;
  private closing = false;
  private readonly onChange = (keys: Set<string>): void => this.storeChanged(keys);
  private readonly onSynced = (): void => { for (const s of this.sessions) this.pump(s); };
  private readonly onNode = (name: string): void => this.nodeChanged(name);

  constructor(opts: StateServerOptions) {
    this.store = opts.store;
    this.log = opts.logger;
    this.metrics = opts.metrics;
    this.serverId = opts.serverId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.snapshotWriteWaitMs = opts.snapshotWriteWaitMs ?? 10_000;
    this.store.on('change', this.onChange);
    this.store.on('synced', this.onSynced);
    this.store.on('node', this.onNode);
  }

  get agentCount(): number {
    return this.sessions.size;
  }

  /** Per-agent view, for tests and debugging. */
  agents(): { node: string; agentId: string; peer: string; inflight: boolean; pending: number; sent: number; lastAckedVersion: number }[] {
    return [...this.sessions].map((s) => ({
      node: s.node, agentId: s.agentId, peer: s.peer, inflight: s.inflight !== null,
      pending: s.pending.size + s.retry.size, sent: s.sent.size, lastAckedVersion: s.lastAckedVersion,
    }));
  }

  /**
   * Listens on "host:port" (mTLS, or plain with `insecure`) or "unix:/path" (socket chmod 0600).
   * Returns the bound TCP port (0 for Unix sockets).
   */
  async listen(address: string, o: ListenOptions = {}): Promise<number> {
    const problem = listenProblem(address, o);
    if (problem) throw new Error(problem);
    const tls = o.tls;
    if (!tls && !address.startsWith('unix:')) {
      this.log.warn({ address }, 'listening on TCP WITHOUT authentication (--insecure-listen): anyone who can reach this address receives every node\'s state');
    }
    const server = new grpc.Server({
      ...SERVER_KEEPALIVE,
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    const definition = { Stream: { ...stateServiceDefinition.Stream, requestDeserialize: (b: Buffer): Buffer => b, responseSerialize: (b: Buffer): Buffer => b } };
    server.addService(definition, { Stream: (call: Call) => this.handleStream(call) });
    let creds = grpc.ServerCredentials.createInsecure();
    if (tls) {
      creds = grpc.ServerCredentials.createSsl(
        fs.readFileSync(tls.caFile),
        [{ private_key: fs.readFileSync(tls.keyFile), cert_chain: fs.readFileSync(tls.certFile) }],
        true, // require and verify client certificates
      );
    }
    if (address.startsWith('unix:')) {
      const p = address.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
      try {
        if (fs.statSync(p).isSocket()) fs.unlinkSync(p); // stale socket of a previous run
      } catch { /* absent */ }
      this.socketPath = p;
    }
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
    });
    if (this.socketPath) fs.chmodSync(this.socketPath, 0o600);
    if (tls) this.watchTlsFailures(server);
    this.server = server;
    this.log.info({ address, port, tls: !!tls, serverId: this.serverId }, 'gRPC state server listening');
    return port;
  }

  /** Counts and logs (once, with client strings clipped) one refused message or stream. */
  private reject(s: AgentSession, reason: RejectReason, fields: Record<string, unknown>, msg = 'agent message rejected'): void {
    s.refused = true;
    this.metrics.rejected.inc({ reason });
    this.log.warn({ rejected: reason, ...fields }, msg);
  }

  /** grpc-js does not report refused TLS handshakes; hook its http2 servers to log them clearly. */
  private watchTlsFailures(server: grpc.Server): void {
    const servers = (server as unknown as { http2Servers?: Map<http2.Http2SecureServer, unknown> }).http2Servers;
    if (!(servers instanceof Map)) return;
    const remotes = new WeakMap<net.Socket, string>();
    for (const h of servers.keys()) {
      h.on('connection', (socket: net.Socket) => {
        remotes.set(socket, `${socket.remoteAddress}:${socket.remotePort}`);
      });
      h.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
        const raw = (socket as unknown as { _parent?: net.Socket })._parent;
        const remote = (raw && remotes.get(raw)) ?? (socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown');
        this.log.warn({ remote, code: err.code, err: err.message }, 'TLS handshake refused (client certificate missing or not signed by the configured CA)');
      });
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.store.off('change', this.onChange);
    this.store.off('synced', this.onSynced);
    this.store.off('node', this.onNode);
    for (const s of this.sessions) {
      s.closed = true;
      try { s.call.end(); } catch { /* already gone */ }
    }
    const server = this.server;
    this.server = null;
    if (server) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
        server.tryShutdown(() => { clearTimeout(t); resolve(); });
      });
    }
    if (this.socketPath) {
      try { fs.unlinkSync(this.socketPath); } catch { /* gone */ }
    }
  }

  // ---- streams ------------------------------------------------------------------------------
  private handleStream(call: Call): void {
    const s = new AgentSession(call);
    this.sessions.add(s);
    this.metrics.agents.set(this.sessions.size);
    const finish = (reason: string, err?: Error): void => {
      if (s.closed && !this.sessions.has(s)) return;
      s.closed = true;
      this.snapshotQueue.delete(s);
      if (this.snapshotWriting === s) this.snapshotWritten(s);
      // A stream that ends without a Hello and nothing else refused: frames too large or cut short.
      if (!s.helloReceived && !s.refused && !this.closing) this.reject(s, 'no-hello', { peer: s.peer, reason, err: clip(err?.message) }, 'stream ended without a Hello');
      if (this.sessions.delete(s)) {
        this.metrics.agents.set(this.sessions.size);
        this.log.info({ node: s.node, agentId: s.agentId, peer: s.peer, reason, err: err?.message, lastAckedVersion: s.lastAckedVersion }, 'agent disconnected');
      }
    };
    call.on('data', (b: Buffer) => {
      let m: sluice.v1.AgentMessage;
      try {
        m = pb.AgentMessage.decode(b);
      } catch (e) {
        this.reject(s, 'undecodable', { node: s.node, peer: s.peer, bytes: b.length, err: clip((e as Error).message) }, 'undecodable agent message; closing stream');
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'not a sluice.v1.AgentMessage' });
        return;
      }
      try {
        this.handleMessage(s, m);
      } catch (e) {
        this.log.error({ node: s.node, peer: s.peer, err: (e as Error).message }, 'error handling agent message');
        call.destroy(e as Error);
      }
    });
    call.on('end', () => { finish('stream ended by agent'); try { call.end(); } catch { /* gone */ } });
    call.on('cancelled', () => finish('cancelled'));
    call.on('error', (e: Error) => finish('stream error', e));
    call.on('close', () => finish('closed'));
  }

  private handleMessage(s: AgentSession, m: sluice.v1.AgentMessage): void {
    if (m.hello) {
      if (s.helloReceived) { this.reject(s, 'hello-duplicate', { node: s.node, peer: s.peer }, 'duplicate Hello ignored'); return; }
      const node = m.hello.nodeName ?? '';
      const agentId = m.hello.agentId ?? '';
      const problem = helloProblem(node, agentId);
      if (problem) {
        this.reject(s, 'hello-invalid', { peer: s.peer, node: clip(node), agentId: clip(agentId), err: problem }, 'invalid Hello; closing stream');
        s.call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: problem });
        return;
      }
      s.helloReceived = true;
      s.node = node;
      s.agentId = agentId;
      this.log.info({ node, agentId: s.agentId, peer: s.peer, lastAppliedVersion: Number(m.hello.lastAppliedVersion ?? 0) }, 'agent connected');
      this.pump(s);
      return;
    }
    if (m.ack) {
      if (!s.helloReceived) { this.reject(s, 'before-hello', { peer: s.peer }, 'Ack before Hello ignored'); return; }
      const version = Number(m.ack.version ?? 0);
      const inflight = s.inflight;
      if (!inflight || inflight.nonce !== (m.ack.nonce ?? '') || inflight.version !== version) {
        this.reject(s, 'ack-unknown', { node: s.node, version, nonce: clip(m.ack.nonce), expected: inflight?.version }, 'stale or unknown ack ignored');
        return;
      }
      s.inflight = null;
      if (m.ack.ok) {
        s.lastAckedVersion = version;
        this.metrics.acks.inc();
        this.log.debug({ node: s.node, version }, 'ack');
      } else {
        this.metrics.nacks.inc();
        this.log.warn({ node: s.node, agentId: s.agentId, version, snapshot: inflight.snapshot, services: inflight.services, error: clip(m.ack.error, 1000) }, 'agent rejected update (nack)');
        // The agent kept its previous state: forget what this update carried.
        s.nodeSent = undefined;
        if (inflight.snapshot) {
          s.needSnapshot = true;
        } else {
          for (const [k, rev] of inflight.prevRevs) {
            if (rev === undefined) s.sent.delete(k); else s.sent.set(k, rev);
            s.retry.add(k);
          }
        }
        // Wait for a newer change instead of resending the same thing; if newer changes already
        // arrived while this update was in flight, they go out now together with the retried keys.
        if (s.pending.size === 0) s.parked = true;
        else { for (const k of s.retry) s.pending.add(k); s.retry.clear(); }
      }
      this.pump(s);
      return;
    }
    this.reject(s, 'empty', { node: s.node, peer: s.peer }, 'agent message with neither Hello nor Ack ignored');
  }

  private storeChanged(keys: Set<string>): void {
    for (const s of this.sessions) {
      if (!s.needSnapshot) for (const k of keys) s.pending.add(k);
      if (s.parked) {
        s.parked = false;
        for (const k of s.retry) s.pending.add(k);
        s.retry.clear();
      }
      this.pump(s);
    }
  }

  /** A node's state changed: its agents get an update (a nacked one waiting for a change included). */
  private nodeChanged(name: string): void {
    for (const s of this.sessions) {
      if (s.node !== name) continue;
      if (s.parked) {
        s.parked = false;
        for (const k of s.retry) s.pending.add(k);
        s.retry.clear();
      }
      this.pump(s);
    }
  }

  /** Sends the next update if none is in flight and there is something to send. */
  private pump(s: AgentSession): void {
    if (s.closed || !s.helloReceived || s.inflight || s.parked || !this.store.synced) return;
    if (s.needSnapshot && this.snapshotWriting !== null && this.snapshotWriting !== s) { this.snapshotQueue.add(s); return; }
    const node = nodeStateFor(this.store.nodeDeletionOf(s.node), s.nodeSeen);
    const nodeChanged = !sameNodeState(s.nodeSent, node);
    const upserts: string[] = [];
    const removals: string[] = [];
    const prevRevs = new Map<string, number | undefined>();
    let snapshot = false;
    if (s.needSnapshot) {
      snapshot = true;
      s.needSnapshot = false;
      s.pending.clear();
      s.retry.clear();
      s.sent.clear();
      for (const key of [...this.store.keys()].sort()) {
        const e = this.store.get(key)!;
        upserts.push(this.store.encodedFor(e, s.node));
        s.sent.set(key, e.rev);
      }
    } else {
      if (s.pending.size === 0 && !nodeChanged) return;
      for (const key of s.pending) {
        const e = this.store.get(key);
        const had = s.sent.get(key);
        if (e) {
          if (had === e.rev) continue;
          upserts.push(this.store.encodedFor(e, s.node));
          prevRevs.set(key, had);
          s.sent.set(key, e.rev);
        } else if (had !== undefined) {
          removals.push(key);
          prevRevs.set(key, had);
          s.sent.delete(key);
        }
      }
      s.pending.clear();
      if (upserts.length === 0 && removals.length === 0 && !nodeChanged) return;
    }
    if (nodeChanged && (s.nodeSent !== undefined || node.deleting)) this.log.info({ node: s.node, agentId: s.agentId, known: node.known, deleting: node.deleting, reason: node.reason || undefined }, 'node state sent');
    s.nodeSent = node;
    if (node.known) s.nodeSeen = true;
    const version = this.clock.next();
    const nonce = randomBytes(8).toString('hex');
    s.inflight = { version, nonce, snapshot, services: upserts.length + removals.length, prevRevs };
    const header: StateUpdateMsg = { version, nonce, snapshot, removals, serverId: this.serverId, node };
    this.metrics.updatesSent.inc({ kind: snapshot ? 'snapshot' : 'delta' });
    this.log.debug({ node: s.node, version, snapshot, upserts: upserts.length, removals: removals.length, trace: traceFields('cpSend') }, 'update sent');
    if (!snapshot) {
      try {
        s.call.write(encodeStateUpdate(header, upserts));
      } catch (e) {
        this.log.warn({ node: s.node, err: (e as Error).message }, 'write failed');
      }
      return;
    }
    this.snapshotWriting = s;
    const wait = setTimeout(() => {
      this.log.warn({ node: s.node, agentId: s.agentId, waitMs: this.snapshotWriteWaitMs }, 'snapshot not written yet (agent not reading?): serving the next agent');
      this.snapshotWritten(s);
    }, this.snapshotWriteWaitMs);
    wait.unref();
    s.snapshotWait = wait;
    try {
      s.call.write(encodeStateUpdate(header, upserts), () => this.snapshotWritten(s));
    } catch (e) {
      this.log.warn({ node: s.node, err: (e as Error).message }, 'write failed');
      this.snapshotWritten(s);
    }
  }

  /** `s`'s snapshot was written (or its stream ended, or it waited too long): the next agent's turn. */
  private snapshotWritten(s: AgentSession): void {
    clearTimeout(s.snapshotWait);
    s.snapshotWait = undefined;
    if (this.snapshotWriting !== s) return;
    this.snapshotWriting = null;
    for (const next of this.snapshotQueue) {
      this.snapshotQueue.delete(next);
      this.pump(next);
      if (this.snapshotWriting !== null) return;
    }
  }
}
