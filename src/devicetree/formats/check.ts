/**
 * What every tree must satisfy after its reader, whatever its format: nothing in it that
 * vfioctl prints may drive the terminal. Node names, property names, the string
 * properties that reach `load`, `status`, `show`, `dmesg`, `sysfs cat`, `export` and error
 * messages (`compatible`, `model`, `status`, `device_type`, `name`, `label`, `*-names`,
 * every `/aliases` entry, `/chosen` `bootargs` and `stdout-path`) and the own-YAML declarations (drivers,
 * resets, boot modules and their parameters) are refused at load, with the place, when
 * they hold a control character: C0 (0x01–0x1f; NUL separates list entries), DEL (0x7f)
 * or C1 (0x80–0x9f, which many terminals take as ESC sequences too). Node names `.` and
 * `..` are refused as well: they would name a directory's self or parent in every sysfs
 * path built from them.
 *
 * The kernel itself accepts such bytes (the FDT format allows any byte in a property), but
 * dtc writes strings as 7-bit ASCII and the Devicetree Specification limits node and
 * property names to printable ASCII, so no real tree is refused.
 */
import { TreeError, nodePath } from '../tree.js';
import type { DeviceTree, DtNode, DtProperty, SourceLoc } from '../tree.js';

/** Properties read as strings and shown somewhere (of_node identity, model, uevent, sysfs). */
const STRING_PROPERTIES = new Set(['compatible', 'model', 'status', 'device_type', 'name', 'label']);
/** `/chosen` strings; its other properties are cells or bytes (initrd addresses, kaslr-seed, rng-seed). */
const CHOSEN_STRINGS = new Set(['bootargs', 'stdout-path', 'linux,stdout-path']);

/** Names for the control characters people meet; the rest are shown by code only. */
const CONTROL_NAMES: Record<number, string> = {
  0x07: 'BEL', 0x08: 'BS', 0x09: 'TAB', 0x0a: 'LF', 0x0d: 'CR', 0x1b: 'ESC', 0x7f: 'DEL', 0x9b: 'CSI', 0x9d: 'OSC',
};

/** A C0 (other than NUL), DEL or C1 code. */
export function isControl(c: number): boolean {
  return (c > 0 && c < 0x20) || (c >= 0x7f && c <= 0x9f);
}

function describe(c: number): string {
  const name = CONTROL_NAMES[c];
  return `0x${c.toString(16).padStart(2, '0')}${name ? ` (${name})` : ''}`;
}

const WHY = 'text vfioctl prints must not hold control characters, which could drive the terminal';

/** Index of the first control code unit in `s` (NUL included), or -1. */
function firstControl(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || isControl(c)) return i;
  }
  return -1;
}

function isStringProperty(node: DtNode, p: DtProperty): boolean {
  if (STRING_PROPERTIES.has(p.name) || p.name.endsWith('-names')) return true;
  if (node.parent === null || node.parent.parent !== null) return false;
  // /aliases holds only path strings (of_alias_scan)
  return node.name === 'aliases' || (node.name === 'chosen' && CHOSEN_STRINGS.has(p.name));
}

/** Where byte `i` of a property's value is: exact for a DTB (value starts 12 bytes after the FDT_PROP token). */
function byteLoc(tree: DeviceTree, node: DtNode, p: DtProperty, i: number): SourceLoc {
  const loc = p.loc ?? node.loc ?? { file: tree.file };
  return loc.offset !== undefined ? { file: loc.file, offset: loc.offset + 12 + i } : loc;
}

function checkNode(tree: DeviceTree, node: DtNode): void {
  const where = (): SourceLoc => node.loc ?? { file: tree.file };
  if (node.parent) {
    if (node.name === '.' || node.name === '..') {
      throw new TreeError(`node name "${node.name}" under ${nodePath(node.parent)} is not allowed: it would name a directory's ${node.name === '.' ? 'self' : 'parent'} in sysfs paths`, where());
    }
    const bad = firstControl(node.name);
    if (bad >= 0) {
      throw new TreeError(`node name ${JSON.stringify(node.name)} under ${nodePath(node.parent)} holds the control character ${describe(node.name.charCodeAt(bad))}; ${WHY}`, where());
    }
  }
  for (const p of node.properties) {
    const badName = firstControl(p.name);
    if (badName >= 0) {
      throw new TreeError(`a property name of ${nodePath(node)} holds the control character ${describe(p.name.charCodeAt(badName))}; ${WHY}`, p.loc ?? where());
    }
    if (!isStringProperty(node, p)) continue;
    const v = p.value;
    for (let i = 0; i < v.length; i++) {
      if (isControl(v[i]!)) {
        throw new TreeError(`property "${p.name}" of ${nodePath(node)} holds the control character ${describe(v[i]!)} (byte ${i} of its value); ${WHY}`, byteLoc(tree, node, p, i));
      }
    }
  }
}

function checkText(tree: DeviceTree, s: string, what: string, loc: SourceLoc | undefined): void {
  const bad = firstControl(s);
  if (bad >= 0) throw new TreeError(`${what} holds the control character ${describe(s.charCodeAt(bad))}; ${WHY}`, loc ?? { file: tree.file });
}

/** The own-YAML declarations: drivers, resets, boot modules and their parameters. */
function checkExtras(tree: DeviceTree): void {
  const x = tree.extras;
  for (const d of x.drivers) {
    checkText(tree, d.name, 'a driver name', d.loc);
    for (const c of d.compatible) checkText(tree, c, `a compatible of driver ${d.name}`, d.loc);
    if (d.probeError !== undefined) checkText(tree, d.probeError, `the probe error of driver ${d.name}`, d.loc);
  }
  for (const r of x.resets) {
    checkText(tree, r.compatible, 'a reset compatible', r.loc);
    checkText(tree, r.module, 'a reset module name', r.loc);
  }
  for (const m of x.boot.modules) {
    checkText(tree, m.name, 'a boot module name', m.loc);
    for (const [k, v] of Object.entries(m.params)) {
      checkText(tree, k, `a parameter name of boot module ${m.name}`, m.loc);
      checkText(tree, v, `parameter ${k} of boot module ${m.name}`, m.loc);
    }
  }
}

/** Refuse a tree whose printed text could drive a terminal (see the header). Throws TreeError. */
export function checkTreeText(tree: DeviceTree): DeviceTree {
  const stack: DtNode[] = [tree.root];
  for (let n = stack.pop(); n; n = stack.pop()) {
    checkNode(tree, n);
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  checkExtras(tree);
  return tree;
}
