/** Everything a command may touch of the outside world; tests swap it for buffers. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { sleepMs } from '../state/lock.js';

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

/** the bundle's directory, set by its banner (scripts/build-bin.mjs); not there when run from tsc's output */
declare const __vfioctl_dir: string | undefined;
const HERE = typeof __vfioctl_dir === 'string' ? __vfioctl_dir : path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..', '..');

/**
 * A writer straight to a file descriptor, with write(2) (fs.writeSync) rather than
 * process.stdout: creating that stream costs up to 9 ms when the fd is a pipe (it loads
 * net), more than many commands take. Written whole (short writes continued; a full
 * non-blocking pipe waited on, as a blocking write would wait). It goes quiet once the
 * reader has gone (EPIPE, e.g. `vfioctl dmesg | head`): the command still finishes,
 * saves and releases its lock; nothing is printed about it. Any other error goes to
 * `failed` once, and the writer goes quiet too.
 */
function fdWriter(fd: number, failed: (e: NodeJS.ErrnoException) => void): Writer {
  let closed = false;
  return {
    write(s) {
      if (closed || s.length === 0) return;
      const buf = Buffer.from(s, 'utf8');
      for (let off = 0; off < buf.length; ) {
        try {
          off += fs.writeSync(fd, buf, off);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          if (err.code === 'EAGAIN') {
            sleepMs(1);
            continue;
          }
          closed = true;
          if (err.code !== 'EPIPE') failed(err);
          return;
        }
      }
    },
  };
}

/**
 * isatty(3) without loading node:tty (8 ms: it loads net): on Linux, the character
 * devices that are terminals have the tty majors (4 consoles and serial, 5 /dev/tty and
 * the console, 136–143 pseudo-terminals), and major 1 (/dev/null, /dev/zero…) never is.
 * Any other character device is asked through node:tty.
 */
function isTerminal(fd: number): boolean {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch {
    return false;
  }
  if (!st.isCharacterDevice()) return false;
  const major = (st.rdev >> 8) & 0xfff;
  if (major === 4 || major === 5 || (major >= 136 && major <= 143)) return true;
  if (major === 1) return false;
  return (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
}

/**
 * Why writing to stdout failed (ENOSPC on a full device, EIO…), if it did: the command
 * still finished (and saved); run() reports it in one line with exit status 74.
 */
export const outputFailure: { stdout: NodeJS.ErrnoException | null } = { stdout: null };

export function processContext(): Context {
  const tty: [boolean | undefined, boolean | undefined] = [undefined, undefined];
  return {
    stdout: fdWriter(1, (e) => void (outputFailure.stdout ??= e)),
    // nowhere left to say it: stderr failing only goes quiet
    stderr: fdWriter(2, () => {}),
    // asked only by a command that needs to know (colour, spinners, pacing)
    get stdoutIsTTY() {
      return (tty[0] ??= isTerminal(1));
    },
    get stderrIsTTY() {
      return (tty[1] ??= isTerminal(2));
    },
    env: process.env,
    homedir: os.homedir(),
    cwd: process.cwd(),
    treesDir: path.join(REPO_ROOT, 'devicetrees'),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
