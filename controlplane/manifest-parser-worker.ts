// Worker thread of the manifests source: reads and parses one manifest file per request, so that a
// huge or pathological file never blocks the control plane's event loop. Only documents of the
// kinds the source reads cross back to the main thread (a 50k-key ConfigMap stays here).
//
// YAML maps are parsed with the yaml package's duplicate-key check off (it compares every key with
// every other: 50k keys took a minute) and checked here in linear time instead.
import * as fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { isMap, isScalar, parseAllDocuments, visit, type Document } from 'yaml';
import { MANIFEST_KINDS, type ParseReply, type ParseRequest } from './manifest-parser.ts';

function duplicateKey(doc: Document): string | null {
  let dup: string | null = null;
  visit(doc, {
    Map(_key, node) {
      if (!isMap(node)) return undefined;
      const seen = new Set<unknown>();
      for (const item of node.items) {
        const k = isScalar(item.key) ? item.key.value : item.key;
        if (seen.has(k)) { dup = String(k).slice(0, 80); return visit.BREAK; }
        seen.add(k);
      }
      return undefined;
    },
  });
  return dup;
}

function parse(req: ParseRequest): ParseReply {
  let text: string;
  try {
    const fd = fs.openSync(req.file, 'r');
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return { id: req.id, ok: false, reason: 'not-a-file', message: 'not a regular file' };
      // read one byte past the limit: the file may have grown since the main thread looked
      const buf = Buffer.alloc(Math.min(st.size, req.maxBytes) + 1);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      if (n > req.maxBytes) return { id: req.id, ok: false, reason: 'too-large', message: `file is larger than the limit of ${req.maxBytes} bytes` };
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    return { id: req.id, ok: false, reason: 'unreadable', message: (e as Error).message };
  }
  const parsed = parseAllDocuments(text, { uniqueKeys: false, logLevel: 'error' });
  const list = Array.isArray(parsed) ? parsed : [];
  for (const d of list) {
    const bad = d.errors[0];
    if (bad) return { id: req.id, ok: false, reason: 'yaml', message: bad.message.split('\n')[0] ?? 'parse error' };
    const dup = duplicateKey(d);
    if (dup !== null) return { id: req.id, ok: false, reason: 'yaml', message: `duplicate map key ${JSON.stringify(dup)}` };
  }
  const docs: unknown[] = [];
  try {
    for (const d of list) {
      const kind = (d.get('kind') as unknown);
      if (typeof kind === 'string' && MANIFEST_KINDS.has(kind)) docs.push(d.toJS({ maxAliasCount: 100 }));
    }
  } catch (e) {
    return { id: req.id, ok: false, reason: 'yaml', message: (e as Error).message };
  }
  return { id: req.id, ok: true, docs, bytes: Buffer.byteLength(text) };
}

parentPort!.on('message', (req: ParseRequest) => parentPort!.postMessage(parse(req)));
parentPort!.postMessage('ready');
