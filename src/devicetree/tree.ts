/**
 * The in-memory flattened device tree every input format is turned into.
 *
 * Like the kernel's `struct device_node`/`struct property`, a property is only a name
 * and a byte string (big-endian cells, NUL-terminated strings): its meaning comes
 * from its name and from the `#…-cells` of the nodes around it. Our own YAML, dtc's
 * YAML and a DTB all become this, so one board gives one machine whatever its format.
 */

/** Where something came from, for `file:line:column: message` errors. */
export interface SourceLoc {
  file: string;
  line?: number;
  column?: number;
  /** byte offset, for binary input (DTB) */
  offset?: number;
}

export interface DtProperty {
  name: string;
  value: Uint8Array;
  loc?: SourceLoc;
}

export interface DtNode {
  /** full node name with unit address, `ethernet@fff51000`; `""` for the root */
  name: string;
  parent: DtNode | null;
  properties: DtProperty[];
  children: DtNode[];
  loc?: SourceLoc;
}

/** A host driver declared by a tree (own YAML format only). */
export interface DeclaredDriver {
  name: string;
  compatible: string[];
  /** errno name the probe returns, e.g. "EPROBE_DEFER"; absent = probe succeeds */
  probeError?: string;
  loc?: SourceLoc;
}

/** A vfio reset handler declared by a tree for its own devices. */
export interface DeclaredReset {
  compatible: string;
  module: string;
  loc?: SourceLoc;
}

export interface TreeExtras {
  drivers: DeclaredDriver[];
  resets: DeclaredReset[];
  /** module parameters / boot options the tree asks for (e.g. vfio-platform loaded at boot) */
  boot: { modules: { name: string; params: Record<string, string>; loc?: SourceLoc }[] };
}

export type TreeFormat = 'vfioctl-yaml' | 'dtc-yaml' | 'dtb' | 'dts';

/**
 * Most nodes a tree may have, whatever its format (README "Limits on input"). Real
 * boards have a few hundred to a few thousand; a 50,000-node tree loads in a few
 * seconds and a few hundred MB, and bigger ones are refused before they cost more.
 */
export const MAX_TREE_NODES = 50_000;
/** the message every reader gives past MAX_TREE_NODES */
/** 50000 → "50,000" without Intl: toLocaleString at module load would cost every command ICU's start-up (~30 ms) */
const thousands = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

export const TOO_MANY_NODES = `more than ${thousands(MAX_TREE_NODES)} nodes; vfioctl reads trees up to that size`;

export interface DeviceTree {
  root: DtNode;
  /** the file it was read from, as the user named it */
  file: string;
  format: TreeFormat;
  extras: TreeExtras;
}

