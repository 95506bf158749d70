/**
 * Reading a tree file's bytes, bounded, and decoding its text: shared by every format
 * reader (read.ts sniffs the format, dts.ts hands the source to cpp/dtc). Filesystem
 * errors become TreeErrors that say what is wrong with the file.
 */
import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { TreeError } from '../tree.js';

/** Largest tree file we read (a real board DTB is well under 1 MiB). */
export const MAX_TREE_FILE = 64 * 1024 * 1024;

/**
 * A filesystem error as a TreeError that says what is wrong and how to fix it. `cwd` is
 * the caller's working directory (where relative paths start), named in the ENOENT text.
 */
export function fileReadError(e: unknown, file: string, cwd?: string): TreeError {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const loc = { file };
  switch (code) {
    case 'ENOENT':
      return new TreeError(cwd === undefined ? 'no such file; check the path' : `no such file; check the path (relative paths start at ${cwd})`, loc);
    case 'EISDIR':
      return new TreeError('is a directory; give the device-tree file inside it (.yaml, .dtb or .dts)', loc);
    case 'ENOTDIR':
      return new TreeError('no such file: a part of the path is a file, not a directory; check the path', loc);
    case 'EACCES':
    case 'EPERM':
      return new TreeError(
        file.startsWith('/sys/') || file.startsWith('/proc/')
          ? 'permission denied; this file is readable by root only: run as root (sudo) or copy it first'
          : 'permission denied; make the file readable (chmod a+r) or run as a user who can read it',
        loc,
      );
    case 'ELOOP':
      return new TreeError('too many levels of symbolic links; check where the links point', loc);
    default: {
      const msg = e instanceof Error ? e.message : String(e);
      return new TreeError(`cannot read the file: ${msg}`, loc);
    }
  }
}

function tooBig(file: string, size: number): TreeError {
  return new TreeError(
    `file is too big (${size > MAX_TREE_FILE ? 'over ' : ''}${Math.round(size / 1048576)} MiB); a device tree is at most 64 MiB here` +
      ' — is this really a device-tree file?',
    { file },
  );
}

/** What a file that is neither a regular file nor a directory is, for the refusal. */
function special(st: import('node:fs').Stats): string | null {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return null;
}

/**
 * Read at most MAX_TREE_FILE bytes of a regular file; works for sysfs files (size may be
 * reported as 4096 or 0). Opened with O_NONBLOCK, so a FIFO with no writer cannot block the
 * open, then refused by its type (fstat) like any other file that is not a regular file.
 */
export async function readBoundedFile(file: string, cwd?: string): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw fileReadError(e, file, cwd);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw fileReadError(Object.assign(new Error('EISDIR'), { code: 'EISDIR' }), file);
    const kind = special(st);
    if (kind) throw new TreeError(`is ${kind}, not a regular file; give the device-tree file itself (a stream: save it to a file first)`, { file });
    if (st.size > MAX_TREE_FILE) throw tooBig(file, st.size);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const buf = new Uint8Array(Math.min(1 << 20, MAX_TREE_FILE + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > MAX_TREE_FILE) throw tooBig(file, total);
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  } catch (e) {
    throw e instanceof TreeError ? e : fileReadError(e, file, cwd);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Offset of the first byte that is not part of valid UTF-8, or -1 (cf. the Unicode Standard, Table 3-7). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return -1;
}

/** Decode UTF-8 text; invalid bytes give a TreeError at the line:column of the first one. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  // the native check first; the byte-by-byte walk only to say where a bad file goes wrong
  const bad = isUtf8(bytes) ? -1 : firstInvalidUtf8(bytes);
  if (bad < 0) return new TextDecoder('utf-8').decode(bytes);
  let lineStart = 0;
  let line = 1;
  for (let i = 0; i < bad; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  const column = [...new TextDecoder('utf-8').decode(bytes.subarray(lineStart, bad))].length + 1;
  throw new TreeError(
    `invalid UTF-8 (byte 0x${(bytes[bad] ?? 0).toString(16).padStart(2, '0')}); device-tree text files must be UTF-8` +
      ' (a binary file that is not a DTB? a Latin-1 file? convert it with iconv -t UTF-8)',
    { file, line, column },
  );
}

