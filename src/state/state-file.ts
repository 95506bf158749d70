/**
 * The state file on disk: read (bounded, regular files only, never through a link),
 * written (atomically, keeping the file's mode), and moved aside when it cannot be used.
 * writeState has one caller, src/state/session.ts, which holds the lock around it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StateError } from '../base/errors.js';
import type { Machine } from '../base/machine.js';
import { parseState, encodeStateParts, RECOVER, STATE_FORMAT } from './codec.js';
import { readRegular, lstatOrNull, kindOf } from './file.js';
import { writeFileAtomic, removeLeftovers, type KeepAttrs } from './atomic.js';

/** The largest state file vfioctl reads or writes (README "Limits on input"). */
export const STATE_MAX_BYTES = 16 * 1024 * 1024;
const MIB = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

export interface StateRead {
  m: Machine;
  /** what to keep of the file when it is replaced */
  keep: KeepAttrs;
}

/** Read and check the state file; null when there is none yet. Throws StateError (exit 4). */
export function readState(p: string): Machine | null {
  return readStateFile(p)?.m ?? null;
}

export function readStateFile(p: string): StateRead | null {
  let r;
  try {
    r = readRegular(p, STATE_MAX_BYTES);
  } catch (e) {
    throw new StateError(p, `cannot read state file: ${(e as Error).message}`, RECOVER(p));
  }
  if (r.ok) return { m: parseState(p, r.data), keep: { mode: r.stat.mode & 0o7777, uid: r.stat.uid, gid: r.stat.gid } };
  switch (r.why) {
    case 'missing':
      return null;
    case 'denied':
      throw new StateError(p, 'state file is not readable (permission denied)', `the file was left untouched; fix its permissions (chmod u+rw ${p}), use another --state, or run: vfioctl --state ${p} load --force default, which moves it aside to ${p}.corrupt-<time>`);
    case 'symlink':
      throw new StateError(
        p,
        `state file is a symbolic link (to ${r.target}); vfioctl neither reads nor writes a state file through a link`,
        `nothing was read or changed; point --state at the file itself (--state ${path.resolve(path.dirname(p), r.target)}), or replace the link by that file`,
      );
    case 'too-big':
      throw new StateError(p, `state file is too big: ${MIB(r.size)}, over the limit of ${MIB(STATE_MAX_BYTES)} (README "Limits on input")`, RECOVER(p));
    case 'not-regular':
      if (r.stat.isDirectory()) throw new StateError(p, 'state file is a directory', `the directory was left untouched; move it away, or point --state at a file`);
      throw new StateError(p, `state file is ${r.kind}, not a regular file`, `nothing was read or changed; point --state at a regular file (load --force moves only regular files aside)`);
  }
}

/** whether the first bytes of a temporary file are the start of a state document (or nothing yet) */
const isStateHead = (head: string): boolean => {
  const start = `{"format":"${STATE_FORMAT}"`;
  return head.length < start.length ? start.startsWith(head) : head.startsWith(start);
};

/**
 * Write the machine atomically (atomic.ts), keeping the old file's mode (and owner, for
 * root); then remove the temporary files of killed writers. The caller holds the lock.
 */
export function writeState(p: string, m: Machine, keep: KeepAttrs = {}): void {
  const text = encodeStateParts(m);
  const size = text.reduce((n, b) => n + b.length, 0);
  if (size > STATE_MAX_BYTES) {
    throw new StateError(p, `the machine is too big to keep: its state would take ${MIB(size)}, over the limit of ${MIB(STATE_MAX_BYTES)} (README "Limits on input")`, 'nothing was changed: the previous state is still in place; load a smaller tree');
  }
  try {
    writeFileAtomic(p, text, keep);
  } catch (e) {
    throw new StateError(p, `cannot write the state file: ${(e as Error).message}`, `nothing was changed: the previous state is still in place; check the free space and permissions of ${path.dirname(p)}`);
  }
  removeLeftovers(p, isStateHead);
}

/**
 * Move an unusable state file aside to `<state>.corrupt-<UTC time>` (suffixed -1, -2… if
 * taken), keeping it byte for byte. Only a regular file is moved: a directory, a link, a
 * device node or a FIFO is refused (StateError), never renamed. Returns the new path, or
 * null when there is nothing at `p`. Call it holding the lock.
 */
export function setAside(p: string, now: Date = new Date()): string | null {
  const st = lstatOrNull(p);
  if (!st) return null;
  if (!st.isFile()) {
    throw new StateError(p, `the state file is ${kindOf(st)}, not a regular file: load --force moves only regular files aside`, 'nothing was moved or changed; move it away yourself, or point --state at another file');
  }
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  for (let n = 0; ; n++) {
    const dest = n === 0 ? `${p}.corrupt-${stamp}` : `${p}.corrupt-${stamp}-${n}`;
    if (lstatOrNull(dest)) continue;
    try {
      // link(2) never replaces what is at dest; then the old name goes
      fs.linkSync(p, dest);
      fs.unlinkSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK' && code !== 'EXDEV') throw e;
      fs.renameSync(p, dest); // no hard links here: the lock keeps other vfioctls away meanwhile
    }
    return dest;
  }
}
