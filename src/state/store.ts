/**
 * The state file: one JSON document standing in for the kernel's memory.
 * Mutations run under an exclusive lock file and are written to a temporary file,
 * fsynced and renamed into place, so readers see the old or the new machine, never
 * a torn one. A file we cannot trust is never overwritten.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StateError } from '../base/errors.js';
import type { Machine } from '../base/machine.js';

export const STATE_FORMAT = 'vfioctl-state';
export const STATE_VERSION = 1;

export interface StateEnv {
  env: Record<string, string | undefined>;
  homedir: string;
}

/** --state, else $VFIOCTL_STATE, else $XDG_STATE_HOME/vfioctl/state.json, else ~/.local/state/vfioctl/state.json */
export function statePath(flag: string | undefined, e: StateEnv): string {
  if (flag) return path.resolve(flag);
  if (e.env['VFIOCTL_STATE']) return path.resolve(e.env['VFIOCTL_STATE']);
  const xdg = e.env['XDG_STATE_HOME'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'vfioctl', 'state.json');
  return path.join(e.homedir, '.local', 'state', 'vfioctl', 'state.json');
}

const RECOVER = (p: string): string =>
  `the file was left untouched; start a new machine with: vfioctl --state ${p} load --force <tree> (the bundled default is: vfioctl load --force default), or move the file away first to keep it`;

/** Read and check the state file; null when there is none yet. */
export function readState(p: string): Machine | null {
  let text: string;
  try {
    text = fs.readFileSync(p, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EISDIR') throw new StateError(p, 'state file is a directory', `remove or rename it, or point --state at a file`);
    if (code === 'EACCES' || code === 'EPERM') throw new StateError(p, 'state file is not readable (permission denied)', `fix its permissions (chmod u+rw ${p}) or use another --state`);
    throw new StateError(p, `cannot read state file: ${(e as Error).message}`, RECOVER(p));
  }
  return parseState(p, text);
}

export function parseState(p: string, text: string): Machine {
  if (text.length === 0) throw new StateError(p, 'state file is empty (a write was cut short, or it was truncated)', RECOVER(p));
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new StateError(p, `state file is not valid JSON (${(e as Error).message}); it may be truncated or corrupt`, RECOVER(p));
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new StateError(p, 'state file is not a vfioctl state (not a JSON object)', RECOVER(p));
  const o = doc as Record<string, unknown>;
  if (o['format'] !== STATE_FORMAT) throw new StateError(p, `state file is not a vfioctl state (format is ${JSON.stringify(o['format'])}, expected "${STATE_FORMAT}")`, RECOVER(p));
  const v = o['version'];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new StateError(p, `state file has no valid version (${JSON.stringify(v)})`, RECOVER(p));
  if (v > STATE_VERSION) {
    throw new StateError(p, `state file was written by a newer vfioctl (format version ${v}; this one reads up to ${STATE_VERSION})`, `upgrade vfioctl, or keep that file and use another --state`);
  }
  const m = o['machine'];
  if (!isMachineShape(m)) throw new StateError(p, 'state file has the wrong shape (machine is missing or incomplete)', RECOVER(p));
  return m;
}

function isMachineShape(m: unknown): m is Machine {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  return (
    Array.isArray(x['devices']) && Array.isArray(x['drivers']) && Array.isArray(x['groups']) && Array.isArray(x['log']) &&
    Array.isArray(x['modules']) && Array.isArray(x['owners']) && typeof x['clockUs'] === 'number' && typeof x['buses'] === 'object' &&
    (x['devices'] as unknown[]).every((d) => typeof d === 'object' && d !== null && typeof (d as Record<string, unknown>)['name'] === 'string')
  );
}

export function serializeState(m: Machine): string {
  return JSON.stringify({ format: STATE_FORMAT, version: STATE_VERSION, machine: m }) + '\n';
}

/** Write atomically: temp file in the same directory, fsync, rename, fsync the directory. */
export function writeState(p: string, m: Machine): void {
  const dir = path.dirname(p);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${p}.tmp.${process.pid}`;
  const data = serializeState(m);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, p);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  }
}

// ---- locking ----

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLockPid(lock: string): number | null {
  try {
    const t = fs.readFileSync(lock, 'utf8');
    const pid = Number.parseInt(t, 10);
    return Number.isFinite(pid) ? pid : null;
  } catch {
    return null;
  }
}

export interface LockHandle {
  release(): void;
  /** stale locks of dead processes that were removed on the way */
  recovered: number[];
}

/**
 * Take `<state>.lock` (O_EXCL, holding our pid). A lock whose pid is dead is removed
 * (under a short-lived `.break` lock so two recoverers cannot remove a fresh lock).
 * Waits up to `timeoutMs`, then fails naming the holder.
 */
export function acquireLock(p: string, timeoutMs: number): LockHandle {
  const lock = `${p}.lock`;
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  const recovered: number[] = [];
  let delay = 2;
  for (;;) {
    try {
      const fd = fs.openSync(lock, 'wx', 0o644);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return {
        recovered,
        release: () => {
          if (readLockPid(lock) === process.pid) fs.rmSync(lock, { force: true });
        },
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new StateError(p, `cannot create lock file ${lock}: ${(e as Error).message}`, 'check that the directory is writable');
    }
    const holder = readLockPid(lock);
    if (holder !== null && !pidAlive(holder)) {
      if (breakStaleLock(lock, holder)) recovered.push(holder);
      continue;
    }
    if (holder === null) {
      // being written right now, or garbage: give it a moment, then treat garbage as stale
      try {
        const st = fs.statSync(lock);
        if (Date.now() - st.mtimeMs > 2000 && breakStaleLock(lock, null)) continue;
      } catch {
        continue;
      }
    }
    if (Date.now() >= deadline) {
      throw new StateError(
        p,
        `state file is locked by pid ${holder ?? '?'} (lock ${lock}), which still holds it after ${(timeoutMs / 1000).toFixed(1)} s`,
        `wait for that vfioctl to finish; if pid ${holder ?? '?'} is not a vfioctl, remove ${lock}`,
      );
    }
    sleepMs(delay + Math.floor(Math.random() * delay));
    delay = Math.min(delay * 2, 50);
  }
}

function breakStaleLock(lock: string, deadPid: number | null): boolean {
  const breaker = `${lock}.break`;
  let fd: number;
  try {
    fd = fs.openSync(breaker, 'wx', 0o644);
  } catch {
    const bp = readLockPid(breaker);
    if (bp !== null && !pidAlive(bp)) fs.rmSync(breaker, { force: true });
    return false;
  }
  try {
    fs.writeSync(fd, `${process.pid}\n`);
    fs.closeSync(fd);
    if (readLockPid(lock) === deadPid) {
      fs.rmSync(lock, { force: true });
      return true;
    }
    return false;
  } finally {
    fs.rmSync(breaker, { force: true });
  }
}
