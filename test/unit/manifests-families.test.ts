// The manifests source's EndpointSlices per IP family, as the EndpointSlice controller writes them:
// one set of slices per family of the Service (spec.ipFamilies as the allocator settled them), each
// Pod contributing its address of that family (status.podIPs, or podIP).
import { describe, expect, it } from 'vitest';
import type { KubeService } from '../../controlplane/model.ts';
import { deriveSlices, podAddresses, type KubePod } from '../../controlplane/source-manifests.ts';

const pod = (name: string, ips: string[]): KubePod => ({
  kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: 'web' } },
  spec: { nodeName: 'node-a', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { podIP: ips[0], ...(ips.length > 1 ? { podIPs: ips.map((ip) => ({ ip })) } : {}), phase: 'Running' },
});
const svc = (name: string, spec: NonNullable<KubeService['spec']>): KubeService => ({
  kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec },
});

describe('deriveSlices: IP families', () => {
  const pods = [pod('a', ['10.244.1.2', 'FD00:10:244::2']), pod('b', ['10.244.1.3']), pod('c', ['fd00:10:244::4'])];

  it('a dual-stack Service gets an IPv4 and an IPv6 slice set; each pod is in the family it has an address of', () => {
    const out = deriveSlices([svc('dual', { clusterIPs: ['10.96.0.1', 'fd00:10:96::1'], ipFamilies: ['IPv4', 'IPv6'] })], pods);
    expect(out.map((s) => [s.addressType, s.endpoints!.map((e) => e.addresses![0])])).toEqual([
      ['IPv4', ['10.244.1.2', '10.244.1.3']], ['IPv6', ['fd00:10:244::2', 'fd00:10:244::4']],
    ]);
    expect(new Set(out.map((s) => s.metadata!.name)).size).toBe(2);
  });

  it('an IPv4 Service\'s slice is what it was before IPv6 existed (same name, IPv4 addresses only); an IPv6-only one gets IPv6 slices only', () => {
    const [v4] = deriveSlices([svc('web', { clusterIP: '10.96.0.2' })], pods);
    const [plain] = deriveSlices([svc('web', { clusterIP: '10.96.0.2' })], [pod('a', ['10.244.1.2']), pod('b', ['10.244.1.3'])]);
    expect(v4).toEqual(plain);
    const only6 = deriveSlices([svc('six', { clusterIPs: ['fd00:10:96::6'], ipFamilies: ['IPv6'] })], pods);
    expect(only6.map((s) => s.addressType)).toEqual(['IPv6']);
  });

  it('podAddresses: podIPs win over podIP, canonical, refusing what has no canonical form', () => {
    expect(podAddresses(pod('x', ['10.244.1.9', '::ffff:10.244.1.9', 'FD00::9']))).toEqual(['10.244.1.9', 'fd00::9']);
    expect(podAddresses({ status: { podIP: '10.244.1.8' } })).toEqual(['10.244.1.8']);
  });
});
