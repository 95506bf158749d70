/**
 * Writing an export (export.ts beside it plans it) so that a target that changes while it
 * is written cannot make vfioctl write outside it (issue 14.8). Node has no openat(2), so
 * the process working directory stands in for a directory file descriptor: a relative
 * name is resolved from the directory's inode, not from a path that can be re-pointed.
 *
 *  1. The target is checked (not a link, a directory), entered with chdir, and the entry
 *     is verified: `.` must have the device and inode the target had.
 *  2. A lock file `.vfioctl-export.lock` is created with O_CREAT|O_EXCL|O_NOFOLLOW; a
 *     second export of the same target is refused (EBUSY) while it exists. A lock whose
 *     holder is dead (same boot and PID namespace, no such process) is replaced.
 *  3. The tree is built in a fresh 0700 staging directory inside the target (mkdtemp).
 *     Every directory is made with mkdir and entered by its one-component name; after each
 *     chdir, `.` must be the directory just made and `..` the one we came from (device and
 *     inode), and after each `cd ..` the one recorded on the way down. Files are created
 *     with O_CREAT|O_EXCL|O_NOFOLLOW, links with symlink(2), both by a one-component name
 *     in that verified directory, so none is ever written through a link or outside.
 *  4. From inside the staging directory the old `sys`/`dev` of an earlier export are moved
 *     in (`../sys` → `old-sys`), the new ones moved out (`sys` → `../sys`), the marker put
 *     in place the same way; then the staging directory (with the old export) is removed.
 *
 * A directory that turns out changed (replaced by a link, moved) stops the export with
 * ELOOP or EBUSY, the staging directory and the lock are removed, and an earlier export
 * is left as it was. What is not guaranteed: someone with write access to the directories
 * vfioctl made (its own user, or root) can still move them elsewhere while they are being
 * filled; the files then go where the directory went, as they would if moved afterwards.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KernelError } from '../../../base/errors.js';
import { isErrnoName, errnoText, type ErrnoName } from '../../../base/errno.js';
import { shq } from '../../sys.js';

/** The file an export leaves at the top of its directory; --force replaces only what it marks. */
export const MARKER = '.vfioctl-export';
/** Held while an export writes into a directory. */
export const LOCK = '.vfioctl-export.lock';
/** mkdtemp prefix of the staging directory inside the target. */
export const STAGING_PREFIX = '.vfioctl-export-tmp-';
/** The file inside a staging directory that says an export made it (leftovers are recognised by it). */
const STAGING_MARK = '.vfioctl-staging';
/** What an export creates at the top of the target (and what --force may replace). */
const TOP = ['sys', 'dev'] as const;

/** One entry of the tree to write; `path` is the machine path ("/sys/bus/platform"), parents first. */
export type PlanEntry =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; mode: number; content: string; rdev?: string }
  | { kind: 'link'; path: string; target: string };

export interface ExportCounts {
  files: number;
  links: number;
  dirs: number;
  /** character devices written as empty regular files (counted in files too) */
  devNodes: number;
}

export interface WriteOptions {
  force: boolean;
  model: string;
  /** one shell line per entry written, with the final path (for --explain) */
  record(command: string, why: string): void;
}

export function refuse(code: ErrnoName, p: string, message: string, hint?: string): KernelError {
  return new KernelError(code, { op: 'exec', path: p, message: `export: ${message}`, hint });
}

/** What to do about the host errors an export meets (the rest get no hint). */
const HOST_HINTS: Partial<Record<ErrnoName, string>> = {
  EACCES: 'nothing was written outside the target; give a directory you may write to',
  ENOSPC: 'the partial export was removed and an earlier one left as it was; free some space or give another directory',
  EROFS: 'nothing was written; give a directory on a writable file system',
};

