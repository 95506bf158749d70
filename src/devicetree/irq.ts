/**
 * Interrupt specifiers, cf. drivers/of/irq.c (of_irq_find_parent, of_irq_parse_one)
 * and the controllers' xlate functions for the trigger type.
 */
import { type DtNode, getProp, readU32, readCells, readStrings, propCells, nodePath, TreeError } from './tree.js';
import { IRQ_TYPE, type Irq } from '../base/machine.js';

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

/**
 * The device's IRQs in index order, stopping at the first that does not resolve
 * (as platform_get_irq_optional does for vfio-platform's count).
 * A length that is not a whole number of specifiers is a tree error (bad cell count).
 */
export function readIrqs(node: DtNode, phandles: Map<number, DtNode>): Irq[] {
  const ext = getProp(node, 'interrupts-extended');
  const out: Irq[] = [];
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
      out.push({ ...decode(ctrl, cells.slice(i + 1, i + 1 + n)), controller: nodePath(ctrl) });
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
    out.push({ ...decode(ctrl, cells.slice(i, i + n)), controller: nodePath(ctrl) });
  }
  return out;
}
