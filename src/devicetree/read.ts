/**
 * Read a device-tree file in whatever format it is, like the kernel takes a DTB from
 * the boot loader (cf. drivers/of/fdt.c early_init_dt_verify()) but also accepting the
 * text forms people actually have:
 *
 *  - a DTB (magic 0xd00dfeed), e.g. `/sys/firmware/fdt` copied off a board;
 *  - device-tree source (`.dts`/`.dtsi`, or text starting with `/dts-v1/`), compiled
 *    with cpp and dtc;
 *  - dtc's YAML (`dtc -I dts -O yaml`);
 *  - vfioctl's own YAML (anything else).
 *
 * The format readers are loaded with dynamic imports so that commands which never read
 * a tree do not pay for the YAML parser.
 */
import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { TreeError } from './tree.js';
import type { DeviceTree, DtNode } from './tree.js';

/** Largest tree file we read (a real board DTB is well under 1 MiB). */
export const MAX_TREE_FILE = 64 * 1024 * 1024;

export interface ReadTreeOptions {
  /** extra directories for `#include <…>` (cpp `-I`) and `/include/` (dtc `-i`) */
  includeDirs?: string[];
}

/** A filesystem error as a TreeError that says what is wrong and how to fix it. */
export function fileReadError(e: unknown, file: string): TreeError {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const loc = { file };
  switch (code) {
    case 'ENOENT':
      return new TreeError(`no such file; check the path (relative paths start at ${process.cwd()})`, loc);
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

/** Read at most MAX_TREE_FILE bytes; works for sysfs files (size may be reported as 4096 or 0) and pipes. */
export async function readBoundedFile(file: string): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw fileReadError(e, file);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw fileReadError(Object.assign(new Error('EISDIR'), { code: 'EISDIR' }), file);
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
    throw e instanceof TreeError ? e : fileReadError(e, file);
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

/** Skip whitespace and C/C++ comments; true if the source then starts with `/dts-v1/`. */
export function looksLikeDts(text: string): boolean {
  const head = text.slice(0, 65536).replace(/^\uFEFF/, '');
  const rest = head.replace(/^(?:\s+|\/\/[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/, '');
  return rest.startsWith('/dts-v1/');
}

/** Forget YAML line numbers of a tree compiled from DTS: they point into dtc's output, not the .dts. */
function relocateToSource(node: DtNode, file: string): void {
  node.loc = { file };
  for (const p of node.properties) p.loc = { file };
  for (const c of node.children) relocateToSource(c, file);
}

async function readDts(file: string, opts: ReadTreeOptions): Promise<DeviceTree> {
  const { compileDts } = await import('./dts.js');
  const yamlText = await compileDts(file, opts.includeDirs ?? []);
  const { parseDtcYaml } = await import('./dtc-yaml.js');
  let tree: DeviceTree;
  try {
    tree = parseDtcYaml(yamlText, `${file} (as YAML from dtc)`);
  } catch (e) {
    if (e instanceof TreeError) throw new TreeError(`cannot read dtc's output: ${e.format()}`, { file });
    throw e;
  }
  relocateToSource(tree.root, file);
  return { ...tree, file, format: 'dts' };
}

/** Read a device-tree file, sniffing its format. Throws TreeError. */
export async function readTreeFile(file: string, opts: ReadTreeOptions = {}): Promise<DeviceTree> {
  const bytes = await readBoundedFile(file);
  const ext = path.extname(file).toLowerCase();
  const head = bytes.length >= 4 ? ((bytes[0] ?? 0) << 24 | (bytes[1] ?? 0) << 16 | (bytes[2] ?? 0) << 8 | (bytes[3] ?? 0)) >>> 0 : 0;
  // DTB magic, its byte-swapped form, or a .dtb name: parseFdt explains what is wrong if it is not one.
  if (head === 0xd00dfeed || head === 0xedfe0dd0 || ext === '.dtb' || ext === '.dtbo') {
    const { parseFdt } = await import('./fdt.js');
    return parseFdt(bytes, file);
  }
  const text = decodeUtf8(bytes, file);
  if (ext === '.dts' || ext === '.dtsi' || looksLikeDts(text)) return readDts(file, opts);
  const { looksLikeDtcYaml } = await import('./yaml-lite.js');
  if (looksLikeDtcYaml(text)) {
    const { parseDtcYaml } = await import('./dtc-yaml.js');
    return parseDtcYaml(text, file);
  }
  const { parseOwnYaml } = await import('./own-yaml.js');
  return parseOwnYaml(text, file);
}
