// A CPU profile of the running agent for diagnosis (SLUICE_CPU_PROFILE_DIR), started once the
// datapath is loaded. Not `node --cpu-prof`: V8's sampler interrupts the process with SIGPROF, and
// the BPF verifier gives up with EAGAIN on a pending signal, so a profiled agent cannot load its
// programs. Started after loading, the profile covers what follows (programming, changes, GC).
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

export interface CpuProfile {
  /** Stop sampling and write <dir>/agent-<pid>-<time>.cpuprofile (Chrome DevTools format); returns its path. */
  stop(): string;
}

export function startCpuProfile(dir: string, intervalUs = 500): CpuProfile {
  const session = new Session();
  session.connect();
  // An in-process session answers synchronously: each callback has run when post() returns.
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  session.post('Profiler.start');
  return {
    stop() {
      let file = '';
      session.post('Profiler.stop', (err, r) => {
        if (err) throw err;
        fs.mkdirSync(dir, { recursive: true });
        file = path.join(dir, `agent-${process.pid}-${Date.now()}.cpuprofile`);
        fs.writeFileSync(file, JSON.stringify(r.profile));
      });
      session.disconnect();
      return file;
    },
  };
}
