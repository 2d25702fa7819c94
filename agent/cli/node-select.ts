// Which node's maps the CLI reads, and why it cannot read them, said plainly: a permission problem
// is not "is the agent running?", and with several nodes pinned it asks which one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class CliError extends Error {
  /** 1: the command could not do its work; 2: the user has to say something else. */
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

const denied = (e: unknown): boolean => ['EACCES', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '');

function permissionError(what: string): CliError {
  return new CliError(`permission denied reading ${what}: the maps are pinned 0600 in 0700 directories; run as root (or with sudo)`);
}

/** The node named by --node-name, else $NODE_NAME, else the only node pinned under pinRoot, else the host name. */
export function chooseNode(pinRoot: string, flag: string | undefined, env: string | undefined): string {
  if (flag) return flag;
  if (env) return env;
  let dirs: string[] = [];
  try {
    dirs = fs.readdirSync(pinRoot, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch (e) {
    if (denied(e)) throw permissionError(pinRoot);
  }
  if (dirs.length === 1) return dirs[0]!;
  if (dirs.length > 1) {
    throw new CliError(`several nodes have Sluice maps pinned under ${pinRoot}: ${dirs.join(', ')}\nchoose one with --node-name NAME`, 2);
  }
  return os.hostname();
}

/** Throws a CliError naming the problem when the node's pin directory cannot be read. */
export function checkReadable(dir: string): void {
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK);
    fs.accessSync(path.join(dir, 'sl_services'), fs.constants.R_OK);
  } catch (e) {
    if (denied(e)) throw permissionError(dir);
    // Absent: the maps layer says so with its own hint.
  }
}
