// `sluice monitor`'s flags and its run: bounds, Ctrl-C and a closed stdout (`| head`) end it cleanly.
import { EVENT_TYPES, formatEvent, monitor, type EventType } from '../monitor.ts';
import type { PinnedMaps } from '../inspect.ts';

export const MONITOR_HELP = `
Monitor options:
  --type drop,reject,flow,affinity   which events (default: drop,reject); flow and affinity are
                            emitted by the datapath only while a monitor asks for them
  --service NS/NAME[:PORT]  only this Service's frontends
  --sample N                one in N new flows / affinity hits (default: 1, each)
  --count N                 stop after N events
  --duration SECONDS        stop after this long
`;

export const MONITOR_OPTIONS = {
  type: { type: 'string' }, service: { type: 'string' }, sample: { type: 'string', default: '1' },
  count: { type: 'string' }, duration: { type: 'string' },
} as const;

interface Flags { type?: string; service?: string; sample?: string; count?: string; duration?: string }

function positive(name: string, v: string | undefined, fail: (m: string) => never): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name}: ${v} is not a positive number`);
  return n;
}

/** Runs the monitor; returns the exit code. */
export async function monitorCommand(maps: PinnedMaps, o: Flags, json: boolean, fail: (m: string) => never): Promise<number> {
  const types = new Set((o.type ?? 'drop,reject').split(',').map((t) => t.trim()));
  for (const t of types) if (!(EVENT_TYPES as readonly string[]).includes(t)) fail(`--type: ${t} is not one of ${EVENT_TYPES.join(', ')}`);
  const sample = positive('sample', o.sample, fail)!;
  if (!Number.isInteger(sample)) fail(`--sample: ${o.sample} is not an integer`);
  const count = positive('count', o.count, fail);
  const duration = positive('duration', o.duration, fail);

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  // `sluice monitor | head`: the reader went away, which ends the monitor, not in an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    stop.abort();
  });
  try {
    await monitor(maps, {
      types: types as Set<EventType>, service: o.service, sample, count, durationMs: duration && duration * 1000,
      signal: stop.signal,
      onReady: () => process.stderr.write(`Listening for ${[...types].join(', ')} events in ${maps.dir}${o.service ? ` for ${o.service}` : ''}... Press Ctrl-C to quit\n`),
      onEvent: (e) => {
        if (!stop.signal.aborted) process.stdout.write(json ? JSON.stringify(e) + '\n' : formatEvent(e));
      },
    });
  } catch (e) {
    process.stderr.write(`sluice: monitor: ${(e as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  return 0;
}
