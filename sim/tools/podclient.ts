// A client pod's driver in the simulated cluster. Reads one JSON command per stdin line and
// writes one JSON result per stdout line, so one process serves a whole test or demo.
//   {"op":"burst","target":"10.96.0.10:80","proto":"tcp","count":3000,"concurrency":8,"timeoutMs":2000}
//     -> {"ok":n,"failed":n,"counts":{"pod":n},"errors":{"ECONNREFUSED":n},"ms":[...per attempt...]}
//     with "durationMs":D, it keeps going until D ms have passed (count is then a cap);
//     with "byPort":true, counts are keyed "pod:serverport", with "byClient":true "pod client-ip"
//     (the source address the server saw); with "srcPort":P, attempt i binds
//     local port P+i and "flows" maps each local port to the pod that answered;
//     "slow" lists the first 100 attempts that took slowMs (default 1000) or longer, with when they
//     started (epoch ms): a dropped SYN costs the 1 s initial retransmission timeout, so these are
//     the attempts that lost a packet
//   {"op":"echo","target":"...","proto":"tcp","bytes":1048576} -> {"pod":"...","intact":true}
//     UDP with "tries":n: sent again after each timeout or socket error, -> also {"sent":n,"errors":{...}}
//   {"op":"udpSendOnce","target":"..."} -> {"port":n}   (one datagram from a socket closed right after)
//   {"op":"udpAnswerLate","port":5400,"delayMs":300,"timeoutMs":5000} -> {"listening":5400}, then in the
//     background answers the first datagram late on a socket connected to its sender;
//   {"op":"udpLateResult"} -> {"from":"ip:port","socketError":"ECONNREFUSED"|null}  the error that socket got
//   {"op":"open","target":"...","n":20} -> {"pods":["..."]}   (long-lived echo connections)
//   {"op":"ping"} -> {"ok":n,"failed":n}                     (a round trip on each open one)
//   {"op":"closeAll"} -> {"closed":n}
//   {"op":"peer","target":"...","proto":"tcp"} -> {"peer":"ip:port"|"[ip6]:port","pod":"..."}  (getpeername() of a
//     connected socket, then who answered)
//   {"op":"udpFrom","target":"..."} -> {"from":"ip:port","pod":"..."}  (unconnected UDP: the reply's source)
//   {"op":"udpStream","target":"...","connected":true,"everyMs":100,"durationMs":3000}
//     -> {"replies":[[ms since start, pod]...],"errors":{"ECONNABORTED":n},"sent":n,"startedAt":epoch ms}  one socket sending
//     "who" every everyMs; a connected one is replaced (connect() again) after an error, as a DNS
//     client re-resolves
//   {"op":"tcpStream","target":"...","everyMs":100,"durationMs":3000}
//     -> {"replies":[[ms since start, pod]...],"errors":{"ECONNABORTED":n},"failures":[[ms, code]...],"sent":n,"startedAt":epoch ms}
//     one long-lived TCP echo connection sending a line every everyMs; after an error or a close it
//     connects again (as an application with a connection pool would), each reply naming its pod
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import { formatAddrPort } from '../../common/ip.ts';

type Cmd = { op: string; tries?: number; port?: number; delayMs?: number; slowMs?: number; target?: string; proto?: 'tcp' | 'udp'; count?: number; concurrency?: number; timeoutMs?: number; bytes?: number; n?: number; byPort?: boolean; byClient?: boolean; srcPort?: number; durationMs?: number; family?: 4 | 6 };

/** "host:port" or "[v6]:port" -> [host, port]. */
function split(target: string): [string, number] {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i);
  return [host.startsWith('[') ? host.slice(1, -1) : host, Number(target.slice(i + 1))];
}

/** A UDP socket of @host's family. */
function udpFor(host: string): dgram.Socket {
  return dgram.createSocket(net.isIP(host) === 6 ? 'udp6' : 'udp4');
}

/** The host of an "ip:port" / "[ip]:port" word. */
function hostOf(addrPort: string): string {
  return split(addrPort)[0];
}

/** The answer line's words: [pod, client ip:port, server port]. */
function tcpWho(host: string, port: number, timeoutMs: number, localPort?: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, localPort });
    let data = '';
    const timer = setTimeout(() => { sock.destroy(); reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })); }, timeoutMs);
    sock.on('connect', () => sock.write('who\n'));
    sock.on('data', (d) => (data += d));
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { clearTimeout(timer); data ? resolve(data.trim().split(' ')) : reject(Object.assign(new Error('empty'), { code: 'EMPTY' })); });
  });
}

