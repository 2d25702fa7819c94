// The control plane and the agent as deploy/ runs them, for the benchmarks that measure them: the Node settings of
// its Deployment (deploy/base/controlplane.yaml's NODE_OPTIONS and GLIBC_TUNABLES), and JavaScript
// compiled by tsc as deploy/image/assemble.sh compiles the image, not TypeScript stripped at run
// time (Node's type stripper keeps its WebAssembly module and its memory: ~18 MiB of RSS that the
// image does not have).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');

/** NODE_OPTIONS and GLIBC_TUNABLES of the control plane's container; `oldSpaceMib` replaces the old-space cap. */
export function controlPlaneNodeEnv(oldSpaceMib?: number): { NODE_OPTIONS: string; GLIBC_TUNABLES: string } {
  const manifest = fs.readFileSync(path.join(REPO, 'deploy/base/controlplane.yaml'), 'utf8');
  const envOf = (name: string): string => new RegExp(`- name: ${name}\\n\\s+value: (.*)`).exec(manifest)?.[1]?.trim() ?? '';
  let nodeOptions = envOf('NODE_OPTIONS');
  if (oldSpaceMib) nodeOptions = `${nodeOptions.replace(/--max-old-space-size=\d+/, '')} --max-old-space-size=${oldSpaceMib}`.trim();
  return { NODE_OPTIONS: nodeOptions, GLIBC_TUNABLES: envOf('GLIBC_TUNABLES') };
}

/**
 * Compiles `entries` (repo-relative .ts files) and everything they import into `outDir`, in the
 * repo's layout (rewriteRelativeImportExtensions turns ./x.ts imports into ./x.js), with the
 * generated protobuf JavaScript, package.json and a node_modules link next to them. Returns the
 * compiled path of each entry.
 */
export function compileToJs(entries: string[], outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const config = path.join(outDir, 'tsconfig.json');
  fs.writeFileSync(config, JSON.stringify({
    extends: path.join(REPO, 'tsconfig.json'),
    compilerOptions: { noEmit: false, rootDir: REPO, outDir, declaration: false, sourceMap: false, typeRoots: [path.join(REPO, 'node_modules/@types')] },
    files: entries.map((e) => path.join(REPO, e)),
  }));
  execFileSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', config], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  fs.mkdirSync(path.join(outDir, 'proto/gen'), { recursive: true });
  for (const f of fs.readdirSync(path.join(REPO, 'proto/gen'))) if (f.endsWith('.js')) fs.copyFileSync(path.join(REPO, 'proto/gen', f), path.join(outDir, 'proto/gen', f));
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(outDir, 'package.json'));
  if (!fs.existsSync(path.join(outDir, 'node_modules'))) fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(outDir, 'node_modules'));
  // The agent finds its datapath objects in ../../build/bpf/ from agent/bpf/ (as in the image).
  if (!fs.existsSync(path.join(outDir, 'build'))) fs.symlinkSync(path.join(REPO, 'build'), path.join(outDir, 'build'));
  return entries.map((e) => path.join(outDir, e.replace(/\.ts$/, '.js')));
}

/**
 * The agent as deploy/image/bin/sluice-agent runs it (JavaScript compiled by tsc; the launcher's
 * Node flags are sim/agent.ts's AGENT_NODE_FLAGS), for SimAgent's `main`: compiled into `outDir`.
 * Returns agent/main.js there.
 */
export function compiledAgent(outDir: string): string {
  return compileToJs(['agent/main.ts'], outDir)[0]!;
}
