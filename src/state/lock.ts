/**
 * The exclusive lock a mutating command holds from reading a file of ours (the state, the
 * lesson progress) to writing it.
 *
 * The lock is flock(2) on `<file>.lock`, which the kernel arbitrates: it is released
 * when its holder exits however it ends (kill -9 included), in any PID namespace, and
 * over NFS (where Linux maps flock to a whole-file POSIX lock). Node has no flock, so
 * the lock is taken by flock(1) of util-linux on an fd this process opened and passes
 * down: the lock belongs to the open file description, which this process keeps after
 * flock(1) exits (the shell's `exec 9>file; flock 9`). Waiting happens in the kernel
 * (`flock -w`), so nothing spins.
 *
 * Without flock(1) (or where the filesystem refuses flock), the lock is the lock file
 * itself, created with O_EXCL, naming its holder by pid, PID namespace, boot id and
 * start time (lock-holder.ts); it is removed only when its holder is certainly gone.
 *
 * The lock file is ours only if it is empty or starts with LOCK_MARKER: anything else
 * at that name (a machine saved as `box.json.lock`, a FIFO, a link) is refused, never
 * removed, truncated or written. It is removed when the command ends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runWithFd } from './run-child.js';
import { StateError } from '../base/errors.js';
import { lockPath, newToken } from './path.js';
import { kindOf } from './file.js';
import { describeHolder, holderText, isGone, parseHolder, self, type Holder } from './lock-holder.js';

export interface LockHandle {
  release(): void;
  /** pids of holders that ended without releasing the lock (killed), found on the way */
  recovered: number[];
}

const C = fs.constants;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}

/** whether flock(1) works here; found out on first use */
let flockWorks: boolean | null = null;

/**
 * Take the lock of `file`, waiting up to `timeoutMs`. Throws StateError (exit 4) when it
 * is held too long, or when something that is not a vfioctl lock file is in its place.
 */
export function acquireLock(file: string, timeoutMs: number): LockHandle {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (e) {
    throw new StateError(file, `cannot create the directory of the state file: ${(e as Error).message}`, 'use another --state, or check the permissions of its directory');
  }
  const deadline = Date.now() + Math.max(0, timeoutMs);
  if (flockWorks !== false && process.env['VFIOCTL_LOCK_FALLBACK'] !== '1') {
    const h = flockLock(file, deadline, timeoutMs);
    if (h) return h;
  }
  return fileLock(file, deadline, timeoutMs);
}

/** Open the lock file for locking: created if missing, never through a link, never blocking. */
function openLockFile(file: string, lock: string): number {
  let fd: number;
  try {
    fd = fs.openSync(lock, C.O_RDWR | C.O_CREAT | C.O_NOFOLLOW | C.O_NONBLOCK, 0o644);
  } catch (e) {
    throw notOurs(file, lock, e as NodeJS.ErrnoException);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw inTheWay(file, lock, kindOf(st));
  }
  return fd;
}

/** What the lock file at fd holds: '' (new), a holder, or null when it is not a lock file of ours. */
function readLockFd(fd: number): Holder | '' | null {
  const buf = Buffer.alloc(4096);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  if (n === 0) return '';
  return parseHolder(buf.toString('latin1', 0, n));
}

function notOurs(file: string, lock: string, e: NodeJS.ErrnoException): StateError {
  if (e.code === 'ELOOP' || e.code === 'EMLINK') return inTheWay(file, lock, 'a symbolic link');
  if (e.code === 'EISDIR') return inTheWay(file, lock, 'a directory');
  if (e.code === 'ENXIO') return inTheWay(file, lock, 'a socket');
  return new StateError(file, `cannot create lock file ${lock}: ${e.message}`, `nothing was changed; check that ${path.dirname(lock)} is writable`);
}

function inTheWay(file: string, lock: string, what: string): StateError {
  return new StateError(
    file,
    `the lock file ${lock} is ${what === 'a regular file' ? 'a file that vfioctl did not write (it does not start with "vfioctl-lock")' : what}, not a vfioctl lock file`,
    `nothing was changed and ${lock} was left as it is; move it away (it is not vfioctl's), or use another --state`,
  );
}

function heldTooLong(file: string, lock: string, timeoutMs: number, holder: Holder | '' | null): StateError {
  const waited = `${(timeoutMs / 1000).toFixed(1)} s`;
  if (!holder) {
    // flock(2) held by a process that wrote no name into the lock file (not a vfioctl, or one just starting)
    return new StateError(
      file,
      `state file is locked (lock ${lock}) by a process that does not name itself in the lock file, which still holds it after ${waited}`,
      `nothing was changed; wait longer (VFIOCTL_LOCK_TIMEOUT=<seconds>), or find the holder (fuser ${lock}) and end it: the lock goes with it`,
    );
  }
  return new StateError(
    file,
    `state file is locked by ${describeHolder(holder)} (lock ${lock}), which still holds it after ${waited}`,
    `nothing was changed; wait for that vfioctl to finish (or wait longer: VFIOCTL_LOCK_TIMEOUT=<seconds>); if pid ${holder.pid} is not a vfioctl, end it (the lock goes with it)`,
  );
}

