/**
 * Replacing a file atomically: a temporary `<file>.tmp.<random>` beside it, created with
 * O_EXCL|O_NOFOLLOW (so nothing planted at that name is written through), written in
 * full, fsynced, renamed over `file`, then the directory fsynced. Readers see the old file
 * or the new one. And the removal of what killed writers left: only files named like our
 * temporaries whose content says they are (never by name or age alone).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newToken, tmpPath, TMP_SUFFIX } from './path.js';

const C = fs.constants;

export interface KeepAttrs {
  /** permission bits to give the new file (the old file's) */
  mode?: number;
  uid?: number;
  gid?: number;
}

/** Replace `file` atomically with `data` (the parts of a Buffer[] one after the other). On failure the temporary file is removed and the error thrown. */
export function writeFileAtomic(file: string, data: string | Buffer | readonly Buffer[], keep: KeepAttrs = {}): void {
  const dir = path.dirname(file);
  const tmp = tmpPath(file, newToken());
  const parts = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : Buffer.isBuffer(data) ? [data] : data;
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, keep.mode ?? 0o644);
  try {
    try {
      // write(2) may write less than asked (a full disk, a signal): go on until all is written
      for (const buf of parts) for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off);
      if (keep.mode !== undefined) fs.fchmodSync(fd, keep.mode); // past the umask
      if (keep.uid !== undefined && keep.gid !== undefined && keep.uid !== process.getuid?.()) {
        try {
          fs.fchownSync(fd, keep.uid, keep.gid);
        } catch {
          // not root: the file becomes ours, as any editor's save would make it
        }
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true }); // ours: created with O_EXCL above
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

/**
 * Remove the temporary files of `file` that killed writers left: `<file>.tmp.<12 hex>`,
 * a regular file whose first bytes `isOurs` recognises (the start of what we write, or
 * nothing: killed before the first write). Call it holding the lock of `file`, so that
 * no live writer's file can be among them.
 */
export function removeLeftovers(file: string, isOurs: (head: string) => boolean): void {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const f of names) {
    if (!f.startsWith(base) || !TMP_SUFFIX.test(f.slice(base.length))) continue;
    const p = path.join(dir, f);
    let fd: number;
    try {
      fd = fs.openSync(p, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    } catch {
      continue; // a link, a socket, gone: not ours
    }
    let ours = false;
    try {
      if (fs.fstatSync(fd).isFile()) {
        const head = Buffer.alloc(64);
        const n = fs.readSync(fd, head, 0, head.length, 0);
        ours = isOurs(head.toString('latin1', 0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
    if (ours) {
      try {
        fs.unlinkSync(p);
      } catch {
        // gone already
      }
    }
  }
}