/** Node's error as the errno it carries (EACCES, ENOSPC, EROFS…), or unchanged when it has none we know. */
function hostError(e: unknown, p: string): unknown {
  if (e instanceof KernelError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && isErrnoName(code)) return refuse(code, p, `${p}: ${errnoText(code)}`, HOST_HINTS[code]);
  return e;
}

type Id = fs.BigIntStats;
const lst = (p: string): Id => fs.lstatSync(p, { bigint: true });
const same = (a: Id, b: Id): boolean => a.dev === b.dev && a.ino === b.ino;

function lstatOrNull(p: string): Id | null {
  try {
    return lst(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostError(e, p);
  }
}

function linkRefusal(p: string, what: string, rel = p): KernelError {
  let to = '';
  try {
    to = ` (-> ${fs.readlinkSync(rel)})`;
  } catch {
    // gone or unreadable: the message without the target is still right
  }
  return refuse('ELOOP', p, `${what} ${p} is a symbolic link${to}; export never writes through a link`, 'nothing was written; give a real directory (for a link to one: vfioctl export "$(realpath DIR)"), or remove the link');
}

function changed(p: string): KernelError {
  return refuse('EBUSY', p, `${p} changed while the export was written (a directory was replaced or moved); export stopped`, 'nothing was written outside the directories this export made, and an earlier export was left as it was; run it again');
}

/** Create a regular file (one name, in the current directory) that must not exist yet, with exactly `mode`. */
function createFile(name: string, content: string, mode: number): void {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    if (content.length) fs.writeSync(fd, content);
    fs.fchmodSync(fd, mode); // not subject to the umask, unlike open's mode
  } finally {
    fs.closeSync(fd);
  }
}

/** Who holds a lock, in terms that survive PID namespaces: the pid only counts in the same boot and namespace. */
function holder(): { pid: number; pidns: string | null; boot: string | null } {
  let pidns: string | null = null;
  let boot: string | null = null;
  try {
    pidns = fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    // no /proc: a lock of ours is then never taken for stale
  }
  try {
    boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // likewise
  }
  return { pid: process.pid, pidns, boot };
}

