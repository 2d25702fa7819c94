// kube-proxy's TestEndpointsMapFromESC (pkg/proxy/endpointslicecache_test.go): how the EndpointSlices
// of one service merge into per-port endpoint lists, case by case, checked on the model's
// node-independent endpoint list (address, conditions, and whether it is on the node "host1").
// The slices are built as kube-proxy's generateEndpointSliceWithOffset builds them.
import { describe, expect, it } from 'vitest';
import { buildService, parseSlice, type KubeEndpointSlice, type KubeService } from '../../controlplane/model.ts';

/**
 * Endpoint i (1..n) has address 10.0.<offset>.<i>; ready unless i % unreadyMod == 0, terminating when
 * i % terminatingMod == 0 (then not ready, serving = the ready condition); node hosts[i % hosts.length].
 */
function genSlice(svc: string, ns: string, sliceNum: number, offset: number, n: number, unreadyMod: number, terminatingMod: number, hosts: string[], ports: (number | null)[], family: 4 | 6 = 4): KubeEndpointSlice {
  return {
    metadata: { name: `${svc}-${sliceNum}${family === 6 ? '-v6' : ''}`, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
    addressType: `IPv${family}`,
    ports: ports.map((p, i) => ({ name: `port-${i}`, protocol: 'TCP', ...(p === null ? {} : { port: p }) })),
    endpoints: Array.from({ length: n }, (_, k) => {
      const i = k + 1;
      const readyCond = i % unreadyMod !== 0;
      const term = i % terminatingMod === 0;
      return {
        addresses: [family === 4 ? `10.0.${offset}.${i}` : v6(offset, i)],
        conditions: { ready: readyCond && !term, serving: readyCond, terminating: term },
        ...(hosts.length > 0 ? { nodeName: hosts[i % hosts.length] } : {}),
      };
    }),
  };
}
/** The IPv6 counterpart of 10.0.<offset>.<i>, written uncompressed as a slice may hold it. */
const v6 = (offset: number, i: number): string => `FD00:0:0:${offset}:0:0:0:${i.toString(16)}`;
/** The same address as the model carries it (canonical text). */
const v6c = (offset: number, i: number): string => `fd00:0:0:${offset}::${i.toString(16)}`;
const gen = (svc: string, ns: string, num: number, n: number, unreadyMod: number, termMod: number, hosts: string[], ports: (number | null)[], family: 4 | 6 = 4): KubeEndpointSlice =>
  genSlice(svc, ns, num, num, n, unreadyMod, termMod, hosts, ports, family);

const DUAL = ['10.96.0.1', 'fd00:96::1'];
function service(ports: number, clusterIPs = ['10.96.0.1']): KubeService {
  return { metadata: { name: 'svc1', namespace: 'ns1' }, spec: { clusterIPs, ports: Array.from({ length: ports }, (_, i) => ({ name: `port-${i}`, port: 1000 + i, protocol: 'TCP' })) } };
}

/** "ip:port" plus the conditions kube-proxy's BaseEndpointInfo holds: R(eady) S(erving) T(erminating) L(ocal). */
type Info = string;
const info = (ip: string, port: number, flags: string): Info => `${ip}:${port} ${flags}`;
const ready = (ip: string, port: number, local = false): Info => info(ip, port, local ? 'RSL' : 'RS');

interface Case { name: string; slices: KubeEndpointSlice[]; hostname?: string; ports?: number; clusterIPs?: string[]; expected: Record<string, Info[]> }

const cases: Case[] = [
  {
    name: '1 slice, 2 hosts, ports 80,443', hostname: 'host1', ports: 2,
    slices: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443])],
    expected: {
      'port-0': [ready('10.0.1.1', 80), ready('10.0.1.2', 80, true), ready('10.0.1.3', 80)],
      'port-1': [ready('10.0.1.1', 443), ready('10.0.1.2', 443, true), ready('10.0.1.3', 443)],
    },
  },
  {
    name: '2 slices, same port',
    slices: [gen('svc1', 'ns1', 1, 3, 999, 999, [], [80]), gen('svc1', 'ns1', 2, 3, 999, 999, [], [80])],
    expected: { 'port-0': ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.2.1', '10.0.2.2', '10.0.2.3'].map((ip) => ready(ip, 80)) },
  },
  {
    name: '2 overlapping slices, same port',
    slices: [gen('svc1', 'ns1', 1, 3, 999, 999, [], [80]), gen('svc1', 'ns1', 1, 4, 999, 999, [], [80])],
    expected: { 'port-0': ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4'].map((ip) => ready(ip, 80)) },
  },
  {
    name: '2 slices, overlapping endpoints, some endpoints unready in 1 or both',
    slices: [gen('svc1', 'ns1', 1, 10, 3, 999, [], [80]), { ...gen('svc1', 'ns1', 1, 10, 6, 999, [], [80]), metadata: { name: 'svc1-1b', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'svc1' } } }],
    expected: { 'port-0': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => (i === 6 ? info('10.0.1.6', 80, '') : ready(`10.0.1.${i}`, 80))) },
  },
  {
    name: '2 slices, overlapping endpoints, some endpoints unready and some endpoints terminating',
    slices: [gen('svc1', 'ns1', 1, 10, 3, 5, [], [80]), { ...gen('svc1', 'ns1', 1, 10, 6, 5, [], [80]), metadata: { name: 'svc1-1b', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'svc1' } } }],
    expected: { 'port-0': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => (i === 6 ? info('10.0.1.6', 80, '') : i % 5 === 0 ? info(`10.0.1.${i}`, 80, 'ST') : ready(`10.0.1.${i}`, 80))) },
  },
  {
    name: '2 slices, overlapping endpoints, all unready',
    slices: [gen('svc1', 'ns1', 1, 10, 1, 999, [], [80]), { ...gen('svc1', 'ns1', 1, 10, 1, 999, [], [80]), metadata: { name: 'svc1-1b', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'svc1' } } }],
    expected: { 'port-0': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => info(`10.0.1.${i}`, 80, '')) },
  },
  {
    name: '3 slices with different services and namespaces',
    slices: [gen('svc1', 'ns1', 1, 3, 999, 999, [], [80]), gen('svc2', 'ns1', 2, 3, 999, 999, [], [80]), gen('svc1', 'ns2', 3, 3, 999, 999, [], [80])],
    expected: { 'port-0': ['10.0.1.1', '10.0.1.2', '10.0.1.3'].map((ip) => ready(ip, 80)) },
  },
  {
    name: 'Nil port should not break anything', hostname: 'host1',
    slices: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [null])],
    expected: { 'port-0': [] },
  },
  {
    name: 'Different endpoints with duplicate IPs should not be filtered', hostname: 'host1',
    slices: [genSlice('svc1', 'ns1', 1, 1, 2, 999, 999, ['host1', 'host2'], [80]), genSlice('svc1', 'ns1', 2, 1, 2, 999, 999, ['host1', 'host2'], [8080])],
    expected: { 'port-0': [ready('10.0.1.1', 80), ready('10.0.1.1', 8080), ready('10.0.1.2', 80, true), ready('10.0.1.2', 8080, true)] },
  },
  // The same cases over IPv6 slices (addressType IPv6) of a dual-stack service: the merge is the same.
  {
    name: 'IPv6: 1 slice, 2 hosts, ports 80,443', hostname: 'host1', ports: 2, clusterIPs: DUAL,
    slices: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443], 6)],
    expected: {
      'port-0': [ready(v6c(1, 1), 80), ready(v6c(1, 2), 80, true), ready(v6c(1, 3), 80)],
      'port-1': [ready(v6c(1, 1), 443), ready(v6c(1, 2), 443, true), ready(v6c(1, 3), 443)],
    },
  },
  {
    name: 'IPv6: 2 slices, overlapping endpoints, some endpoints unready and some endpoints terminating', clusterIPs: DUAL,
    slices: [gen('svc1', 'ns1', 1, 10, 3, 5, [], [80], 6), { ...gen('svc1', 'ns1', 1, 10, 6, 5, [], [80], 6), metadata: { name: 'svc1-1b', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'svc1' } } }],
    expected: { 'port-0': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => (i === 6 ? info(v6c(1, 6), 80, '') : i % 5 === 0 ? info(v6c(1, i), 80, 'ST') : ready(v6c(1, i), 80))) },
  },
  {
    name: 'dual-stack: an IPv4 and an IPv6 slice are two families of endpoints, both kept', hostname: 'host1', clusterIPs: DUAL,
    slices: [gen('svc1', 'ns1', 1, 2, 999, 999, ['host1', 'host2'], [80]), gen('svc1', 'ns1', 1, 2, 2, 999, ['host1', 'host2'], [80], 6)],
    expected: { 'port-0': [ready('10.0.1.1', 80), ready('10.0.1.2', 80, true), ready(v6c(1, 1), 80), info(v6c(1, 2), 80, 'L')] },
  },
  {
    // kube-proxy's MetaProxier hands IPv6 slices to the IPv6 proxier, which ignores a service without an IPv6 cluster IP
    name: 'IPv4-only service: its IPv6 slices feed nothing',
    slices: [gen('svc1', 'ns1', 1, 2, 999, 999, [], [80]), gen('svc1', 'ns1', 2, 2, 999, 999, [], [80], 6)],
    expected: { 'port-0': [ready('10.0.1.1', 80), ready('10.0.1.2', 80)] },
  },
  {
    name: 'IPv6-only service: its IPv4 slices feed nothing', clusterIPs: ['fd00:96::1'],
    slices: [gen('svc1', 'ns1', 1, 2, 999, 999, [], [80]), gen('svc1', 'ns1', 2, 2, 999, 999, [], [80], 6)],
    expected: { 'port-0': [ready(v6c(2, 1), 80), ready(v6c(2, 2), 80)] },
  },
];

describe('TestEndpointsMapFromESC (kube-proxy pkg/proxy/endpointslicecache_test.go)', () => {
  for (const c of cases) {
    it(c.name, () => {
      // kube-proxy's overlapping cases give both slices the same name (the second replaces the first);
      // here they are two slices, so the merge itself is tested: the expected lists are the same.
      const parsed = c.slices.map(parseSlice).filter((p) => p.service === 'ns1/svc1');
      const r = buildService(service(c.ports ?? 1, c.clusterIPs), parsed);
      expect(r.errors).toEqual([]);
      const got = Object.fromEntries(r.model!.ports.map((p) => [p.name, p.endpoints.map((e) =>
        info(e.ip, e.port, `${e.ready ? 'R' : ''}${e.serving ? 'S' : ''}${e.terminating ? 'T' : ''}${c.hostname && e.nodeName === c.hostname ? 'L' : ''}`))]));
      const sortInfo = (l: Info[]): Info[] => [...l].sort();
      expect(Object.fromEntries(Object.entries(got).map(([k, v]) => [k, sortInfo(v)]))).toEqual(Object.fromEntries(Object.entries(c.expected).map(([k, v]) => [k, sortInfo(v)])));
    });
  }
});
