/** Everything a command may touch of the outside world; tests swap it for buffers. */
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Writer {
  write(s: string): void;
}

export interface Context {
  stdout: Writer;
  stderr: Writer;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  env: Record<string, string | undefined>;
  homedir: string;
  cwd: string;
  /** directory of the bundled trees */
  treesDir: string;
  /** sleep for spinners/pacing; a no-op in tests */
  sleep(ms: number): Promise<void>;
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * A writer that goes quiet once the reader has gone (EPIPE, e.g. `vfioctl dmesg | head`):
 * the command still finishes, saves and releases its lock; nothing is printed about it.
 */
function pipeWriter(stream: NodeJS.WriteStream): Writer {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closed = true;
  });
  return { write: (s) => void (closed || stream.write(s)) };
}

export function processContext(): Context {
  return {
    stdout: pipeWriter(process.stdout),
    stderr: pipeWriter(process.stderr),
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    env: process.env,
    homedir: os.homedir(),
    cwd: process.cwd(),
    treesDir: path.join(REPO_ROOT, 'devicetrees'),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
