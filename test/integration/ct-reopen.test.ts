// A new connection on the tuple of a closed one (port reuse) reopens that flow's conntrack pair in
// place when it is balanced to the same backend (ct_reopen_pair(), docs/datapath.md), and inserts
// a new pair otherwise. The real sl_from_pod / sl_to_pod, loaded by the agent's Datapath into pins
// of a node of this test's own (no program attached, nothing routed), are given hand-built frames by
// BPF_PROG_TEST_RUN against the live maps.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progTestRun } from '../../agent/bpf/libbpf.ts';
import * as L from '../../agent/bpf/layout.ts';
import { Datapath, DEFAULT_PIN_ROOT, pinDir } from '../../agent/datapath.ts';
import { Reconciler } from '../../agent/reconciler.ts';
import { toService, type ServiceJson } from '../../proto/contract.ts';
import { ipBytes } from '../../common/ip.ts';
import { tcp6Frame, tcpFrame } from '../../bench/lib/frames.ts';

const node = `sluice-ctreopen-${process.pid}`;
const VIP = '10.96.0.10', CLIENT = '10.244.1.10', BACKENDS = ['10.244.1.2', '10.244.1.3', '10.244.1.4'];
const VIP6 = 'fd00:10:96::10', CLIENT6 = 'fd00:10:244:1::10', BACKENDS6 = ['fd00:10:244:1::2', 'fd00:10:244:1::3', 'fd00:10:244:1::4'];
const SYN = 0x02, ACK = 0x10, FIN = 0x01;
const TC_ACT_OK = 0;
let dp: Datapath;

const service = (ips: string[], vip = VIP, name = 'web'): ServiceJson => ({
  namespace: 'default', name, clusterIps: [vip],
  ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: ips.map((ip) => ({ ip, port: 8080, ready: true })) }],
});

beforeAll(() => {
  dp = Datapath.open({ node, sizes: { services: 64, backends: 64, maglev: 4096, ct: 1024, affinity: 64 } });
  const st = new Reconciler(dp, { node, nodeIps: ['192.168.0.1'] }).applySnapshot([toService(service(BACKENDS)), toService(service(BACKENDS6, VIP6, 'web6'))]);
  expect(st.errors).toEqual([]);
});

afterAll(() => {
  dp?.close();
  fs.rmSync(pinDir(node), { recursive: true, force: true });
  expect(fs.existsSync(path.join(DEFAULT_PIN_ROOT, node))).toBe(false);
});

