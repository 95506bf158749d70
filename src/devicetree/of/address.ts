/**
 * Address translation, cf. drivers/of/address.c (of_translate_address with the
 * default bus): exact 64-bit arithmetic with bigint, so 36-bit and >4 GiB addresses
 * keep every bit.
 */
import { type DtNode, getProp, readU32, propCells } from '../tree.js';

/** OF_ROOT_NODE_ADDR_CELLS_DEFAULT / SIZE_CELLS_DEFAULT */
const DEFAULT_ADDR_CELLS = 1;
const DEFAULT_SIZE_CELLS = 1;

/** Cells of the bus `node` sits on: #address-cells of the parent, searching upward (of_n_addr_cells). */
export function nAddrCells(node: DtNode): number {
  for (let p = node.parent; p; p = p.parent) {
    const v = readU32(p, '#address-cells');
    if (v !== undefined) return v;
  }
  return DEFAULT_ADDR_CELLS;
}

export function nSizeCells(node: DtNode): number {
  for (let p = node.parent; p; p = p.parent) {
    const v = readU32(p, '#size-cells');
    if (v !== undefined) return v;
  }
  return DEFAULT_SIZE_CELLS;
}

/** The number formed by `cells` (big-endian), any width. */
export function cellsToBigint(cells: readonly number[]): bigint {
  let v = 0n;
  for (const c of cells) v = (v << 32n) | BigInt(c >>> 0);
  return v;
}

export interface RegEntry {
  address: bigint;
  size: bigint;
}

/** Raw `reg` entries in the node's bus address space (of_get_address). */
export function readReg(node: DtNode): RegEntry[] | undefined {
  const p = getProp(node, 'reg');
  if (!p) return undefined;
  const cells = propCells(node, p);
  const na = nAddrCells(node);
  const ns = nSizeCells(node);
  const step = na + ns;
  if (step === 0 || na > 4 || ns > 4) return [];
  const out: RegEntry[] = [];
  for (let i = 0; i + step <= cells.length; i += step) {
    out.push({ address: cellsToBigint(cells.slice(i, i + na)), size: cellsToBigint(cells.slice(i + na, i + step)) });
  }
  return out;
}

/**
 * Translate a bus address of a child of `bus`'s... i.e. an address read from `node`'s
 * reg, up to a CPU physical address. Returns undefined when a bus on the way has no
 * `ranges` (cannot translate) or no window contains the address (OF_BAD_ADDR).
 */
export function translateAddress(node: DtNode, addr: bigint): bigint | undefined {
  let dev = node.parent;
  let a = addr;
  // walk up: `dev` is the bus whose address space `a` is in
  while (dev && dev.parent) {
    const ranges = getProp(dev, 'ranges');
    if (!ranges) return undefined;
    if (ranges.value.length === 0) {
      dev = dev.parent;
      continue; // empty ranges: 1:1
    }
    const na = readU32(dev, '#address-cells') ?? nAddrCells(dev);
    const ns = readU32(dev, '#size-cells') ?? nSizeCells(dev);
    const pna = nAddrCells(dev);
    const cells = propCells(dev, ranges);
    const step = na + pna + ns;
    if (step === 0) return undefined;
    let found: bigint | undefined;
    for (let i = 0; i + step <= cells.length; i += step) {
      const child = cellsToBigint(cells.slice(i, i + na));
      const parent = cellsToBigint(cells.slice(i + na, i + na + pna));
      const size = cellsToBigint(cells.slice(i + na + pna, i + step));
      if (a >= child && a < child + size) {
        found = parent + (a - child);
        break;
      }
    }
    if (found === undefined) return undefined;
    a = found;
    dev = dev.parent;
  }
  return a;
}

/** Translated `reg` entries up to the first one that does not translate (of_address_to_resource loop). */
export function translatedRegions(node: DtNode): RegEntry[] {
  const regs = readReg(node) ?? [];
  const out: RegEntry[] = [];
  for (const r of regs) {
    const t = translateAddress(node, r.address);
    if (t === undefined) break;
    // resources are 64-bit: of_read_number() keeps the low 64 bits of a wider cell run
    out.push({ address: BigInt.asUintN(64, t), size: BigInt.asUintN(64, r.size) });
  }
  return out;
}

export function hex(v: bigint): string {
  return '0x' + v.toString(16);
}