function udpWho(host: string, port: number, timeoutMs: number, localPort?: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = udpFor(host);
    const timer = setTimeout(() => { sock.close(); reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })); }, timeoutMs);
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m.toString().trim().split(' ')); });
    // An ICMP unreachable surfaces as an error on a connected socket.
    sock.on('error', (e) => { clearTimeout(timer); sock.close(); reject(e); });
    const go = () => sock.connect(port, host, () => sock.send('who\n'));
    if (localPort) sock.bind(localPort, go); else go();
  });
}

async function burst(c: Cmd) {
  const [host, port] = split(c.target!);
  const until = c.durationMs ? Date.now() + c.durationMs : Infinity;
  const count = c.count ?? (c.durationMs ? 1e9 : 1), conc = c.concurrency ?? 1, timeoutMs = c.timeoutMs ?? 3000;
  const counts: Record<string, number> = {}, errors: Record<string, number> = {};
  const ms: number[] = [];
  const flows: Record<number, string> = {};
  const failures: Array<{ code: string; at: number; ms: number }> = [];
  const slow: Array<{ at: number; ms: number }> = [];
  const slowMs = c.slowMs ?? 1000;
  const start = Date.now();
  let ok = 0, failed = 0, next = 0;
  const worker = async () => {
    while (next < count && Date.now() < until) {
      const src = c.srcPort ? c.srcPort + next : undefined;
      next++;
      const t0 = performance.now(), wall = Date.now();
      try {
        const words = await (c.proto === 'udp' ? udpWho(host, port, timeoutMs, src) : tcpWho(host, port, timeoutMs, src));
        const key = c.byPort ? `${words[0]}:${words[2]}` : c.byClient ? `${words[0]} ${hostOf(words[1]!)}` : words[0]!;
        counts[key] = (counts[key] ?? 0) + 1;
        if (src) flows[src] = words[0]!;
        ok++;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'ERROR';
        errors[code] = (errors[code] ?? 0) + 1;
        failed++;
        if (failures.length < 100) failures.push({ code, at: wall, ms: Math.round(performance.now() - t0) });
      }
      const took = Math.round((performance.now() - t0) * 100) / 100;
      ms.push(took);
      if (took >= slowMs && slow.length < 100) slow.push({ at: wall, ms: Math.round(took) });
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  return { ok, failed, counts, errors, ms, failures, slow, startedAt: start, ...(c.srcPort ? { flows } : {}) };
}

async function echo(c: Cmd) {
  const [host, port] = split(c.target!);
  const payload = crypto.randomBytes(c.bytes ?? 65536);
  if (c.proto === 'udp') {
    // One connected socket; with "tries", the datagram is sent again after each timeout or socket
    // error (an ICMP error: EMSGSIZE after "fragmentation needed" makes the next send fragment).
    const tries = c.tries ?? 1;
    return new Promise((resolve, reject) => {
      const sock = udpFor(host);
      const errors: Record<string, number> = {};
      const datagram = Buffer.concat([Buffer.from('ECHO\n'), payload]);
      let sent = 0, timer: NodeJS.Timeout | undefined, done = false;
      const finish = (f: () => void) => { if (done) return; done = true; clearTimeout(timer); sock.close(); f(); };
      const attempt = () => {
        clearTimeout(timer);
        if (sent++ === tries) return finish(() => reject(new Error(`udp echo timeout after ${tries} tries, errors ${JSON.stringify(errors)}`)));
        sock.send(datagram, (e) => { if (e) sock.emit('error', e); });
        timer = setTimeout(attempt, c.timeoutMs ?? 3000);
      };
      sock.on('message', (m) => finish(() => {
        const nl = m.indexOf(10);
        resolve({ pod: m.subarray(0, nl).toString(), intact: m.subarray(nl + 1).equals(payload), ...(c.tries ? { sent, errors } : {}) });
      }));
      sock.on('error', (e) => {
        const code = (e as NodeJS.ErrnoException).code ?? 'ERROR';
        errors[code] = (errors[code] ?? 0) + 1;
        if (!done) attempt();
      });
      sock.connect(port, host, attempt);
    });
  }
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('tcp echo timeout')); }, c.timeoutMs ?? 20000);
    sock.on('connect', () => { sock.write('ECHO\n'); sock.write(payload); });
    sock.on('data', (d) => {
      chunks.push(d); got += d.length;
      const all = Buffer.concat(chunks);
      const nl = all.indexOf(10);
      if (nl >= 0 && all.length - nl - 1 >= payload.length) {
        clearTimeout(timer); sock.destroy();
        resolve({ pod: all.subarray(0, nl).toString(), intact: all.subarray(nl + 1).equals(payload) });
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

const held: Array<{ sock: net.Socket; pod: string; buf: string }> = [];

async function open(c: Cmd) {
  const [host, port] = split(c.target!);
  const pods: string[] = [];
  for (let i = 0; i < (c.n ?? 1); i++) {
    const sock = net.connect({ host, port });
    const entry = { sock, pod: '', buf: '' };
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.on('connect', () => sock.write('ECHO\n'));
      const onData = (d: Buffer) => {
        entry.buf += d.toString();
        const nl = entry.buf.indexOf('\n');
        if (nl >= 0) { entry.pod = entry.buf.slice(0, nl); entry.buf = entry.buf.slice(nl + 1); sock.off('data', onData); resolve(); }
      };
      sock.on('data', onData);
    });
    sock.on('error', () => {});
    held.push(entry);
    pods.push(entry.pod);
  }
  return { pods };
}

async function ping(c: Cmd) {
  let ok = 0, failed = 0;
  const byPod: Record<string, { ok: number; failed: number }> = {};
  await Promise.all(held.map(async (h, i) => {
    const token = `ping-${i}-${Date.now()}\n`;
    const good = await new Promise<boolean>((resolve) => {
      let got = '';
      const timer = setTimeout(() => { h.sock.off('data', onData); resolve(false); }, c.timeoutMs ?? 3000);
      const onData = (d: Buffer) => { got += d; if (got.includes(token)) { clearTimeout(timer); h.sock.off('data', onData); resolve(true); } };
      h.sock.on('data', onData);
      if (h.sock.destroyed || !h.sock.write(token)) { if (h.sock.destroyed) { clearTimeout(timer); resolve(false); } }
    });
    const p = (byPod[h.pod] ??= { ok: 0, failed: 0 });
    if (good) { ok++; p.ok++; } else { failed++; p.failed++; }
  }));
  return { ok, failed, byPod };
}

/** Resolve with the first line the socket at `sock` receives. */
function firstLine(sock: net.Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('timeout')); }, timeoutMs);
    sock.on('data', (d) => { data += d; if (data.includes('\n')) { clearTimeout(timer); sock.destroy(); resolve(data.trim()); } });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