const from = (frame: Buffer) => progTestRun(dp.programs.fromPod, frame, 1);
const to = (frame: Buffer) => progTestRun(dp.programs.toPod, frame, 1);
const dst = (out: Buffer) => [...out.subarray(30, 34)].join('.');
const src = (out: Buffer) => [...out.subarray(26, 30)].join('.');
const ctGet = (saddr: string, sport: number, daddr: string, dport: number, dir: number) => {
  const v = dp.maps.sl_ct.lookup(L.ctKey.encode({ saddr, daddr, sport, dport, proto: L.IPPROTO.TCP, dir, pad: 0 }));
  return v && L.ctEntry.decode(v);
};
const service4 = (sport: number) => ctGet(CLIENT, sport, VIP, 80, L.SL_CT_DIR_SERVICE);
const reply4 = (be: string, sport: number) => ctGet(be, 8080, CLIENT, sport, L.SL_CT_DIR_REPLY);
const hex6 = (a: string) => ipBytes(a).toString('hex');
const dst6 = (out: Buffer) => out.subarray(38, 54).toString('hex');
const src6 = (out: Buffer) => out.subarray(22, 38).toString('hex');
const ct6Get = (saddr: string, sport: number, daddr: string, dport: number, dir: number) => {
  const v = dp.maps.sl_ct6!.lookup(L.ct6Key.encode({ saddr, daddr, sport, dport, proto: L.IPPROTO.TCP, dir, pad: 0 }));
  return v && L.ct6Entry.decode(v);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One whole connection from CLIENT:@sport through the VIP: SYN, SYN-ACK, FIN both ways. Returns its backend. */
function connection(sport: number): string {
  const syn = from(tcpFrame(CLIENT, sport, VIP, 80, SYN));
  expect(syn.retval).toBe(TC_ACT_OK);
  const be = dst(syn.out);
  expect(BACKENDS).toContain(be);
  const synAck = to(tcpFrame(be, 8080, CLIENT, sport, SYN | ACK));
  expect(src(synAck.out), 'the SYN-ACK gets the service address back').toBe(VIP);
  expect(dst(from(tcpFrame(CLIENT, sport, VIP, 80, FIN | ACK)).out)).toBe(be);
  expect(src(to(tcpFrame(be, 8080, CLIENT, sport, FIN | ACK)).out)).toBe(VIP);
  return be;
}

describe('conntrack reopen on port reuse', () => {
  it('reuses a closed flow\'s pair in place for a new connection to the same backend', async () => {
    const sport = 41000;
    const be = connection(sport);
    const closedFwd = service4(sport)!, closedRev = reply4(be, sport)!;
    expect(closedFwd.flags & L.SL_CT_F_CLOSING).toBeTruthy();
    expect(closedFwd.flags & L.SL_CT_F_REPLIED).toBeTruthy();
    expect(closedRev.flags & L.SL_CT_F_CLOSING).toBeTruthy();
    const entries = dp.maps.sl_ct.count();
    await sleep(30); // past a tick of the coarse clock, so the new flow's times differ

    // The same tuple again: Maglev's slot for it names the same backend.
    const syn = from(tcpFrame(CLIENT, sport, VIP, 80, SYN));
    expect(dst(syn.out)).toBe(be);
    const fwd = service4(sport)!, rev = reply4(be, sport)!;
    expect(dp.maps.sl_ct.count(), 'no entry added or removed').toBe(entries);
    for (const [e, closed, what] of [[fwd, closedFwd, 'SERVICE'], [rev, closedRev, 'REPLY']] as const) {
      expect(e.flags, `${what}: a new flow, neither closing nor answered yet`).toBe(0);
      expect(e.created_ns > closed.created_ns, `${what}: created anew`).toBe(true);
      expect(e.last_seen_ns).toBe(e.created_ns);
      expect([e.svc_id, e.backend_id]).toEqual([closed.svc_id, closed.backend_id]);
    }
    expect([fwd.nat_addr, fwd.nat_port]).toEqual([be, 8080]);
    expect([rev.nat_addr, rev.nat_port]).toEqual([VIP, 80]);
    // The reopened flow works both ways, and its answer marks both entries again.
    expect(src(to(tcpFrame(be, 8080, CLIENT, sport, SYN | ACK)).out)).toBe(VIP);
    expect(service4(sport)!.flags).toBe(L.SL_CT_F_REPLIED);
    expect(reply4(be, sport)!.flags).toBe(L.SL_CT_F_REPLIED);
    expect(dst(from(tcpFrame(CLIENT, sport, VIP, 80, ACK)).out)).toBe(be);
  });

  it('inserts a new pair when the closed flow\'s backend is not the new choice', () => {
    const sport = 42000;
    const be = connection(sport);
    const other = BACKENDS.find((b) => b !== be)!;
    // The closed flow went to another backend (as if the service had changed since): rewrite it so.
    const k = L.ctKey.encode({ saddr: CLIENT, daddr: VIP, sport, dport: 80, proto: L.IPPROTO.TCP, dir: L.SL_CT_DIR_SERVICE, pad: 0 });
    const closed = service4(sport)!;
    dp.maps.sl_ct.update(k, L.ctEntry.encode({ ...closed, nat_addr: other, backend_id: closed.backend_id + 1000 }));
    const staleRev = L.ctKey.encode({ saddr: other, daddr: CLIENT, sport: 8080, dport: sport, proto: L.IPPROTO.TCP, dir: L.SL_CT_DIR_REPLY, pad: 0 });
    dp.maps.sl_ct.update(staleRev, L.ctEntry.encode({ ...reply4(be, sport)!, backend_id: closed.backend_id + 1000 }));

    expect(dst(from(tcpFrame(CLIENT, sport, VIP, 80, SYN)).out), 'balanced afresh, to Maglev\'s choice').toBe(be);
    const fwd = service4(sport)!;
    expect([fwd.nat_addr, fwd.backend_id, fwd.flags]).toEqual([be, closed.backend_id, 0]);
    expect(reply4(be, sport)!.flags, 'its REPLY entry, written anew').toBe(0);
    expect(src(to(tcpFrame(be, 8080, CLIENT, sport, SYN | ACK)).out)).toBe(VIP);
    dp.maps.sl_ct.delete(staleRev);
  });

  it('inserts the missing REPLY entry when only the SERVICE entry of the closed flow is left', () => {
    const sport = 43000;
    const be = connection(sport);
    const rkey = L.ctKey.encode({ saddr: be, daddr: CLIENT, sport: 8080, dport: sport, proto: L.IPPROTO.TCP, dir: L.SL_CT_DIR_REPLY, pad: 0 });
    expect(dp.maps.sl_ct.delete(rkey)).toBe(true); // evicted, say
    expect(dst(from(tcpFrame(CLIENT, sport, VIP, 80, SYN)).out)).toBe(be);
    expect(reply4(be, sport)?.flags).toBe(0);
    expect(service4(sport)!.flags).toBe(0);
    expect(src(to(tcpFrame(be, 8080, CLIENT, sport, SYN | ACK)).out)).toBe(VIP);
  });

  it('leaves an open flow\'s entries to the retransmitted SYN path (no reopen)', () => {
    const sport = 44000;
    const syn = from(tcpFrame(CLIENT, sport, VIP, 80, SYN));
    const be = dst(syn.out);
    const first = service4(sport)!;
    expect(dst(from(tcpFrame(CLIENT, sport, VIP, 80, SYN)).out)).toBe(be);
    expect(service4(sport)!.created_ns, 'the same flow').toBe(first.created_ns);
  });

  it('reopens an IPv6 flow\'s pair the same way (ct6_reopen_pair)', async () => {
    const sport = 45000;
    const conn = () => {
      const syn = from(tcp6Frame(CLIENT6, sport, VIP6, 80, SYN));
      expect(syn.retval).toBe(TC_ACT_OK);
      const be = BACKENDS6.find((b) => hex6(b) === dst6(syn.out));
      expect(be, 'translated to a backend').toBeDefined();
      expect(src6(to(tcp6Frame(be!, 8080, CLIENT6, sport, SYN | ACK)).out)).toBe(hex6(VIP6));
      return be!;
    };
    const be = conn();
    from(tcp6Frame(CLIENT6, sport, VIP6, 80, FIN | ACK));
    to(tcp6Frame(be, 8080, CLIENT6, sport, FIN | ACK));
    const fwdKey = () => ct6Get(CLIENT6, sport, VIP6, 80, L.SL_CT_DIR_SERVICE)!;
    const revKey = () => ct6Get(be, 8080, CLIENT6, sport, L.SL_CT_DIR_REPLY)!;
    const closed = [fwdKey(), revKey()];
    for (const e of closed) expect(e.flags & L.SL_CT_F_CLOSING).toBeTruthy();
    const entries = dp.maps.sl_ct6!.count();
    await sleep(30);
    expect(conn(), 'the same backend').toBe(be);
    expect(dp.maps.sl_ct6!.count(), 'no entry added or removed').toBe(entries);
    [fwdKey(), revKey()].forEach((e, i) => {
      expect(e.flags, 'answered again, not closing').toBe(L.SL_CT_F_REPLIED);
      expect(e.created_ns > closed[i]!.created_ns).toBe(true);
      expect(e.backend_id).toBe(closed[i]!.backend_id);
    });
    expect(hex6(fwdKey().nat_addr)).toBe(hex6(be));
    expect(hex6(revKey().nat_addr)).toBe(hex6(VIP6));
  });
});
