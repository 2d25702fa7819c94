// The agent side of StateService.Stream: dials the control plane, says Hello, hands every update to
// onUpdate and acks (resolved) or nacks (a thrown error or a returned string) it. Reconnects with
// exponential backoff and jitter; with several replicas it moves to the next one whenever a stream is
// lost (backing off once all have failed), and whichever answers sends a full snapshot to reconcile
// with. Exposes its connection state through getters and events.
import * as fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { mark } from '../common/trace.ts';
import { decodeAgentUpdate, stateServiceDefinition, type AgentMessageMsg, type LazyStateUpdate } from '../proto/contract.ts';

/**
 * An update as the client hands it over: a snapshot's `upserts` are decoded as they are iterated
 * (proto/plain-decode.ts lazyStateUpdate: a 10,000 x 10 snapshot is never in memory as objects all
 * at once), a delta's are an array; `[...u.upserts]` for an array of either.
 */
export type StateUpdate = LazyStateUpdate;

export interface ClientTls {
  /** CA that signed the control plane's certificate. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Name to verify the server certificate against when it differs from the target host. */
  serverName?: string;
}

/** The subset of a pino logger the client uses. */
export interface ClientLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface StateStreamOptions {
  /** "host:port" or "unix:/path"; several: replicas, tried in turn. */
  target: string | string[];
  nodeName: string;
  agentId?: string;
  lastAppliedVersion?: number;
  tls?: ClientTls;
  onUpdate: (u: StateUpdate) => Promise<void | string>;
  logger?: ClientLogger;
  /** Reconnect backoff: initial and maximum delay (defaults 200 ms and 10 s), with jitter; it grows
   * once per round through all targets. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Keepalive ping interval (default 20 s) and ping timeout (default 10 s). */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
}

export type ConnectionState = 'connecting' | 'connected' | 'closed';

export interface StateStreamEvents {
  state: [state: ConnectionState];
  /** First update received on a new stream. */
  connected: [serverId: string];
  disconnected: [error: string];
  applied: [u: StateUpdate];
  rejected: [u: StateUpdate, error: string];
}

const noopLogger: ClientLogger = { info() {}, warn() {}, debug() {} };
/** The HTTP/2 receive window (stream and connection): room for a 10,000 x 10 snapshot with headroom. */
const SNAPSHOT_WINDOW = 32 * 1024 * 1024;