/** flock(1) on fd 3 (our fd): 0 locked, 1 busy or timed out, null when flock cannot be used here. */
function runFlock(fd: number, waitMs: number | null): 0 | 1 | null {
  const args = waitMs === null ? ['-x', '-n', '3'] : ['-x', '-w', (waitMs / 1000).toFixed(3), '3'];
  const r = runWithFd('flock', args, fd, (waitMs ?? 0) + 10_000);
  if (r.failed || r.signal) return null;
  if (r.status === 0) return 0;
  if (r.status === 1) return 1;
  return null; // a usage error (a flock without -w), or a filesystem without flock: use the lock file
}

function flockLock(file: string, deadline: number, timeoutMs: number): LockHandle | null {
  const lock = lockPath(file);
  const recovered: number[] = [];
  for (;;) {
    const fd = openLockFile(file, lock);
    let keep = false;
    try {
      const before = readLockFd(fd);
      if (before === null) throw inTheWay(file, lock, 'a regular file');
      let r = runFlock(fd, null);
      if (r === 1) {
        const left = deadline - Date.now();
        r = left > 0 ? runFlock(fd, left) : 1;
      }
      if (r === null) {
        flockWorks = false;
        removeIfEmpty(lock, fd);
        return null;
      }
      flockWorks = true;
      if (r === 1) throw heldTooLong(file, lock, timeoutMs, readLockFd(fd));
      // the lock is ours if the file is still the one at that name (a holder unlinks it when it is done)
      const now = fs.fstatSync(fd);
      let there: fs.Stats | null = null;
      try {
        there = fs.lstatSync(lock);
      } catch {
        // removed by the holder we waited for: take the next one
      }
      if (!there || there.ino !== now.ino || there.dev !== now.dev) continue;
      const prev = readLockFd(fd);
      if (prev === null) throw inTheWay(file, lock, 'a regular file');
      if (prev !== '' && prev.pid !== process.pid) recovered.push(prev.pid);
      const text = holderText(self(), newToken());
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, text, 0);
      keep = true;
      return {
        recovered,
        release: () => {
          try {
            const st = fs.lstatSync(lock);
            if (st.ino === now.ino && st.dev === now.dev) fs.unlinkSync(lock);
          } catch {
            // gone already
          }
          fs.closeSync(fd);
        },
      };
    } finally {
      if (!keep) fs.closeSync(fd);
    }
  }
}

/** A lock file this process created and found flock(1) unusable on: remove it if nothing is in it. */
function removeIfEmpty(lock: string, fd: number): void {
  try {
    const st = fs.fstatSync(fd);
    const there = fs.lstatSync(lock);
    if (st.size === 0 && there.ino === st.ino) fs.unlinkSync(lock);
  } catch {
    // not there, or not ours to remove
  }
}

/** The lock without flock(1): the lock file itself, created with O_EXCL, naming its holder. */
function fileLock(file: string, deadline: number, timeoutMs: number): LockHandle {
  const lock = lockPath(file);
  const recovered: number[] = [];
  const me = self();
  const token = newToken();
  let delay = 2;
  for (;;) {
    let fd: number | null = null;
    try {
      fd = fs.openSync(lock, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw notOurs(file, lock, e as NodeJS.ErrnoException);
    }
    if (fd !== null) {
      try {
        fs.writeSync(fd, holderText(me, token));
      } finally {
        fs.closeSync(fd);
      }
      return {
        recovered,
        release: () => {
          const h = readLockPath(file, lock);
          if (h && h !== 'missing' && h.token === token) fs.rmSync(lock, { force: true });
        },
      };
    }
    const holder = readLockPath(file, lock);
    if (holder === 'missing') continue;
    if (holder === null) throw inTheWay(file, lock, 'a regular file');
    if (holder !== '' && isGone(holder, me)) {
      if (breakLock(lock, holder)) recovered.push(holder.pid);
      continue;
    }
    if (Date.now() >= deadline) throw heldTooLong(file, lock, timeoutMs, holder);
    sleepMs(Math.min(delay + Math.floor(Math.random() * delay), Math.max(1, deadline - Date.now())));
    delay = Math.min(delay * 2, 50);
  }
}

function readLockPath(file: string, lock: string): Holder | '' | null | 'missing' {
  let fd: number;
  try {
    fd = fs.openSync(lock, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw notOurs(file, lock, e as NodeJS.ErrnoException);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw inTheWay(file, lock, kindOf(st));
    return readLockFd(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Remove the lock of a holder that is certainly gone: renamed aside first (one rename
 * wins), then checked to be that holder's (its token), then removed. If another process
 * took the lock in between, its file is put back.
 */
function breakLock(lock: string, dead: Holder): boolean {
  const aside = `${lock}.stale.${newToken()}`;
  try {
    fs.renameSync(lock, aside);
  } catch {
    return false; // someone else broke it first
  }
  let h: Holder | '' | null = null;
  try {
    h = parseHolder(fs.readFileSync(aside, 'latin1'));
  } catch {
    // unreadable: treat as not the one we judged
  }
  if (h && h.token === dead.token) {
    fs.rmSync(aside, { force: true });
    return true;
  }
  try {
    fs.linkSync(aside, lock);
  } catch {
    // a new lock is in place already; the one we moved is gone for its holder
  }
  fs.rmSync(aside, { force: true });
  return false;
}
