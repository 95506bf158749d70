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
 * a tree do not pay for the YAML parser. A new format is one more reader file in this
 * folder (src/devicetree/formats/) turning bytes into a DeviceTree (../tree.ts), and one
 * more sniffing line in readTreeFile below; what the tree means (which nodes become
 * devices, addresses, interrupts) is src/devicetree/of/, the same for every format.
 */
import path from 'node:path';
import { TreeError } from '../tree.js';
import type { DeviceTree, DtNode } from '../tree.js';
import { decodeUtf8, readBoundedFile } from './file.js';
import { checkTreeText } from './check.js';
import type { ToolLimits } from './dts.js';

export interface ReadTreeOptions {
  /** extra directories for `#include <…>` (cpp `-I`) and `/include/` (dtc `-i`) */
  includeDirs?: string[];
  /** the caller's working directory, named when a file is missing (relative paths start there) */
  cwd?: string;
  /** narrower bounds for cpp and dtc than the defaults (dts.ts), e.g. in tests */
  toolLimits?: ToolLimits;
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
  const yamlText = await compileDts(file, opts.includeDirs ?? [], opts.toolLimits);
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

/**
 * Read a device-tree file, sniffing its format, and refuse what no format may hold
 * (check.ts: control characters in printed text, `.`/`..` nodes). Throws TreeError.
 */
export async function readTreeFile(file: string, opts: ReadTreeOptions = {}): Promise<DeviceTree> {
  return checkTreeText(await readAnyFormat(file, opts));
}

async function readAnyFormat(file: string, opts: ReadTreeOptions = {}): Promise<DeviceTree> {
  const bytes = await readBoundedFile(file, opts.cwd);
  const ext = path.extname(file).toLowerCase();
  const head = bytes.length >= 4 ? ((bytes[0] ?? 0) << 24 | (bytes[1] ?? 0) << 16 | (bytes[2] ?? 0) << 8 | (bytes[3] ?? 0)) >>> 0 : 0;
  // DTB magic, its byte-swapped form, or a .dtb name: parseFdt explains what is wrong if it is not one.
  if (head === 0xd00dfeed || head === 0xedfe0dd0 || ext === '.dtb' || ext === '.dtbo') {
    const { parseFdt } = await import('./fdt.js');
    return parseFdt(bytes, file);
  }
  const text = decodeUtf8(bytes, file);
  if (ext === '.dts' || ext === '.dtsi' || looksLikeDts(text)) return readDts(file, opts);
  const { looksLikeDtcYaml } = await import('./yaml-size.js');
  if (looksLikeDtcYaml(text)) {
    const { parseDtcYaml } = await import('./dtc-yaml.js');
    return parseDtcYaml(text, file);
  }
  const { parseOwnYaml } = await import('./own-yaml.js');
  return parseOwnYaml(text, file);
}
