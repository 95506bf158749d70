/**
 * Interrupt specifiers, cf. drivers/of/irq.c (of_irq_find_parent, of_irq_parse_one)
 * and the controllers' xlate functions for the trigger type.
 */
import { type DtNode, getProp, readU32, readCells, readStrings, propCells, nodePath, TreeError } from '../tree.js';
import { IRQ_TYPE, type Irq } from '../../base/machine.js';

/**
 * MAX_PHANDLE_ARGS (include/linux/of.h): of_irq_parse_raw() gives up on an interrupt-map
 * walk when #address-cells + #interrupt-cells of a nexus or of a map entry's parent exceed
 * it ("Range check so that the temporary buffer doesn't overflow"). Without the check a
 * hostile `#address-cells = <0xffffffff>` would have us build a 4-billion-cell key.
 */
const MAX_PHANDLE_ARGS = 16;

/** map_mpic_senses of arch/powerpc/sysdev/mpic.c */
const MPIC_SENSES = [IRQ_TYPE.EDGE_RISING, IRQ_TYPE.LEVEL_LOW, IRQ_TYPE.LEVEL_HIGH, IRQ_TYPE.EDGE_FALLING];

function byPhandle(phandles: Map<number, DtNode>, v: number): DtNode | undefined {
  return phandles.get(v);
}

/** of_irq_find_parent: interrupt-parent (or the parent node) until one has #interrupt-cells. */
export function irqParent(node: DtNode, phandles: Map<number, DtNode>): DtNode | undefined {
  let child: DtNode | undefined = node;
  for (let guard = 0; child && guard < 256; guard++) {
    const ip = readU32(child, 'interrupt-parent');
    const p: DtNode | undefined = ip !== undefined ? byPhandle(phandles, ip) : (child.parent ?? undefined);
    if (!p) return undefined;
    if (getProp(p, '#interrupt-cells')) return p;
    child = p;
  }
  return undefined;
}

function decode(ctrl: DtNode, spec: number[]): { hwirq: number; trigger: number } {
  const compat = readStrings(ctrl, 'compatible') ?? [];
  if (compat.some((c) => c === 'fsl,mpic' || c === 'chrp,open-pic')) {
    return { hwirq: spec[0] ?? 0, trigger: spec.length >= 2 ? MPIC_SENSES[(spec[1] ?? 0) & 3]! : IRQ_TYPE.NONE };
  }
  if (spec.length >= 3) {
    // GIC-style <type number flags>: SPI n is hwirq 32+n, PPI n is 16+n
    const base = spec[0] === 0 ? 32 : spec[0] === 1 ? 16 : 0;
    return { hwirq: base + (spec[1] ?? 0), trigger: (spec[2] ?? 0) & 0xf };
  }
  if (spec.length === 2) return { hwirq: spec[0] ?? 0, trigger: (spec[1] ?? 0) & 0xf };
  return { hwirq: spec[0] ?? 0, trigger: IRQ_TYPE.NONE };
}

/** #address-cells of `node` or, failing that, of its ancestors (the "old linux trick" of of_irq_parse_raw); 2 when none. */
function nexusAddrCells(node: DtNode): number {
  for (let n: DtNode | null = node; n; n = n.parent) {
    const v = readU32(n, '#address-cells');
    if (v !== undefined) return v;
  }
  return 2;
}

/**
 * of_irq_parse_raw: follow `interrupt-map` nexus nodes from `ipar` until an interrupt
 * controller is reached. `addr` is the device's unit address (first cells of its `reg`).
 * Returns undefined when the specifier does not resolve.
 */