async function peer(c: Cmd) {
  const [host, port] = split(c.target!);
  const timeoutMs = c.timeoutMs ?? 3000;
  if (c.proto === 'udp') {
    const sock = udpFor(host);
    try {
      await new Promise<void>((resolve) => sock.connect(port, host, resolve));
      const r = sock.remoteAddress();
      const answer = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
        sock.once('message', (m) => { clearTimeout(timer); resolve(m.toString().trim()); });
      });
      sock.send('who\n');
      return { peer: formatAddrPort(r.address, r.port), pod: (await answer).split(' ')[0] };
    } finally {
      sock.close();
    }
  }
  const sock = net.connect({ host, port });
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  const who = formatAddrPort(sock.remoteAddress!, sock.remotePort!);
  sock.write('who\n');
  return { peer: who, pod: (await firstLine(sock, timeoutMs)).split(' ')[0] };
}

async function udpFrom(c: Cmd) {
  const [host, port] = split(c.target!);
  const sock = udpFor(host);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timeout')), c.timeoutMs ?? 3000);
      sock.once('message', (m, rinfo) => { clearTimeout(timer); resolve({ from: formatAddrPort(rinfo.address, rinfo.port), pod: m.toString().split(' ')[0] }); });
      sock.once('error', (e) => { clearTimeout(timer); reject(e); });
      sock.send('who\n', port, host);
    });
  } finally {
    sock.close();
  }
}

async function udpStream(c: Cmd & { connected?: boolean; everyMs?: number }) {
  const [host, port] = split(c.target!);
  const start = Date.now();
  const replies: Array<[number, string]> = [];
  const errors: Record<string, number> = {};
  let sent = 0;
  let sock: dgram.Socket | undefined;
  let ready = false;
  const open = () => {
    const s = udpFor(host);
    sock = s;
    ready = !c.connected;
    s.on('message', (m) => replies.push([Date.now() - start, m.toString().split(' ')[0]!]));
    s.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code ?? 'ERROR';
      errors[code] = (errors[code] ?? 0) + 1;
      if (c.connected && sock === s) { s.close(); open(); }
    });
    if (c.connected) s.connect(port, host, () => { ready = true; });
  };
  open();
  while (Date.now() - start < (c.durationMs ?? 3000)) {
    if (ready) {
      sent++;
      const s = sock!;
      const onSent = (e: Error | null) => { if (e) s.emit('error', e); };
      if (c.connected) s.send('who\n', onSent); else s.send('who\n', port, host, onSent);
    }
    await new Promise((r) => setTimeout(r, c.everyMs ?? 100));
  }
  await new Promise((r) => setTimeout(r, 200));
  sock!.close();
  return { replies, errors, sent, startedAt: start };
}

