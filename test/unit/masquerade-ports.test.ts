// The masquerade source ports: outside the node's ephemeral range (and the NodePort range), so the
// node's own connections never take a masqueraded flow's tuple.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseMasqueradePorts, masqueradePorts, NODEPORT_RANGE, overlaps, parseEphemeralRange } from '../../agent/masquerade-ports.ts';

describe('masqueradePorts', () => {
  it("Linux's default ephemeral range leaves 1024–29999, the largest stretch below the NodePort range", () => {
    expect(masqueradePorts({ min: 32768, max: 60999 })).toEqual({ min: 1024, max: 29999 });
  });

  it('takes the largest free stretch, above the ephemeral range when that is larger', () => {
    expect(masqueradePorts({ min: 10000, max: 45000 })).toEqual({ min: 45001, max: 65535 });
    expect(masqueradePorts({ min: 1024, max: 65000 })).toEqual({ min: 65001, max: 65535 });
    expect(masqueradePorts({ min: 35000, max: 65535 })).toEqual({ min: 1024, max: 29999 });
  });

  it('none when the ephemeral range covers every unprivileged port outside the NodePort range', () => {
    expect(masqueradePorts({ min: 1024, max: 65535 })).toBeUndefined();
    expect(masqueradePorts({ min: 1, max: 65535 })).toBeUndefined();
  });

  it('never overlaps the ephemeral range, the NodePort range or the privileged ports, over many ranges', () => {
    for (let lo = 1; lo <= 65535; lo += 997) {
      for (let hi = lo; hi <= 65535; hi += 1499) {
        const r = masqueradePorts({ min: lo, max: hi });
        if (!r) continue;
        expect(overlaps(r, { min: lo, max: hi }), `${lo}-${hi}`).toBe(false);
        expect(overlaps(r, NODEPORT_RANGE), `${lo}-${hi}`).toBe(false);
        expect(r.min, `${lo}-${hi}`).toBeGreaterThanOrEqual(1024);
        expect(r.max).toBeLessThanOrEqual(65535);
        expect(r.min).toBeLessThanOrEqual(r.max);
      }
    }
  });
});

describe('parseEphemeralRange', () => {
  it('reads the kernel\'s "low<TAB>high"', () => {
    expect(parseEphemeralRange('32768\t60999\n')).toEqual({ min: 32768, max: 60999 });
  });

  it('refuses anything else, naming the file and the text', () => {
    expect(() => parseEphemeralRange('60999 32768', '/x')).toThrow('/x: expected "low high" ports, got "60999 32768"');
    expect(() => parseEphemeralRange('', '/x')).toThrow('/x');
    expect(() => parseEphemeralRange('1 70000', '/x')).toThrow('/x');
  });
});

describe('chooseMasqueradePorts', () => {
  const logged: Array<{ obj: object; msg: string }> = [];
  const log = { warn: (obj: object, msg: string) => logged.push({ obj, msg }) };
  const file = (text: string) => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ports-')), 'ip_local_port_range');
    fs.writeFileSync(f, text);
    return f;
  };

  it('reads this namespace\'s range from the kernel, and the answer does not overlap it', () => {
    const real = parseEphemeralRange(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));
    const r = chooseMasqueradePorts(log);
    if (r) expect(overlaps(r, real)).toBe(false);
    else expect(logged.at(-1)?.msg).toMatch(/no ports outside/);
  });

  it('warns when there is no room, when there is little, and when the file is unreadable (Linux default assumed)', () => {
    logged.length = 0;
    expect(chooseMasqueradePorts(log, file('1024 65535\n'))).toBeUndefined();
    expect(logged.pop()?.msg).toMatch(/no ports outside the node's ephemeral range/);
    expect(chooseMasqueradePorts(log, file('1024 65000\n'))).toEqual({ min: 65001, max: 65535 });
    expect(logged.pop()?.msg).toMatch(/few ports/);
    expect(chooseMasqueradePorts(log, '/nonexistent/ip_local_port_range')).toEqual({ min: 1024, max: 29999 });
    expect(logged.pop()?.msg).toMatch(/cannot read/);
    expect(chooseMasqueradePorts(log, file('32768\t60999\n'))).toEqual({ min: 1024, max: 29999 });
    expect(logged).toEqual([]);
  });
});