export class StateStreamClient extends EventEmitter<StateStreamEvents> {
  private readonly opts: StateStreamOptions;
  private readonly log: ClientLogger;
  private readonly targets: string[];
  private readonly creds: grpc.ChannelCredentials;
  private readonly channelOpts: grpc.ChannelOptions;
  private client: grpc.Client;
  private targetIndex = 0;
  private readonly agentId: string;
  private call: grpc.ClientDuplexStream<AgentMessageMsg, StateUpdate> | null = null;
  private stateValue: ConnectionState = 'connecting';
  private lastErrorValue = '';
  private serverIdValue = '';
  private lastAckedValue: number;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private closedFlag = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(opts: StateStreamOptions) {
    super();
    this.opts = opts;
    this.log = opts.logger ?? noopLogger;
    this.agentId = opts.agentId ?? `${opts.nodeName}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.lastAckedValue = opts.lastAppliedVersion ?? 0;
    this.targets = typeof opts.target === 'string' ? [opts.target] : [...opts.target];
    if (this.targets.length === 0) throw new Error('state stream: no control plane address');
    let creds = grpc.credentials.createInsecure();
    const channelOpts: grpc.ChannelOptions = {
      'grpc.keepalive_time_ms': opts.keepaliveTimeMs ?? 20_000,
      'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': 512 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': opts.backoffInitialMs ?? 200,
      'grpc.max_reconnect_backoff_ms': opts.backoffMaxMs ?? 10_000,
      // HTTP/2's default 64 KiB receive window makes the server wait for a WINDOW_UPDATE from this
      // process (a round trip through both event loops) every 64 KiB: ~130 of them for a 10,000 x 10
      // snapshot (~8 MB). A window as large as a snapshot lets it arrive in one go. No extra memory:
      // grpc-js holds a whole message before decoding it anyway, and the control plane has one
      // update in flight per agent (it waits for the ack).
      'grpc-node.flow_control_window': SNAPSHOT_WINDOW,
    };
    if (opts.tls) {
      creds = grpc.credentials.createSsl(fs.readFileSync(opts.tls.caFile), fs.readFileSync(opts.tls.keyFile), fs.readFileSync(opts.tls.certFile));
      if (opts.tls.serverName) channelOpts['grpc.ssl_target_name_override'] = opts.tls.serverName;
    }
    this.creds = creds;
    this.channelOpts = channelOpts;
    this.client = new grpc.Client(this.targets[0]!, creds, channelOpts);
    this.open();
  }

  get state(): ConnectionState { return this.stateValue; }
  get connected(): boolean { return this.stateValue === 'connected'; }
  get lastError(): string { return this.lastErrorValue; }
  get serverId(): string { return this.serverIdValue; }
  get lastAckedVersion(): number { return this.lastAckedValue; }
  /** The address currently dialled (or last connected). */
  get target(): string { return this.targets[this.targetIndex]!; }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const call = this.call;
    this.call = null;
    if (call) call.cancel();
    this.client.close();
    this.setState('closed');
  }

  private setState(s: ConnectionState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.emit('state', s);
  }

  /** Failover: a fresh channel to the next replica (grpc-js would keep retrying the lost one). */
  private nextTarget(): void {
    this.client.close();
    this.targetIndex = (this.targetIndex + 1) % this.targets.length;
    this.client = new grpc.Client(this.target, this.creds, this.channelOpts);
  }

  private open(): void {
    if (this.closedFlag) return;
    this.setState('connecting');
    const def = stateServiceDefinition.Stream;
    // Decoded straight into the plain form the agent applies (one object per message, not two), a
    // snapshot's services only as the agent iterates them.
    const call = this.client.makeBidiStreamRequest(def.path, def.requestSerialize, decodeAgentUpdate);
    this.call = call;
    let gotFirst = false;
    let ended = false;
    const onEnd = (why: string): void => {
      if (ended) return;
      ended = true;
      if (this.call === call) this.call = null;
      if (this.closedFlag) return;
      this.lastErrorValue = why;
      const wasConnected = this.stateValue === 'connected';
      this.setState('connecting');
      this.emit('disconnected', why);
      const base = this.opts.backoffInitialMs ?? 200;
      const max = this.opts.backoffMaxMs ?? 10_000;
      const delay = Math.min(max, base * 2 ** Math.floor(this.attempt / this.targets.length)) * (0.5 + Math.random() * 0.5);
      this.attempt++;
      const lost = this.target;
      if (this.targets.length > 1) this.nextTarget();
      (wasConnected ? this.log.warn : this.log.debug).call(this.log, { target: lost, ...(lost !== this.target ? { next: this.target } : {}), err: why, retryInMs: Math.round(delay) }, 'state stream lost; reconnecting');
      this.timer = setTimeout(() => { this.timer = null; this.open(); }, delay);
    };
    call.on('data', (u: StateUpdate) => {
      mark('agentReceived');
      if (!gotFirst) {
        gotFirst = true;
        this.attempt = 0;
        this.serverIdValue = u.serverId;
        this.lastErrorValue = '';
        this.setState('connected');
        this.log.info({ target: this.target, serverId: u.serverId, node: this.opts.nodeName }, 'state stream connected');
        this.emit('connected', u.serverId);
      }
      this.queue = this.queue.then(() => this.apply(call, u, () => ended));
    });
    call.on('error', (e: grpc.ServiceError) => onEnd(`${grpc.status[e.code] ?? e.code}: ${e.details || e.message}`));
    call.on('end', () => onEnd('stream ended by server'));
    call.write({ hello: { nodeName: this.opts.nodeName, lastAppliedVersion: this.lastAckedValue, agentId: this.agentId } });
  }

  private async apply(call: grpc.ClientDuplexStream<AgentMessageMsg, StateUpdate>, u: StateUpdate, isEnded: () => boolean): Promise<void> {
    let error: string | undefined;
    try {
      const r = await this.opts.onUpdate(u);
      if (typeof r === 'string') error = r || 'rejected';
    } catch (e) {
      error = (e as Error)?.message ?? String(e);
    }
    if (error === undefined) {
      this.lastAckedValue = u.version;
      this.emit('applied', u);
    } else {
      this.log.warn({ version: u.version, err: error }, 'update rejected (nack)');
      this.emit('rejected', u, error);
    }
    if (isEnded() || this.closedFlag) return;
    call.write({ ack: { version: u.version, nonce: u.nonce, ok: error === undefined, error: error ?? '' } });
  }
}

export function connectStateStream(opts: StateStreamOptions): StateStreamClient {
  return new StateStreamClient(opts);
}
