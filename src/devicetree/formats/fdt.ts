/**
 * Reader for flattened device tree blobs (DTB, `/sys/firmware/fdt`).
 *
 * Layout as in the Devicetree Specification §5 and scripts/dtc/libfdt/fdt.h: a
 * big-endian header, the memory reservation map, the structure block (a token stream
 * FDT_BEGIN_NODE / FDT_PROP / FDT_NOP / FDT_END_NODE / FDT_END, 4-byte aligned) and
 * the strings block holding property names. The checks follow libfdt's
 * fdt_check_header() and fdt_next_tag() (scripts/dtc/libfdt/fdt.c) and the kernel's
 * unflatten_dt_nodes() (drivers/of/fdt.c): every offset and length is checked before
 * it is used, every loop advances by at least one 4-byte token, and nesting and
 * object counts are bounded, so hostile input gives a TreeError and never hangs or
 * throws anything else.
 */
import { MAX_TREE_NODES, TOO_MANY_NODES, TreeError, emptyExtras, newNode } from '../tree.js';
import type { DeviceTree, DtNode, SourceLoc } from '../tree.js';

export const FDT_MAGIC = 0xd00dfeed;
/** cf. libfdt FDT_BEGIN_NODE … FDT_END */
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;

/** Oldest structure-block version we read (v16 has plain node names, not paths). */
const FIRST_SUPPORTED_VERSION = 16;
/** cf. libfdt FDT_LAST_SUPPORTED_VERSION */
const LAST_SUPPORTED_VERSION = 17;
/** Deepest nesting we accept; the kernel's unflatten_dt_nodes() stops at 64 (FDT_MAX_DEPTH). */
export const MAX_FDT_DEPTH = 1024;
/**
 * Largest blob we read: 8 times what an arm64 kernel boots from (MAX_FDT_SIZE, 2 MiB, in
 * arch/arm64/include/asm/boot.h); real boards' blobs are tens of KiB.
 */
export const MAX_DTB_SIZE = 16 * 1024 * 1024;
/** Most nodes plus properties we accept from one blob. */
export const MAX_FDT_OBJECTS = 1 << 20;

/** The header fields, cf. struct fdt_header in libfdt/fdt.h. */
export interface FdtHeader {
  magic: number;
  totalsize: number;
  offDtStruct: number;
  offDtStrings: number;
  offMemRsvmap: number;
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  sizeDtStrings: number;
  /** absent before version 17: then the structure block runs to the end of the blob */
  sizeDtStruct: number;
}

/** True if the blob starts with the FDT magic 0xd00dfeed (big-endian). */
export function isFdt(blob: Uint8Array): boolean {
  return blob.length >= 4 && blob[0] === 0xd0 && blob[1] === 0x0d && blob[2] === 0xfe && blob[3] === 0xed;
}

class Reader {
  readonly dv: DataView;
  constructor(readonly blob: Uint8Array, readonly file: string) {
    this.dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  }
  fail(offset: number, message: string): never {
    throw new TreeError(message, this.loc(offset));
  }
  loc(offset: number): SourceLoc {
    return { file: this.file, offset };
  }
  /** u32 at `offset`, which the caller has checked lies in [0, limit - 4]. */
  u32(offset: number, limit: number, what: string): number {
    if (offset < 0 || offset + 4 > limit) this.fail(offset, `truncated: ${what} runs past the end of its block`);
    return this.dv.getUint32(offset, false);
  }
}

