/**
 * Opening the files vfioctl keeps next to its state (the state itself, lesson files)
 * without blocking, without following a symbolic link at the last component, and
 * reading at most a stated number of bytes. A FIFO, a device node, a socket or a
 * directory where a file should be is named, never opened for reading; nothing here
 * can hang on a pipe or grow without bound on /dev/zero.
 */
import * as fs from 'node:fs';

const C = fs.constants;
/** open(2) flags for reading a file of ours: never blocks on a FIFO, never follows a link */
export const O_READ_SAFE = C.O_RDONLY | C.O_NONBLOCK | C.O_NOFOLLOW;

/** What stands at a path, in words ("a FIFO", "a character device"…). */
export function kindOf(st: fs.Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export type ReadResult =
  | { ok: true; data: Buffer; stat: fs.Stats }
  | { ok: false; why: 'missing' }
  | { ok: false; why: 'symlink'; target: string }
  | { ok: false; why: 'not-regular'; kind: string; stat: fs.Stats }
  | { ok: false; why: 'too-big'; size: number }
  | { ok: false; why: 'denied' };

/**
 * Read the regular file at `p`, at most `cap` bytes. Not blocking, not following a
 * symbolic link at `p` (one is reported with its target), the type checked with fstat
 * before any read, the size checked before and while reading (a file that grows past
 * the cap meanwhile is refused too). Other errors are thrown.
 */
export function readRegular(p: string, cap: number): ReadResult {
  let fd: number;
  try {
    fd = fs.openSync(p, O_READ_SAFE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, why: 'missing' };
    if (code === 'ELOOP' || code === 'EMLINK') {
      let target = '?';
      try {
        target = fs.readlinkSync(p);
      } catch {
        // not a link after all (ELOOP from a loop above it): say so plainly
      }
      return { ok: false, why: 'symlink', target };
    }
    if (code === 'EACCES' || code === 'EPERM') return { ok: false, why: 'denied' };
    if (code === 'ENXIO') {
      // a socket, or a FIFO opened for writing: not a file either way
      return { ok: false, why: 'not-regular', kind: 'a socket or FIFO', stat: fs.lstatSync(p) };
    }
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { ok: false, why: 'not-regular', kind: kindOf(st), stat: st };
    if (st.size > cap) return { ok: false, why: 'too-big', size: st.size };
    // read until EOF, never more than cap + 1 bytes (a file growing meanwhile)
    const buf = Buffer.allocUnsafe(Math.min(cap + 1, st.size + 1 || 1));
    let chunks: Buffer[] | null = null;
    let cur = buf;
    let off = 0;
    let total = 0;
    for (;;) {
      if (off === cur.length) {
        if (total > cap) return { ok: false, why: 'too-big', size: total };
        (chunks ??= []).push(cur);
        cur = Buffer.allocUnsafe(Math.min(1 << 20, cap + 1 - total));
        off = 0;
      }
      const n = fs.readSync(fd, cur, off, cur.length - off, null);
      if (n === 0) break;
      off += n;
      total += n;
      if (total > cap) return { ok: false, why: 'too-big', size: total };
    }
    const data = chunks ? Buffer.concat([...chunks, cur.subarray(0, off)], total) : cur.subarray(0, off);
    return { ok: true, data, stat: st };
  } finally {
    fs.closeSync(fd);
  }
}

/** lstat, or null when nothing is there */
export function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}
