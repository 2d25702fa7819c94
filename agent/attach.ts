// Finds pods' host-side interfaces by name pattern and keeps the tc programs attached to them.
// A cheap poll of /proc/net/dev (this network namespace's interfaces) catches interfaces that come
// and go; attaching uses tc's replace, so re-attaching after an agent restart is atomic.
import fs from 'node:fs';
import * as bpf from './bpf/libbpf.ts';
import { span } from '../common/trace.ts';

export interface Attachment { name: string; ifindex: number; ingressProgId: number; egressProgId: number }

export function globToRegExp(patterns: string[]): RegExp {
  const alt = patterns.map((p) => p.trim()).filter(Boolean)
    .map((p) => p.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*'));
  return new RegExp(`^(?:${alt.join('|') || '(?!)'})$`);
}

export function listInterfaces(): string[] {
  return fs.readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)
    .map((l) => l.split(':')[0]!.trim()).filter(Boolean);
}

export class InterfaceAttacher {
  readonly #match: RegExp;
  readonly #progs: { fromPod: number; toPod: number };
  readonly #log: (msg: string, fields: Record<string, unknown>) => void;
  #attached = new Map<string, Attachment>();
  #timer: NodeJS.Timeout | undefined;
  errors = 0;

  constructor(patterns: string[], progs: { fromPod: number; toPod: number }, log: (msg: string, fields: Record<string, unknown>) => void) {
    this.#match = globToRegExp(patterns);
    this.#progs = progs;
    this.#log = log;
  }

  get attached(): Attachment[] {
    return [...this.#attached.values()];
  }

  /** Attach to new matching interfaces and forget vanished ones. */
  scan(): void {
    const present = new Set<string>();
    for (const name of listInterfaces()) {
      if (!this.#match.test(name)) continue;
      present.add(name);
      let ifindex: number;
      try { ifindex = bpf.ifIndex(name); } catch { continue; }
      const cur = this.#attached.get(name);
      if (cur && cur.ifindex === ifindex) continue;
      try {
        const ingressProgId = bpf.tcAttach(ifindex, 'ingress', this.#progs.fromPod);
        const egressProgId = bpf.tcAttach(ifindex, 'egress', this.#progs.toPod);
        this.#attached.set(name, { name, ifindex, ingressProgId, egressProgId });
        this.#log('attached', { interface: name, ifindex, ingressProgId, egressProgId });
      } catch (e) {
        this.errors++;
        this.#log('attach failed', { interface: name, ifindex, err: (e as Error).message });
      }
    }
    for (const name of this.#attached.keys()) {
      if (!present.has(name)) {
        this.#attached.delete(name);
        this.#log('interface gone', { interface: name });
      }
    }
  }

  start(intervalMs: number): void {
    this.scan();
    this.#timer = setInterval(() => span('agentScan', () => this.scan()), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