/** A lock left by a process that is certainly gone (same boot and PID namespace, pid not running). */
function staleLock(text: string): boolean {
  let h: { pid?: unknown; pidns?: unknown; boot?: unknown };
  try {
    h = JSON.parse(text) as typeof h;
  } catch {
    return false;
  }
  const me = holder();
  if (typeof h.pid !== 'number' || me.pidns === null || me.boot === null || h.pidns !== me.pidns || h.boot !== me.boot) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The walk's position: the directories entered below the target, each with its identity. */
class Cursor {
  private readonly stack: { name: string; id: Id }[] = [];
  constructor(readonly base: string, private readonly top: Id) {}

  /** Final path (under the target) of `name` in the current directory. */
  shown(name?: string): string {
    return path.join(this.base, ...this.stack.map((s) => s.name), ...(name === undefined ? [] : [name]));
  }

  get depth(): number {
    return this.stack.length;
  }

  names(): string[] {
    return this.stack.map((s) => s.name);
  }

  private current(): Id {
    return this.stack[this.stack.length - 1]?.id ?? this.top;
  }

  /** chdir into `name` (a directory of the current one) and verify where we are. */
  enter(name: string): void {
    const shown = this.shown(name);
    const before = lst(name);
    if (before.isSymbolicLink()) throw linkRefusal(shown, 'directory', name);
    if (!before.isDirectory()) throw changed(shown);
    process.chdir(name);
    if (!same(lst('.'), before) || !same(lst('..'), this.current())) throw changed(shown);
    this.stack.push({ name, id: before });
  }

  /** cd .. and verify we are back in the directory recorded on the way down. */
  leave(): void {
    const shown = this.shown();
    this.stack.pop();
    process.chdir('..');
    if (!same(lst('.'), this.current())) throw changed(shown);
  }
}

/** The checks of the target's top level, made under the lock: empty, or an earlier export with --force. */
function checkTop(base: string, force: boolean): string[] {
  const names = fs.readdirSync('.').filter((n) => n !== LOCK && !n.startsWith(STAGING_PREFIX));
  if (names.length === 0) return [];
  const marker = path.join(base, MARKER);
  const ms = lstatOrNull(MARKER);
  if (!force) {
    throw refuse('EEXIST', base, `${base} is not empty`, ms
      ? 'it holds an earlier export: add --force to replace its sys/ and dev/ (nothing else in it is touched)'
      : 'give a new or empty directory (--force replaces only the sys/ and dev/ an earlier export made)');
  }
  if (ms && !ms.isFile()) {
    if (ms.isSymbolicLink()) throw linkRefusal(marker, 'marker', MARKER);
    throw refuse('EEXIST', marker, `${marker} is not a file vfioctl export wrote`, 'move it away, or give another directory');
  }
  const old: string[] = [];
  for (const top of TOP) {
    const p = path.join(base, top);
    const s = lstatOrNull(top);
    if (!s) continue;
    if (s.isSymbolicLink()) throw linkRefusal(p, 'existing', top);
    if (!s.isDirectory()) throw refuse('EEXIST', p, `${p} exists and is not a directory an export made`, 'move it away, or give another directory');
    if (!ms) throw refuse('EEXIST', p, `${p} exists and was not made by vfioctl export (no ${MARKER} file in ${base})`, 'vfioctl removes only what an earlier export made: move it away, or give another directory');
    old.push(top);
  }
  return old;
}

/** Staging directories of killed exports (recognised by the mark inside, never by name alone): removed under the lock. */
function removeLeftovers(): void {
  for (const n of fs.readdirSync('.')) {
    if (!n.startsWith(STAGING_PREFIX)) continue;
    const s = lstatOrNull(n);
    const mark = s?.isDirectory() ? lstatOrNull(`${n}/${STAGING_MARK}`) : null;
    if (mark?.isFile()) fs.rmSync(n, { recursive: true, force: true });
  }
}

function takeLock(base: string): void {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const text = JSON.stringify(holder()) + '\n';
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(LOCK, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        fs.writeSync(fd, text);
      } finally {
        fs.closeSync(fd);
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw hostError(e, path.join(base, LOCK));
    }
    const st = lstatOrNull(LOCK);
    let held = '';
    if (st?.isFile()) {
      try {
        const fd = fs.openSync(LOCK, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
        try {
          held = fs.readFileSync(fd, 'utf8').slice(0, 4096);
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        // vanished or unreadable: try again once, then refuse
      }
    }
    if (attempt === 0 && st?.isFile() && staleLock(held)) {
      fs.rmSync(LOCK, { force: true });
      removeLeftovers();
      continue;
    }
    if (attempt === 0 && !st) continue;
    const who = /"pid":(\d+)/.exec(held)?.[1];
    throw refuse('EBUSY', base, `another vfioctl export is writing to ${base}${who ? ` (pid ${who})` : ''}`,
      `wait for it to finish; if no export is running (one was killed in another container or before a reboot), remove ${path.join(base, LOCK)}`);
  }
}

/** Build the plan in the current (staging) directory. */
function build(cur: Cursor, plan: readonly PlanEntry[], opts: WriteOptions, res: ExportCounts): void {
  const stagingDepth = cur.depth;
  for (const e of plan) {
    const parts = e.path.split('/').filter(Boolean);
    const name = parts.pop()!;
    // move to the entry's parent: up while the current directory is not on its path, then down
    const at = cur.names().slice(stagingDepth);
    let common = 0;
    while (common < at.length && common < parts.length && at[common] === parts[common]) common++;
    for (let i = at.length; i > common; i--) cur.leave();
    for (let i = common; i < parts.length; i++) cur.enter(parts[i]!);
    const shown = path.join(cur.base, e.path);
    if (e.kind === 'dir') {
      fs.mkdirSync(name, 0o755); // fails on anything already there, link or not
      fs.chmodSync(name, 0o755);
      opts.record(`mkdir ${shq(shown)}`, 'a sysfs directory');
      res.dirs++;
    } else if (e.kind === 'link') {
      fs.symlinkSync(e.target, name);
      opts.record(`ln -s ${shq(e.target)} ${shq(shown)}`, 'a sysfs link, relative as the kernel makes it');
      res.links++;
    } else {
      createFile(name, e.content, e.mode);
      const src = e.rdev !== undefined || !e.content ? '/dev/null' : shq(e.path);
      const why = e.rdev !== undefined
        ? `stands in for the character device ${e.rdev} (mknod needs privileges)`
        : e.content ? 'an attribute: what read(2) returns, with its mode' : 'a write-only attribute: empty, with its mode';
      opts.record(`install -m ${e.mode.toString(8).padStart(4, '0')} ${src} ${shq(shown)}`, why);
      res.files++;
      if (e.rdev !== undefined) res.devNodes++;
    }
  }
  while (cur.depth > stagingDepth) cur.leave();
}

/**
 * Make `base` (absolute) hold the export of `plan`: create it if missing, refuse what
 * must not be replaced, build, move into place (see the header). Throws KernelError.
 */
export function writeExportTree(base: string, plan: readonly PlanEntry[], opts: WriteOptions): ExportCounts {
  const st = lstatOrNull(base);
  if (!st) {
    try {
      try {
        fs.mkdirSync(base, 0o755);
      } catch (e) {
        // a missing parent: make the path (a plain mkdir first, so EROFS and EACCES are told as they are)
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        fs.mkdirSync(base, { recursive: true, mode: 0o755 });
      }
    } catch (e) {
      throw hostError(e, base);
    }
  } else if (st.isSymbolicLink()) throw linkRefusal(base, 'target');
  else if (!st.isDirectory()) throw refuse('ENOTDIR', base, `${base} is not a directory`, 'give a new or empty directory');
  const top = lst(base);
  if (top.isSymbolicLink()) throw linkRefusal(base, 'target');
  let home: string | null = null;
  try {
    home = process.cwd();
  } catch {
    // the working directory was removed: nothing to go back to
  }
  const res: ExportCounts = { files: 0, links: 0, dirs: 0, devNodes: 0 };
  let locked = false;
  let staging: string | null = null;
  const cur = new Cursor(base, top);
  try {
    process.chdir(base);
    if (!same(lst('.'), top)) throw changed(base);
    takeLock(base);
    locked = true;
    const old = checkTop(base, opts.force);
    staging = fs.mkdtempSync(STAGING_PREFIX);
    fs.chmodSync(staging, 0o700);
    cur.enter(staging);
    createFile(STAGING_MARK, '', 0o600);
    createFile('marker', `vfioctl export of ${opts.model}\nvfioctl export --force replaces the sys/ and dev/ next to this file\n`, 0o644);
    build(cur, plan, opts, res);
    // into place, every name relative to the verified staging directory and its parent
    for (const t of old) fs.renameSync(`../${t}`, `old-${t}`);
    for (const t of TOP) if (lstatOrNull(t)) fs.renameSync(t, `../${t}`);
    fs.renameSync('marker', `../${MARKER}`);
    cur.leave();
    fs.rmSync(staging, { recursive: true, force: true });
    staging = null;
    return res;
  } catch (e) {
    throw hostError(e, cur.shown());
  } finally {
    try {
      // clean up only from the target itself, reached by verified steps
      while (cur.depth > 0) cur.leave();
      if (staging !== null) fs.rmSync(staging, { recursive: true, force: true });
      if (locked) fs.rmSync(LOCK, { force: true });
    } catch {
      // the tree changed under us: leave what is there rather than remove anything unverified
    }
    if (home !== null) {
      try {
        process.chdir(home);
      } catch {
        // gone meanwhile
      }
    }
  }
}
