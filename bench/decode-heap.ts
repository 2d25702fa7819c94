// The agent's decode of a control-plane snapshot, whole (decodeStateUpdate) against a service at a
// time (decodeAgentUpdate), in one process: the live heap while the snapshot is held before it is
// applied, and the decode time. Run with --expose-gc:
//   COUNT=10000 EP=10 node --expose-gc --max-semi-space-size=4 bench/decode-heap.ts
import { decodeAgentUpdate, decodeStateUpdate, pb } from '../proto/contract.ts';
import { benchServices, stateFile } from './lib/model.ts';

const COUNT = Number(process.env.COUNT ?? 10000), EP = Number(process.env.EP ?? 10);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const doc = JSON.parse(stateFile(benchServices(COUNT, EP, { be1: '10.200.0.1', be2: '10.200.0.2' }))) as { services: object[] };
const bytes = pb.StateUpdate.encode({ version: 1, nonce: 'n', snapshot: true, serverId: 'cp', upserts: doc.services }).finish();
doc.services.length = 0;
const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed / 2 ** 20; };
const held: Record<string, number[]> = { whole: [], lazy: [] }, ms: Record<string, number[]> = { whole: [], lazy: [] };
for (let round = 0; round < 3; round++) {
  for (const [name, decode] of [['whole', decodeStateUpdate], ['lazy', decodeAgentUpdate]] as const) {
    const base = heap();
    const t0 = performance.now();
    const u = decode(bytes);
    held[name]!.push(+(heap() - base).toFixed(1));
    // Every service read, as the reconciler reads them (one at a time, nothing kept).
    let endpoints = 0;
    for (const s of u.upserts) for (const p of s.ports) endpoints += p.endpoints.length;
    ms[name]!.push(Math.round(performance.now() - t0)); // the forced GCs included (both sides alike)
    if (endpoints !== (COUNT - 1) * EP + 3) throw new Error(`${name}: ${endpoints} endpoints`);
  }
}
process.stdout.write(`${JSON.stringify({ services: COUNT, endpoints: EP, messageMiB: +(bytes.length / 2 ** 20).toFixed(1), heldMiB: held, decodeAndReadMs: ms })}\n`);
