// A slow agent never makes the server buffer without bound: while one update is unacknowledged,
// changes coalesce into a pending set of service keys, and the update after the ack carries the
// newest state. Also: nack handling (logged/counted, no resend loop, retried with the next change).
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { StateStore } from '../../controlplane/store.ts';
import { StateServer, privateSocketAddress } from '../../controlplane/server.ts';
import { createMetrics } from '../../controlplane/metrics.ts';
import { connectStateStream, type StateStreamClient, type StateUpdate } from '../../agent/stream-client.ts';
import type { KubeEndpointSlice, KubeService } from '../../controlplane/model.ts';
import { pb } from '../../proto/contract.ts';

const log = pino({ level: 'silent' });

function service(i: number): KubeService {
  return { metadata: { name: `s${i}`, namespace: 'default' }, spec: { clusterIP: `10.96.${i >> 8}.${i & 255}`, ports: [{ port: 80 }] } };
}
function sliceFor(i: number, gen: number): KubeEndpointSlice {
  return {
    metadata: { name: `s${i}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': `s${i}` } },
    addressType: 'IPv4', ports: [{ port: 8080 }],
    endpoints: [{ addresses: [`10.244.${gen >> 8}.${gen & 255}`], nodeName: 'n1' }],
  };
}
async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function setup(n: number, snapshotWriteWaitMs?: number): Promise<{ store: StateStore; server: StateServer; target: string; metrics: ReturnType<typeof createMetrics> }> {
  const store = new StateStore();
  for (let i = 0; i < n; i++) { store.upsertService(service(i)); store.upsertSlice(sliceFor(i, 1)); }
  store.markSynced();
  const metrics = createMetrics(store);
  const server = new StateServer({ store, logger: log, metrics, snapshotWriteWaitMs });
  const target = privateSocketAddress();
  await server.listen(target);
  cleanup.push(() => server.close());
  return { store, server, target, metrics };
}

/**
 * A "nothing resent" window that times something: it lasts RESEND_WINDOW_MS — longer than any
 * retry delay a server would plausibly use (the client's own reconnect backoff starts at 200 ms) —
 * and within it a second agent connects and gets its snapshot, so the server demonstrably ran its
 * send loop meanwhile. Resolves with how many more updates `count` saw in the window.
 */
const RESEND_WINDOW_MS = 2000;
async function sentDuringWindow(target: string, count: () => number): Promise<number> {
  const before = count(), t0 = performance.now();
  let witnessGot = 0;
  const witness = connectStateStream({ target, nodeName: 'witness', onUpdate: async () => { witnessGot++; } });
  try {
    await waitFor(() => witnessGot > 0);
    while (performance.now() - t0 < RESEND_WINDOW_MS) await new Promise((r) => setTimeout(r, RESEND_WINDOW_MS + 1 - (performance.now() - t0)));
    return count() - before;
  } finally {
    witness.close();
  }
}

describe('coalescing and acks', () => {
  it('a never-acking agent keeps bounded pending state; the update after the ack is the newest state', async () => {
    const N = 50;
    const { store, server, target, metrics } = await setup(N);
    const updates: StateUpdate[] = [];
    let release: (() => void) | null = null;
    let hold = true;
    const client: StateStreamClient = connectStateStream({
      target, nodeName: 'n1',
      onUpdate: (u) => {
        updates.push(u);
        if (!hold) return Promise.resolve();
        return new Promise<void>((r) => { release = r; });
      },
    });
    cleanup.push(async () => client.close());
    await waitFor(() => updates.length === 1);
    expect(updates[0]!.snapshot).toBe(true);
    expect(updates[0]!.upserts).toHaveLength(N);

    // 5,000 changes (100 generations of every slice) while the snapshot is unacknowledged.
    for (let gen = 2; gen <= 101; gen++) {
      for (let i = 0; i < N; i++) store.upsertSlice(sliceFor(i, gen));
      store.flush();
      const a = server.agents()[0]!;
      expect(a.inflight).toBe(true);
      expect(a.pending).toBeLessThanOrEqual(N); // bounded by the number of services, not events
    }
    store.deleteService('default/s0');
    store.flush();
    expect(server.agents()[0]!.pending).toBeLessThanOrEqual(N);
    expect(await sentDuringWindow(target, () => updates.length)).toBe(0); // nothing else while one update is in flight
    expect(updates).toHaveLength(1);

    hold = false;
    release!();
    await waitFor(() => updates.length === 2);
    const d = updates[1]!;
    expect(d.snapshot).toBe(false);
    expect(d.version).toBeGreaterThan(updates[0]!.version);
    expect(d.removals).toEqual(['default/s0']);
    expect(d.upserts).toHaveLength(N - 1);
    for (const s of d.upserts) expect(s.ports[0]!.endpoints.map((e) => e.ip)).toEqual(['10.244.0.101']);
    await waitFor(() => server.agents()[0]?.lastAckedVersion === d.version);
    expect(await sentDuringWindow(target, () => updates.length)).toBe(0); // acked: nothing to resend
    // Snapshots: this agent's one and the two windows' witnesses'.
    expect(await metrics.updatesSent.get()).toMatchObject({ values: expect.arrayContaining([expect.objectContaining({ labels: { kind: 'snapshot' }, value: 3 }), expect.objectContaining({ labels: { kind: 'delta' }, value: 1 })]) });
  }, 60_000);

  it('a nack is counted, not resent on its own, and its services are retried with the next change', async () => {
    const { store, server, target, metrics } = await setup(3);
    const updates: StateUpdate[] = [];
    let nackNext = false;
    const client = connectStateStream({
      target, nodeName: 'n1',
      onUpdate: async (u) => {
        updates.push(u);
        if (nackNext) { nackNext = false; return 'cannot apply'; }
      },
    });
    cleanup.push(async () => client.close());
    await waitFor(() => updates.length === 1 && server.agents()[0]?.inflight === false);
    nackNext = true;
    store.upsertSlice(sliceFor(1, 7));
    await waitFor(() => updates.length === 2);
    await waitFor(() => server.agents()[0]?.inflight === false);
    expect((await metrics.nacks.get()).values[0]!.value).toBe(1);
    expect(await sentDuringWindow(target, () => updates.length)).toBe(0); // no resend loop
    expect(updates).toHaveLength(2);
    expect(client.lastAckedVersion).toBe(updates[0]!.version);

    store.upsertSlice(sliceFor(2, 8)); // a newer change: carries s2 and the retried s1
    await waitFor(() => updates.length === 3);
    const keys = [...updates[2]!.upserts].map((s) => s.name).sort();
    expect(keys).toEqual(['s1', 's2']);
    await waitFor(() => client.lastAckedVersion === updates[2]!.version);
    expect((await metrics.acks.get()).values[0]!.value).toBe(3); // 2 of this agent's, 1 of the window's witness
  }, 60_000);
});

describe('large snapshots', () => {
  it('delivers a snapshot over 4 MiB (gRPC\'s default message limit) whole, in one update', async () => {
    // 16,000 services with 10 endpoints each: over 4 MiB as protobuf.
    const N = 16000;
    const store = new StateStore();
    for (let i = 0; i < N; i++) {
      store.upsertService(service(i));
      store.upsertSlice({
        ...sliceFor(i, 1),
        endpoints: Array.from({ length: 10 }, (_, e) => ({ addresses: [`10.${128 + (i >> 12)}.${(i >> 4) & 255}.${((i & 15) << 4) | e}`], nodeName: 'n1' })),
      });
    }
    store.markSynced();
    const server = new StateServer({ store, logger: log, metrics: createMetrics(store) });
    const target = privateSocketAddress();
    await server.listen(target);
    cleanup.push(() => server.close());
    const updates: StateUpdate[] = [];
    const client = connectStateStream({ target, nodeName: 'n1', onUpdate: async (u) => { updates.push(u); } });
    cleanup.push(async () => client.close());
    await waitFor(() => updates.length > 0, 60_000);
    const u = updates[0]!;
    expect(u.snapshot).toBe(true);
    expect(u.upserts).toHaveLength(N);
    expect([...u.upserts].every((s) => s.ports[0]!.endpoints.length === 10)).toBe(true);
    const bytes = pb.StateUpdate.encode({ version: u.version, snapshot: true, upserts: [...u.upserts] }).finish().length;
    expect(bytes).toBeGreaterThan(4 << 20);
  }, 120_000);
});

/**
 * An agent that says Hello and then reads nothing: HTTP/2 flow control stops the server's write of
 * its snapshot after the first window (64 KiB). Returns a function that closes its stream.
 */
function stuckAgent(target: string, node: string): () => void {
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(target.slice('unix:'.length)) });
  session.on('error', () => { /* closed by the test */ });
  const req = session.request({ ':method': 'POST', ':path': '/sluice.v1.StateService/Stream', 'content-type': 'application/grpc', te: 'trailers' });
  req.on('error', () => { /* closed by the test */ });
  req.pause();
  const hello = pb.AgentMessage.encode({ hello: { nodeName: node, agentId: `${node}-1` } }).finish();
  const head = Buffer.alloc(5);
  head.writeUInt32BE(hello.length, 1);
  req.write(Buffer.concat([head, hello]));
  return () => { req.close(); session.close(); };
}

describe('snapshots written one at a time', () => {
  // Each snapshot is one buffer of the whole state: agents connecting together are served one after
  // another, so only one is held at a time (docs/benchmarks.md, "Control plane memory").
  it('the next agent\'s snapshot waits for the one being written; an agent that reads nothing holds it back only until its stream ends or the wait runs out', async () => {
    const N = 3000; // a snapshot well over HTTP/2's initial 64 KiB window
    const { server, target } = await setup(N, 60_000);
    const close = stuckAgent(target, 'stuck');
    cleanup.push(async () => close());
    await waitFor(() => server.agents().some((a) => a.node === 'stuck' && a.inflight));
    let got: StateUpdate | undefined;
    const c = connectStateStream({ target, nodeName: 'n2', onUpdate: async (u) => { got ??= u; } });
    cleanup.push(async () => c.close());
    await waitFor(() => server.agents().some((a) => a.node === 'n2'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(got).toBeUndefined(); // held back: the stuck agent's snapshot is still being written
    expect(server.agents().find((a) => a.node === 'n2')!.inflight).toBe(false);
    close(); // its stream ends: the next snapshot goes at once
    await waitFor(() => got !== undefined, 10_000);
    expect(got!.snapshot).toBe(true);
    expect(got!.upserts).toHaveLength(N);

    // With a short wait, an agent that reads nothing delays the next one by about that wait.
    const short = await setup(N, 300);
    const close2 = stuckAgent(short.target, 'stuck');
    cleanup.push(async () => close2());
    await waitFor(() => short.server.agents().some((a) => a.node === 'stuck' && a.inflight));
    let got2: StateUpdate | undefined;
    const c2 = connectStateStream({ target: short.target, nodeName: 'n3', onUpdate: async (u) => { got2 ??= u; } });
    cleanup.push(async () => c2.close());
    await waitFor(() => got2 !== undefined, 10_000);
    expect(got2!.upserts).toHaveLength(N);
    expect(short.server.agents().find((a) => a.node === 'stuck')!.inflight).toBe(true); // still unacknowledged, not resent
  }, 60_000);
});