function resolveSpec(
  ipar: DtNode,
  spec: number[],
  addr: number[],
  phandles: Map<number, DtNode>,
): { ctrl: DtNode; spec: number[] } | undefined {
  let par: DtNode | undefined = ipar;
  let intspec = spec;
  let addrsize = nexusAddrCells(ipar);
  let unit = addr;
  for (let guard = 0; par && guard < 64; guard++) {
    if (getProp(par, 'interrupt-controller')) return { ctrl: par, spec: intspec };
    const mapProp = getProp(par, 'interrupt-map');
    if (!mapProp) {
      // not a nexus: carry on with this node's own interrupt parent
      par = irqParent(par, phandles);
      continue;
    }
    const intsize = readU32(par, '#interrupt-cells') ?? intspec.length;
    if (addrsize + intsize > MAX_PHANDLE_ARGS) return undefined;
    const match = [...Array.from({ length: addrsize }, (_, i) => unit[i] ?? 0), ...intspec.slice(0, intsize)];
    const mask = readCells(par, 'interrupt-map-mask') ?? [];
    const imap = propCells(par, mapProp);
    let i = 0;
    let next: { par: DtNode; spec: number[]; addr: number[]; addrsize: number } | undefined;
    while (i + match.length < imap.length) {
      const entry = imap.slice(i, i + match.length);
      const hit = entry.every((v, k) => (((v ^ match[k]!) & (mask[k] ?? 0xffffffff)) >>> 0) === 0);
      const newpar = phandles.get(imap[i + match.length]!);
      if (!newpar) return undefined;
      const newaddr = readU32(newpar, '#address-cells') ?? 0;
      const newint = readU32(newpar, '#interrupt-cells');
      if (newint === undefined || newaddr + newint > MAX_PHANDLE_ARGS) return undefined;
      const start = i + match.length + 1;
      if (start + newaddr + newint > imap.length) return undefined;
      if (hit) {
        next = {
          par: newpar,
          addr: imap.slice(start, start + newaddr),
          spec: imap.slice(start + newaddr, start + newaddr + newint),
          addrsize: newaddr,
        };
        break;
      }
      i = start + newaddr + newint;
    }
    if (!next) return undefined;
    par = next.par;
    intspec = next.spec;
    unit = next.addr;
    addrsize = next.addrsize;
  }
  return undefined;
}

/** The device's unit address cells for interrupt-map matching (its `reg`, or nothing). */
function unitAddr(node: DtNode): number[] {
  return readCells(node, 'reg') ?? [];
}

/**
 * The device's IRQs in index order, stopping at the first that does not resolve
 * (as platform_get_irq_optional does for vfio-platform's count).
 * A length that is not a whole number of specifiers is a tree error (bad cell count).
 * Specifiers are routed through `interrupt-map` nexus nodes (of_irq_parse_raw).
 */
export function readIrqs(node: DtNode, phandles: Map<number, DtNode>): Irq[] {
  const ext = getProp(node, 'interrupts-extended');
  const out: Irq[] = [];
  const addr = unitAddr(node);
  const push = (par: DtNode, spec: number[]): boolean => {
    const r = resolveSpec(par, spec, addr, phandles);
    if (!r) return false;
    out.push({ ...decode(r.ctrl, r.spec), controller: nodePath(r.ctrl) });
    return true;
  };
  if (ext) {
    const cells = propCells(node, ext);
    let i = 0;
    while (i < cells.length) {
      const ctrl = byPhandle(phandles, cells[i]!);
      if (!ctrl) break;
      const n = readU32(ctrl, '#interrupt-cells');
      if (n === undefined || i + 1 + n > cells.length) {
        throw new TreeError(`interrupts-extended of ${nodePath(node)}: specifier for ${nodePath(ctrl)} needs ${n ?? '?'} cells`, ext.loc ?? node.loc ?? { file: '?' });
      }
      if (!push(ctrl, cells.slice(i + 1, i + 1 + n))) break;
      i += 1 + n;
    }
    return out;
  }
  const ints = getProp(node, 'interrupts');
  if (!ints) return out;
  const ctrl = irqParent(node, phandles);
  if (!ctrl) return out;
  const n = readU32(ctrl, '#interrupt-cells') ?? 0;
  const cells = readCells(node, 'interrupts') ?? [];
  if (n === 0) return out;
  if (cells.length % n !== 0) {
    throw new TreeError(
      `bad cell count: "interrupts" of ${nodePath(node)} has ${cells.length} cells, not a multiple of #interrupt-cells = ${n} of ${nodePath(ctrl)}`,
      ints.loc ?? node.loc ?? { file: '?' },
    );
  }
  for (let i = 0; i < cells.length; i += n) {
    if (!push(ctrl, cells.slice(i, i + n))) break;
  }
  return out;
}
