// The agent's stream client notices a control plane that went silent (no FIN, no RST: a dead host or
// a cut link) through keepalive pings, and reconnects with exponential backoff and jitter, starting
// again from the initial delay once a stream has delivered an update (docs/control-plane.md). A TCP
// relay between client and server plays the link: it can go silent or refuse connections.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { StateStore } from '../../controlplane/store.ts';
import { StateServer } from '../../controlplane/server.ts';
import { createMetrics } from '../../controlplane/metrics.ts';
import { connectStateStream } from '../../agent/stream-client.ts';

const log = pino({ level: 'silent' });
let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A TCP relay to `port`: "open" forwards, "silent" keeps connections but drops every byte,
 *  "refuse" closes each new connection at once. */
async function relay(port: number): Promise<{ port: number; mode: 'open' | 'silent' | 'refuse' }> {
  const r = { port: 0, mode: 'open' as 'open' | 'silent' | 'refuse' };
  const socks = new Set<net.Socket>();
  const server = net.createServer((a) => {
    if (r.mode === 'refuse') { a.destroy(); return; }
    const b = net.connect(port, '127.0.0.1');
    for (const [from, to] of [[a, b], [b, a]] as const) {
      socks.add(from);
      from.on('data', (d) => { if (r.mode === 'open') to.write(d); });
      from.on('error', () => to.destroy());
      from.on('close', () => { socks.delete(from); to.destroy(); });
    }
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  r.port = (server.address() as net.AddressInfo).port;
  cleanup.push(() => { for (const s of socks) s.destroy(); server.close(); });
  return r;
}

describe('state stream client', () => {
  it('detects a silent control plane by keepalive, then reconnects with doubling, jittered delays', async () => {
    const store = new StateStore();
    store.markSynced();
    const server = new StateServer({ store, logger: log, metrics: createMetrics(store) });
    const port = await server.listen('127.0.0.1:0', { insecure: true }); // the relay below plays a TCP link
    cleanup.push(() => server.close());
    const link = await relay(port);
    const BASE = 100, MAX = 1600;
    const events: Array<[string, number]> = [];
    const client = connectStateStream({
      target: `127.0.0.1:${link.port}`, nodeName: 'n1', keepaliveTimeMs: 500, keepaliveTimeoutMs: 500,
      backoffInitialMs: BASE, backoffMaxMs: MAX, onUpdate: async () => undefined,
    });
    cleanup.push(() => client.close());
    client.on('connected', () => events.push(['connected', performance.now()]));
    client.on('disconnected', () => events.push(['disconnected', performance.now()]));
    await waitFor(() => client.connected, 10_000, 'the first snapshot');

    // The link goes silent: nothing says the peer is gone, only unanswered pings can.
    link.mode = 'silent';
    const t0 = performance.now();
    await waitFor(() => events.some(([e]) => e === 'disconnected'), 10_000, 'the dead peer to be noticed');
    const noticedMs = performance.now() - t0;
    // One ping interval (0.5 s) plus its timeout (0.5 s), and scheduling slack on a loaded machine.
    expect(noticedMs).toBeLessThan(4000);

    // Now every attempt is refused at once: the gaps between attempts are the backoff delays,
    // BASE x 2^n (capped at MAX) times a jitter factor in [0.5, 1].
    link.mode = 'refuse';
    const from = events.length;
    await waitFor(() => events.length - from >= 7, 20_000, 'seven failed attempts');
    const at = events.slice(from).map(([, t]) => t);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    gaps.forEach((g, i) => {
      const d = Math.min(MAX, BASE * 2 ** (i + 1));
      expect(g, `gap ${i}: ${gaps.map(Math.round).join(', ')} ms`).toBeGreaterThanOrEqual(0.5 * d - 5);
      expect(g, `gap ${i}: ${gaps.map(Math.round).join(', ')} ms`).toBeLessThan(d + 1000);
    });

    // Back: the client reconnects, and after a delivered update starts again from BASE.
    link.mode = 'open';
    await waitFor(() => client.connected, 10_000, 'reconnection');
    const again = events.length;
    link.mode = 'silent';
    await waitFor(() => events.length - again >= 1, 10_000, 'the next loss');
    link.mode = 'refuse';
    await waitFor(() => events.length - again >= 2, 10_000, 'the first retry');
    // The loss, then the first refused retry: its delay is BASE x [0.5, 1] after a reset, at least
    // MAX / 2 = 800 ms without one.
    expect(events.slice(again).map(([e]) => e)).toEqual(['disconnected', 'disconnected']);
    const first = events[again + 1]![1] - events[again]![1];
    expect(first, 'first retry after a delivered update').toBeLessThan(600);
  }, 60_000);
});