async function tcpStream(c: Cmd & { everyMs?: number }) {
  const [host, port] = split(c.target!);
  const start = Date.now();
  const replies: Array<[number, string]> = [];
  const errors: Record<string, number> = {};
  const failures: Array<[number, string]> = [];
  let sent = 0;
  let conn: { sock: net.Socket; pod: string; ready: boolean } | undefined;
  const open = () => {
    const sock = net.connect({ host, port });
    const me = { sock, pod: '', ready: false };
    conn = me;
    let buf = '';
    let failed = false;
    const fail = (code: string) => {
      if (failed || conn !== me) return;
      failed = true;
      errors[code] = (errors[code] ?? 0) + 1;
      failures.push([Date.now() - start, code]);
      sock.destroy();
      if (Date.now() - start < (c.durationMs ?? 3000)) open();
    };
    sock.on('connect', () => sock.write('ECHO\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!me.ready) { me.pod = line; me.ready = true; } else replies.push([Date.now() - start, me.pod]);
      }
    });
    sock.on('error', (e) => fail((e as NodeJS.ErrnoException).code ?? 'ERROR'));
    sock.on('close', () => fail('CLOSED'));
  };
  open();
  while (Date.now() - start < (c.durationMs ?? 3000)) {
    if (conn?.ready && !conn.sock.destroyed) { sent++; conn.sock.write(`${sent}\n`); }
    await new Promise((r) => setTimeout(r, c.everyMs ?? 100));
  }
  await new Promise((r) => setTimeout(r, 200));
  const last = conn;
  conn = undefined; // its close is ours, not a failure
  last?.sock.destroy();
  return { replies, errors, failures, sent, startedAt: start };
}

/** One datagram from a fresh socket, which is closed at once: its port is closed when an answer comes. */
async function udpSendOnce(c: Cmd) {
  const [host, port] = split(c.target!);
  const sock = udpFor(host);
  await new Promise<void>((resolve, reject) => sock.send('who\n', port, host, (e) => (e ? reject(e) : resolve())));
  const local = sock.address().port;
  sock.close();
  return { port: local };
}

/**
 * A server that answers late: binds `port` (answering {listening}), then in the background waits
 * for one datagram, connects its socket to the sender, answers after delayMs, and keeps the error
 * the socket then gets (null: none within timeoutMs) for udpLateResult.
 */
let late: Promise<{ from: string; socketError: string | null }> | undefined;
async function udpAnswerLate(c: Cmd) {
  const sock = dgram.createSocket(c.family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => sock.bind(c.port!, c.family === 6 ? '::' : '0.0.0.0', resolve));
  late = new Promise<{ from: string; socketError: string | null }>((resolve) => {
    let from = '';
    const end = (socketError: string | null) => { clearTimeout(timer); sock.close(); resolve({ from, socketError }); };
    const timer = setTimeout(() => end(null), c.timeoutMs ?? 5000);
    sock.on('error', (e) => end((e as NodeJS.ErrnoException).code ?? String(e)));
    sock.once('message', (_m, rinfo) => {
      from = formatAddrPort(rinfo.address, rinfo.port);
      sock.connect(rinfo.port, rinfo.address, () => {
        setTimeout(() => sock.send('late\n', (e) => { if (e) sock.emit('error', e); }), c.delayMs ?? 300);
      });
    });
  });
  return { listening: c.port };
}

const ops: Record<string, (c: Cmd) => Promise<unknown>> = {
  burst, echo, open, ping, peer, tcpStream, udpFrom, udpStream, udpSendOnce, udpAnswerLate,
  udpLateResult: async () => { if (!late) throw new Error('no udpAnswerLate running'); return late; },
  closeAll: async () => { const n = held.length; for (const h of held.splice(0)) h.sock.destroy(); return { closed: n }; },
};

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    let out: unknown;
    try {
      const c = JSON.parse(line) as Cmd;
      const op = ops[c.op];
      out = op ? await op(c) : { error: `unknown op ${c.op}` };
    } catch (e) {
      out = { error: String((e as Error).message ?? e) };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  });
});
rl.on('close', () => chain.then(() => process.exit(0)));
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