/** C0 (but LF), DEL and C1 characters as `\xNN`, so quoted tree text cannot drive a terminal. */
export function escapeControls(s: string): string {
  return s.replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A tree file that cannot be used. Exit status 3. */
export class TreeError extends Error {
  readonly loc: SourceLoc;
  constructor(message: string, loc: SourceLoc) {
    // A message may quote the tree (a bad name, dtc's or cpp's own words): no control
    // character of it reaches the terminal; line breaks between message lines stay.
    super(escapeControls(message));
    this.name = 'TreeError';
    this.loc = loc;
  }
  /** `file:line:column: message` (or `file: offset 0x…: message` for binary input) */
  format(): string {
    const l = this.loc;
    let where = l.file;
    if (l.line !== undefined) where += `:${l.line}` + (l.column !== undefined ? `:${l.column}` : '');
    else if (l.offset !== undefined) where += `: offset 0x${l.offset.toString(16)}`;
    return `${where}: ${this.message}`;
  }
}

export function emptyExtras(): TreeExtras {
  return { drivers: [], resets: [], boot: { modules: [] } };
}

export function newNode(name: string, parent: DtNode | null, loc?: SourceLoc): DtNode {
  const n: DtNode = { name, parent, properties: [], children: [] };
  if (loc) n.loc = loc;
  if (parent) parent.children.push(n);
  return n;
}

// ---- property accessors (cf. drivers/of/base.c of_property_read_*) ----

export function getProp(node: DtNode, name: string): DtProperty | undefined {
  for (const p of node.properties) if (p.name === name) return p;
  return undefined;
}

export function hasProp(node: DtNode, name: string): boolean {
  return getProp(node, name) !== undefined;
}

/** The property's bytes as big-endian u32 cells; throws TreeError if the length is not a multiple of 4. */
export function propCells(node: DtNode, p: DtProperty): number[] {
  if (p.value.length % 4 !== 0) {
    throw new TreeError(
      `property "${p.name}" of ${nodePath(node)} is ${p.value.length} bytes, not a whole number of 32-bit cells`,
      p.loc ?? node.loc ?? { file: '?' },
    );
  }
  const v = p.value;
  const out: number[] = new Array<number>(v.length >> 2);
  for (let i = 0; i < v.length; i += 4) out[i >> 2] = ((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0;
  return out;
}

export function readCells(node: DtNode, name: string): number[] | undefined {
  const p = getProp(node, name);
  return p ? propCells(node, p) : undefined;
}

export function readU32(node: DtNode, name: string): number | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  const v = p.value;
  if (v.length % 4 !== 0) propCells(node, p); // the same error as readCells
  if (v.length < 4) return undefined;
  return ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
}

/** Decoded string lists, per property: booting asks for a node's `compatible` half a dozen times. */
const stringLists = new WeakMap<DtProperty, readonly string[]>();

/** NUL-separated string list, as of_property_read_string_array. The array is shared and frozen. */
export function readStrings(node: DtNode, name: string): readonly string[] | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  let l = stringLists.get(p);
  if (l === undefined) {
    l = Object.freeze(decodeStringList(p.value));
    stringLists.set(p, l);
  }
  return l;
}

export function decodeStringList(v: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] === 0) {
      out.push(latin1(v.subarray(start, i)));
      start = i + 1;
    }
  }
  if (start < v.length) out.push(latin1(v.subarray(start)));
  return out;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  return s;
}

export function readString(node: DtNode, name: string): string | undefined {
  const l = readStrings(node, name);
  return l && l.length > 0 ? l[0] : undefined;
}

/** Paths already worked out (nodes never move or change name once read). */
const paths = new WeakMap<DtNode, string>();

/** `/soc/ethernet@fff51000`; `/` for the root. */
export function nodePath(node: DtNode): string {
  if (!node.parent) return '/';
  let p = paths.get(node);
  if (p === undefined) {
    const up = node.parent.parent ? nodePath(node.parent) : '';
    p = `${up}/${node.name}`;
    paths.set(node, p);
  }
  return p;
}

/** Node name without the unit address (`ethernet` of `ethernet@fff51000`), as of_node_name. */
export function baseName(node: DtNode): string {
  const at = node.name.indexOf('@');
  return at < 0 ? node.name : node.name.slice(0, at);
}

// ---- encoders used by the YAML readers ----

export function encodeCells(cells: readonly number[]): Uint8Array {
  const out = new Uint8Array(cells.length * 4);
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    out[i * 4] = c >>> 24;
    out[i * 4 + 1] = c >>> 16;
    out[i * 4 + 2] = c >>> 8;
    out[i * 4 + 3] = c;
  }
  return out;
}

export function encodeStrings(strings: readonly string[]): Uint8Array {
  let len = 0;
  for (const s of strings) len += s.length + 1;
  const out = new Uint8Array(len);
  let o = 0;
  for (const s of strings) {
    for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i) & 0xff;
    out[o++] = 0;
  }
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Map phandle value → node (cf. of_find_node_by_phandle). */
export function phandleMap(root: DtNode): Map<number, DtNode> {
  const m = new Map<number, DtNode>();
  const walk = (n: DtNode): void => {
    for (const name of ['phandle', 'linux,phandle']) {
      const p = getProp(n, name);
      if (p && p.value.length === 4) {
        const v = new DataView(p.value.buffer, p.value.byteOffset, 4).getUint32(0, false);
        if (!m.has(v)) m.set(v, n);
      }
    }
    for (const c of n.children) walk(c);
  };
  walk(root);
  return m;
}
