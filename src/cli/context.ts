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
function pipeWriter(stream: NodeJS.WriteStream, failed: (e: NodeJS.ErrnoException) => void): Writer {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    closed = true;
    if (e.code !== 'EPIPE') failed(e);
  });
  return { write: (s) => void (closed || stream.write(s)) };
}

/**
 * Why writing to stdout failed (ENOSPC on a full device, EIO…), if it did: the command
 * still finished (and saved); run() reports it in one line with exit status 74.
 */
export const outputFailure: { stdout: NodeJS.ErrnoException | null } = { stdout: null };

export function processContext(): Context {
  return {
    stdout: pipeWriter(process.stdout, (e) => void (outputFailure.stdout ??= e)),
    // nowhere left to say it: stderr failing only goes quiet
    stderr: pipeWriter(process.stderr, () => {}),
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    env: process.env,
    homedir: os.homedir(),
    cwd: process.cwd(),
    treesDir: path.join(REPO_ROOT, 'devicetrees'),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
