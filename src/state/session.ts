/**
 * The one mutation protocol: lock → read → run → write. Every front end (the CLI through
 * src/cli/session.ts, the FUSE server) gets the machine here, and this is the only
 * caller of the state writer.
 *
 * - read: the state as it is, no lock (writers replace the file atomically, so a reader
 *   sees a whole machine). With no state file yet, it is booted and saved as a write.
 * - write: under the lock from reading to writing. The machine is saved when `fn`
 *   returns, and also when it throws a KernelError: the simulated kernel refused, and
 *   what the kernel did on the way (log lines, modules request_module loaded, the clock)
 *   stays, as on Linux. Any other error (usage, tree, state, a bug) saves nothing.
 *   `dryRun` saves nothing either.
 * - replace: a new machine in place of whatever is there (`load`, a lesson's start).
 */
import * as fs from 'node:fs';
import { KernelError, StateError } from '../base/errors.js';
import type { Machine } from '../base/machine.js';
import { acquireLock, type LockHandle } from './lock.js';
import { readStateFile, writeState, setAside, type StateRead } from './state-file.js';

export interface SessionOptions {
  /** the state file */
  path: string;
  /** how long to wait for the lock (VFIOCTL_LOCK_TIMEOUT) */
  lockTimeoutMs: number;
  /** run, but save nothing */
  dryRun?: boolean;
  /** the machine to start from when there is no state file yet */
  boot: () => Machine | Promise<Machine>;
  /** a note for the user (stale lock recovered, machine booted) */
  note?: (text: string) => void;
  /** time passing before a mutating run: the simulated clock, user-space activity */
  beforeWrite?: (m: Machine) => void | Promise<void>;
  /**
   * read mode: keep the decoded machine and hand it out again while the file is the
   * same (same inode, size and mtime): for a server reading per request. The machine
   * handed out must then not be changed by `fn`.
   */
  cache?: boolean;
}

export type Mode = 'read' | 'write';

let cached: { key: string; path: string; m: Machine } | null = null;
const statKey = (st: fs.Stats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

function readCached(p: string): Machine | null | undefined {
  if (!cached || cached.path !== p) return undefined;
  try {
    const st = fs.lstatSync(p);
    if (st.isFile() && statKey(st) === cached.key) return cached.m;
  } catch {
    // gone: read again
  }
  return undefined;
}

function readForCache(p: string): Machine | null {
  const before = fs.lstatSync(p, { throwIfNoEntry: false });
  const r = readStateFile(p);
  const after = fs.lstatSync(p, { throwIfNoEntry: false });
  if (r && before && after && statKey(before) === statKey(after)) cached = { key: statKey(after), path: p, m: r.m };
  return r?.m ?? null;
}

/** Run `fn` on the machine in the state file. */
export async function withState<T>(o: SessionOptions, mode: Mode, fn: (m: Machine) => T | Promise<T>): Promise<T> {
  if (mode === 'read') {
    const hit = o.cache ? readCached(o.path) : undefined;
    const m = hit ?? (o.cache ? readForCache(o.path) : readStateFile(o.path)?.m ?? null);
    if (m) return fn(m);
    // first use: boot the default machine and keep it
  }
  return locked(o, async () => {
    const r: StateRead | null = readStateFile(o.path);
    let m: Machine;
    if (!r) {
      m = await o.boot();
      o.note?.(`no state file at ${o.path}; booted the bundled default machine (${m.model})`);
    } else {
      m = r.m;
      await o.beforeWrite?.(m);
    }
    let result: T;
    try {
      result = await fn(m);
    } catch (e) {
      // the kernel refused: what it did on the way stays (SPEC §4)
      if (e instanceof KernelError && !o.dryRun) writeState(o.path, m, r?.keep);
      throw e;
    }
    if (!o.dryRun) writeState(o.path, m, r?.keep);
    return result;
  });
}

export interface Replaced {
  /** where an unusable file was moved (null: there was none, or --dry-run) */
  movedAside: string | null;
  /** why the file in place could not be used (only with force) */
  unusable: StateError | null;
}

/**
 * Put `next` in place of the state file, under the lock. `check` sees the machine there
 * (null when there is none) and may refuse. An unusable file is an error unless `force`,
 * which moves it aside first (a regular file only; setAside refuses anything else).
 */
export async function replaceState(o: SessionOptions, next: Machine, opts: { force: boolean; check?: (old: Machine | null) => void }): Promise<Replaced> {
  return locked(o, () => {
    let old: StateRead | null = null;
    let unusable: StateError | null = null;
    try {
      old = readStateFile(o.path);
    } catch (e) {
      if (!(e instanceof StateError) || !opts.force) throw e;
      unusable = e;
    }
    opts.check?.(old?.m ?? null);
    let movedAside: string | null = null;
    if (!o.dryRun) {
      // never overwrite what we could not read: keep it next to the new state
      if (unusable) movedAside = setAside(o.path);
      writeState(o.path, next, old?.keep);
    }
    return { movedAside, unusable };
  });
}

/** Run `fn` holding the lock of `o.path`; notes the stale locks recovered on the way. */
export async function locked<T>(o: Pick<SessionOptions, 'path' | 'lockTimeoutMs' | 'note'>, fn: () => T | Promise<T>): Promise<T> {
  const lock: LockHandle = acquireLock(o.path, o.lockTimeoutMs);
  try {
    for (const pid of lock.recovered) o.note?.(`removed a stale lock left by pid ${pid}, which no longer runs`);
    return await fn();
  } finally {
    lock.release();
  }
}
