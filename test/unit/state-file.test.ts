import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readStateFile, watchStateFile, type StateFileWatch } from '../../agent/state-file.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const svc = (name: string) => ({ namespace: 'default', name, clusterIps: ['10.96.0.10'], ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [{ ip: '10.244.1.2', port: 8080, ready: true }] }] });

describe('state file', () => {
  const dirs: string[] = [];
  const watches: StateFileWatch[] = [];
  const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-state-')); dirs.push(d); return d; };
  afterEach(() => {
    for (const w of watches.splice(0)) w.close();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('reads services with every field present, and names the service that is wrong', () => {
    const file = path.join(tmp(), 'state.json');
    fs.writeFileSync(file, JSON.stringify({ services: [svc('a'), svc('b')] }));
    const s = readStateFile(file);
    expect(s.map((x) => x.name)).toEqual(['a', 'b']);
    expect(s[0]!.externalIps).toEqual([]);
    expect(s[0]!.ports[0]!.endpoints[0]).toMatchObject({ ip: '10.244.1.2', port: 8080, ready: true, terminating: false });
    fs.writeFileSync(file, JSON.stringify({ services: [svc('a'), { ...svc('b'), ports: 'http' }] }));
    expect(() => readStateFile(file)).toThrow(/services\[1\]/);
    fs.writeFileSync(file, JSON.stringify({ services: {} }));
    expect(() => readStateFile(file)).toThrow(/"services" must be an array/);
    fs.writeFileSync(file, '{"services": [');
    expect(() => readStateFile(file)).toThrow();
  });

  it('reports a replacement (rename over) and an in-place rewrite once each, and nothing after close', async () => {
    const dir = tmp(), file = path.join(dir, 'state.json');
    fs.writeFileSync(file, JSON.stringify({ services: [] }));
    let changes = 0;
    const w = watchStateFile(file, () => changes++);
    watches.push(w);
    // Another file in the same directory is not the state file.
    fs.writeFileSync(path.join(dir, 'other.json'), 'x');
    await sleep(400);
    expect(changes).toBe(0);

    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ services: [svc('a')] }));
    fs.renameSync(`${file}.tmp`, file);
    // Both the directory watch and the 100 ms poll see it: reported once (generous wait for a loaded machine).
    for (let i = 0; i < 100 && changes === 0; i++) await sleep(20);
    await sleep(400);
    expect(changes).toBe(1);

    fs.writeFileSync(file, JSON.stringify({ services: [svc('a'), svc('b')] }));
    for (let i = 0; i < 100 && changes === 1; i++) await sleep(20);
    await sleep(400);
    expect(changes).toBe(2);

    w.close();
    fs.writeFileSync(file, JSON.stringify({ services: [] }));
    await sleep(400);
    expect(changes).toBe(2);
  });

  it('keeps polling when the file is missing at first, and reports it when it appears', async () => {
    const dir = tmp(), file = path.join(dir, 'state.json');
    let changes = 0;
    watches.push(watchStateFile(file, () => changes++));
    await sleep(250);
    expect(changes).toBe(0);
    fs.writeFileSync(file, JSON.stringify({ services: [svc('a')] }));
    for (let i = 0; i < 100 && changes === 0; i++) await sleep(20);
    expect(changes).toBe(1);
  });
});