const HEADER_FIELDS = 10;
/** Header size by version, cf. fdt_header_size_() in libfdt/fdt.c. */
function headerSize(version: number): number {
  return version >= 17 ? 40 : 36;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Read and check the header, cf. fdt_check_header(). */
export function readFdtHeader(blob: Uint8Array, file: string): FdtHeader {
  const r = new Reader(blob, file);
  if (blob.length < 4) r.fail(0, `truncated: ${blob.length} bytes is too short for a device tree blob (the header alone is 40 bytes)`);
  const magic = r.dv.getUint32(0, false);
  if (magic !== FDT_MAGIC) {
    const swapped = r.dv.getUint32(0, true) === FDT_MAGIC;
    r.fail(0, `bad magic ${hex(magic)}; a device tree blob starts with 0xd00dfeed` +
      (swapped ? ' (this one is byte-swapped: little-endian, not a DTB as the kernel reads it)' : ''));
  }
  if (blob.length < 36) r.fail(blob.length, `truncated: the header needs at least 36 bytes, the file has ${blob.length}`);
  const f: number[] = [];
  for (let i = 0; i < HEADER_FIELDS; i++) f.push(i * 4 + 4 <= blob.length ? r.dv.getUint32(i * 4, false) : 0);
  const [, totalsize = 0, offDtStruct = 0, offDtStrings = 0, offMemRsvmap = 0, version = 0, lastCompVersion = 0,
    bootCpuidPhys = 0, sizeDtStrings = 0, sizeDtStruct = 0] = f;
  const h: FdtHeader = {
    magic, totalsize, offDtStruct, offDtStrings, offMemRsvmap, version, lastCompVersion, bootCpuidPhys, sizeDtStrings,
    sizeDtStruct: version >= 17 ? sizeDtStruct : Math.max(0, totalsize - offDtStruct),
  };
  checkHeader(r, h);
  return h;
}

/** Version and block bounds, cf. fdt_check_header(). */
function checkHeader(r: Reader, h: FdtHeader): void {
  if (h.version < FIRST_SUPPORTED_VERSION) {
    r.fail(0x14, `unsupported version ${h.version}; expected 16 or 17 (recompile with a current dtc)`);
  }
  if (h.lastCompVersion > LAST_SUPPORTED_VERSION) {
    r.fail(0x18, `last compatible version ${h.lastCompVersion} is newer than 17, the latest this reader knows`);
  }
  if (h.lastCompVersion > h.version) {
    r.fail(0x18, `last compatible version ${h.lastCompVersion} is above the version ${h.version}`);
  }
  const hs = headerSize(h.version);
  if (r.blob.length < hs) r.fail(r.blob.length, `truncated: a version ${h.version} header is ${hs} bytes, the file has ${r.blob.length}`);
  if (h.totalsize < hs) r.fail(4, `totalsize ${hex(h.totalsize)} is smaller than the ${hs}-byte header`);
  if (h.totalsize > r.blob.length) {
    r.fail(r.blob.length, `truncated: the header says the blob is ${hex(h.totalsize)} bytes but the file has only ${hex(r.blob.length)}`);
  }
  checkBlock(r, h, 'memory reservation map', 0x10, h.offMemRsvmap, 16, hs);
  checkBlock(r, h, 'structure block', 0x08, h.offDtStruct, h.sizeDtStruct, hs);
  checkBlock(r, h, 'strings block', 0x0c, h.offDtStrings, h.sizeDtStrings, hs);
  if (h.offDtStruct % 4 !== 0) r.fail(0x08, `structure block offset ${hex(h.offDtStruct)} is not 4-byte aligned`);
  if (h.offMemRsvmap % 8 !== 0) r.fail(0x10, `memory reservation map offset ${hex(h.offMemRsvmap)} is not 8-byte aligned`);
}

/** A block must start after the header and end inside totalsize (cf. check_block_()). */
function checkBlock(r: Reader, h: FdtHeader, what: string, field: number, off: number, size: number, hs: number): void {
  if (off < hs || off > h.totalsize) {
    r.fail(field, `${what} offset ${hex(off)} is outside the blob (header ${hex(hs)} … totalsize ${hex(h.totalsize)})`);
  }
  if (size > h.totalsize - off) {
    r.fail(field, `${what} at ${hex(off)} with size ${hex(size)} runs past totalsize ${hex(h.totalsize)}`);
  }
}

/** Walk the memory reservation map to its (0, 0) terminator, cf. fdt_num_mem_rsv(). Entries are not kept. */
function checkMemRsvmap(r: Reader, h: FdtHeader): void {
  for (let off = h.offMemRsvmap; ; off += 16) {
    if (off + 16 > h.totalsize) r.fail(off, 'memory reservation map is not terminated by a zero entry before the end of the blob');
    if (r.dv.getBigUint64(off, false) === 0n && r.dv.getBigUint64(off + 8, false) === 0n) return;
  }
}

/** A NUL-terminated name in [start, limit); returns the name and the offset of its NUL. */
function cString(r: Reader, start: number, limit: number, what: string): { name: string; nul: number } {
  const nul = r.blob.subarray(start, limit).indexOf(0);
  if (nul < 0) r.fail(start, `${what} is not NUL-terminated before the end of its block at ${hex(limit)}`);
  let name = '';
  for (let i = start; i < start + nul; i++) {
    const c = r.blob[i] ?? 0;
    if (c < 0x21 || c > 0x7e) r.fail(i, `${what} has the byte ${hex(c)}; names are printable ASCII`);
    name += String.fromCharCode(c);
  }
  return { name, nul: start + nul };
}

const align4 = (n: number): number => (n + 3) & ~3;

interface Walk {
  r: Reader;
  h: FdtHeader;
  end: number;
  stack: DtNode[];
  /** names already used in each open node, parallel to `stack` (keeps duplicate checks linear) */
  names: { props: Set<string>; kids: Set<string> }[];
  root: DtNode | null;
  objects: number;
  nodes: number;
}

/** FDT_BEGIN_NODE: the name follows the token, padded to 4 bytes. Returns the next offset. */
function beginNode(w: Walk, off: number): number {
  const { name, nul } = cString(w.r, off + 4, w.end, 'node name');
  const parent = w.stack[w.stack.length - 1] ?? null;
  if (!parent && w.root) w.r.fail(off, 'a second root node after the first one ended; a blob has exactly one root');
  if (w.stack.length >= MAX_FDT_DEPTH) w.r.fail(off, `nodes nested deeper than ${MAX_FDT_DEPTH} levels`);
  if (++w.nodes > MAX_TREE_NODES) w.r.fail(off, TOO_MANY_NODES);
  if (parent && name === '') w.r.fail(off + 4, 'a node other than the root has an empty name');
  if (name.includes('/')) w.r.fail(off + 4, `node name ${JSON.stringify(name)} contains '/' (version 16+ blobs hold plain names, not paths)`);
  const used = w.names[w.names.length - 1];
  if (used?.kids.has(name)) w.r.fail(off + 4, `duplicate child node ${name}`);
  used?.kids.add(name);
  // A DTB root is named "" already; older tools wrote "/", which we normalise.
  const node = newNode(parent ? name : '', parent, w.r.loc(off));
  if (!parent) w.root = node;
  w.stack.push(node);
  w.names.push({ props: new Set(), kids: new Set() });
  return align4(nul + 1);
}

/** FDT_PROP: struct fdt_property { len, nameoff } then `len` bytes of value, padded to 4. */
function prop(w: Walk, off: number): number {
  const node = w.stack[w.stack.length - 1];
  if (!node) w.r.fail(off, 'a property outside any node');
  const len = w.r.u32(off + 4, w.end, 'property header');
  const nameoff = w.r.u32(off + 8, w.end, 'property header');
  const valueStart = off + 12;
  if (len > w.end - valueStart) {
    w.r.fail(off + 4, `property value of ${hex(len)} bytes runs past the end of the structure block at ${hex(w.end)}`);
  }
  if (nameoff >= w.h.sizeDtStrings) {
    w.r.fail(off + 8, `property name offset ${hex(nameoff)} is outside the strings block (size ${hex(w.h.sizeDtStrings)})`);
  }
  const strStart = w.h.offDtStrings + nameoff;
  const { name } = cString(w.r, strStart, w.h.offDtStrings + w.h.sizeDtStrings, 'property name');
  if (name === '') w.r.fail(strStart, 'a property has an empty name');
  const used = w.names[w.names.length - 1];
  if (used?.props.has(name)) w.r.fail(off, `duplicate property ${name}`);
  used?.props.add(name);
  node.properties.push({ name, value: w.r.blob.slice(valueStart, valueStart + len), loc: w.r.loc(off) });
  return align4(valueStart + len);
}

/** FDT_END_NODE closes the innermost open node. */
function endNode(w: Walk, off: number): number {
  if (w.stack.length === 0) w.r.fail(off, 'FDT_END_NODE without a matching FDT_BEGIN_NODE');
  w.stack.pop();
  w.names.pop();
  return off + 4;
}

/** Walk the token stream, cf. fdt_next_tag() and unflatten_dt_nodes(). */
function walkStruct(r: Reader, h: FdtHeader): DtNode {
  const w: Walk = { r, h, end: h.offDtStruct + h.sizeDtStruct, stack: [], names: [], root: null, objects: 0, nodes: 0 };
  let off = h.offDtStruct;
  for (;;) {
    const tag = r.u32(off, w.end, 'the token stream (no FDT_END token)');
    if (tag !== FDT_NOP && tag !== FDT_END && ++w.objects > MAX_FDT_OBJECTS) {
      r.fail(off, `more than ${MAX_FDT_OBJECTS} nodes and properties`);
    }
    if (tag === FDT_BEGIN_NODE) off = beginNode(w, off);
    else if (tag === FDT_PROP) off = prop(w, off);
    else if (tag === FDT_END_NODE) off = endNode(w, off);
    else if (tag === FDT_NOP) off += 4;
    else if (tag === FDT_END) return finish(w, off);
    else r.fail(off, `unknown token ${hex(tag)} in the structure block; expected 1 (BEGIN_NODE), 2 (END_NODE), 3 (PROP), 4 (NOP) or 9 (END)`);
  }
}

function finish(w: Walk, off: number): DtNode {
  const open = w.stack[w.stack.length - 1];
  if (open) w.r.fail(off, `FDT_END while ${w.stack.length} node(s) are still open (innermost "${open.name || '/'}")`);
  if (!w.root) w.r.fail(off, 'the structure block has no root node');
  return w.root;
}

/** Read a flattened device tree blob into a DeviceTree. Throws only TreeError (loc = {file, offset}). */
export function parseFdt(blob: Uint8Array, file: string): DeviceTree {
  try {
    if (blob.length > MAX_DTB_SIZE) {
      throw new TreeError(
        `the blob is ${(blob.length / 1048576).toFixed(1)} MiB; a DTB is at most ${MAX_DTB_SIZE / 1048576} MiB here (an arm64 kernel boots from at most 2 MiB)`,
        { file, offset: 0 },
      );
    }
    const h = readFdtHeader(blob, file);
    const r = new Reader(blob, file);
    checkMemRsvmap(r, h);
    const root = walkStruct(r, h);
    return { root, file, format: 'dtb', extras: emptyExtras() };
  } catch (e) {
    if (e instanceof TreeError) throw e;
    // Not expected; keep the promise that hostile input only ever gives a TreeError.
    throw new TreeError(`unreadable device tree blob: ${e instanceof Error ? e.message : String(e)}`, { file, offset: 0 });
  }
}
