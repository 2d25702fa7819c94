// The agent's side of the contract: services (already validated and defaulted by the control plane's
// model) become frontends; only what the datapath cannot hold is refused, naming service and field.
import { describe, expect, it } from 'vitest';
import { buildNodeServices } from '../../controlplane/model.ts';
import { frontendsOf } from '../../agent/services.ts';
import { toService, type ServiceJson } from '../../proto/contract.ts';

const svc = (extra: ServiceJson = {}) => toService({
  namespace: 'default', name: 'web', type: 'NodePort', clusterIps: ['10.96.0.10'],
  ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080, endpoints: [{ ip: '10.244.1.2', port: 8080, nodeName: 'n1' }] }],
  ...extra,
});

describe('frontendsOf', () => {
  it('takes the model\'s output as it is, the affinity default included', () => {
    const { services } = buildNodeServices([{
      metadata: { name: 'sticky', namespace: 'default' },
      spec: { clusterIP: '10.96.0.30', sessionAffinity: 'ClientIP', ports: [{ port: 80, targetPort: 8080 }] },
    }], [], 'n1');
    const [fe] = frontendsOf(services[0]!);
    expect(fe).toMatchObject({ vip: '10.96.0.30', port: 80, proto: 'TCP', affinityTimeout: 10800, name: 'default/sticky:80' });
  });

  it('makes cluster and NodePort frontends, marking this node\'s backends', () => {
    const fes = frontendsOf(svc(), { node: 'n1', nodeIps: ['192.168.1.5'] });
    expect(fes.map((f) => `${f.vip}:${f.port}/${f.proto} scope=${f.scope ?? 0}`)).toEqual(['10.96.0.10:80/TCP scope=0', '192.168.1.5:30080/TCP scope=1']);
    expect(fes[1]!.backends).toEqual([{ ip: '10.244.1.2', port: 8080, terminating: false, local: true }]);
  });

  it('refuses what the datapath cannot hold, naming the service and the field', () => {
    expect(() => frontendsOf(svc({ clusterIps: ['fd00::10'] }))).toThrow('service default/web: clusterIps[0]: "fd00::10" is not an IPv4 address');
    const v6 = svc();
    v6.ports[0]!.endpoints[0]!.ip = 'fd00::2';
    expect(() => frontendsOf(v6)).toThrow('service default/web: ports[0].endpoints[0].ip: "fd00::2" is not an IPv4 address');
    const sctp = svc();
    sctp.ports[0]!.protocol = 'SCTP';
    expect(() => frontendsOf(sctp)).toThrow('service default/web: ports[0].protocol: SCTP is not supported');
    const big = svc();
    big.ports[0]!.nodePort = 70000;
    expect(() => frontendsOf(big)).toThrow('service default/web: ports[0].nodePort: 70000 does not fit a 16-bit port');
    expect(() => frontendsOf(svc({ affinityClientIp: true }))).toThrow('service default/web: affinityTimeoutSeconds: 0 with affinityClientIp');
  });
});

describe('toService', () => {
  it('fills every field a state file leaves out, and refuses a wrong shape', () => {
    const s = toService({ namespace: 'a', name: 'b', ports: [{ port: 80 }] });
    expect(s).toMatchObject({ type: '', clusterIps: [], externalIps: [], affinityClientIp: false, affinityTimeoutSeconds: 0 });
    expect(s.ports[0]).toEqual({ name: '', protocol: '', port: 80, nodePort: 0, endpoints: [] });
    expect(() => toService({ ports: 'x' as never })).toThrow();
  });
});
