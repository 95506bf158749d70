/**
 * vfioctl's own device-tree format: a device tree written as YAML by hand.
 *
 *   vfioctl: 1                 # format version (required)
 *   drivers: [...]             # extra host drivers: {name, compatible, probe-error?}
 *   resets: [...]              # extra vfio reset modules: {compatible, module}
 *   boot: {modules: [...]}     # modules loaded at boot: {name, params?}
 *   tree:                      # the root node
 *     "#address-cells": 1
 *     soc:                     # a mapping is a child node
 *       $label: soc            # `$label` names the node for "&soc" references
 *       compatible: simple-bus # a string or a list of strings
 *       ranges: true           # true is an empty property
 *       reg: [0xfff51000, 0x1000]   # integers are 32-bit cells; nested lists are flattened
 *       iommus: ["&smmu", 0x100]    # "&label" is the phandle of the labelled node
 *
 * Everything becomes the same byte-string properties a DTB holds (see tree.ts), so the
 * machine is booted by the same code whatever the format.
 */
import { parseDocument, LineCounter, isMap, isSeq, isScalar, isAlias, isPair, type Node as YNode, type YAMLMap } from 'yaml';
import {
  type DeviceTree, type DtNode, type SourceLoc, type TreeExtras,
  TreeError, emptyExtras, newNode, encodeCells, encodeStrings, concatBytes, nodePath,
} from './tree.js';
import { isErrnoName } from '../base/errno.js';

export const OWN_FORMAT_VERSION = 1;

/** Properties whose type is fixed by the devicetree specification. */
const STRING_PROPS = new Set(['compatible', 'status', 'model', 'device_type', 'label', 'clock-names', 'reset-names', 'interrupt-names', 'reg-names']);
const CELL_PROPS = new Set(['reg', 'interrupts', 'interrupts-extended', 'interrupt-parent', 'iommus', 'resets', 'phandle', 'mask', 'fsl,iommu-parent', 'arm,primecell-periphid']);
const CELL_OR_EMPTY_PROPS = new Set(['ranges', 'dma-ranges']);

const NODE_NAME_RE = /^[A-Za-z0-9,._+-]{1,31}(@[A-Za-z0-9,._+-]+)?$/;
const PROP_NAME_RE = /^[A-Za-z0-9,._+?#-]{1,31}$/;
const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Chunk = { kind: 'str'; value: string } | { kind: 'cell'; value: number } | { kind: 'ref'; label: string; loc: SourceLoc };

interface PendingProp {
  node: DtNode;
  name: string;
  chunks: Chunk[] | 'empty';
  loc: SourceLoc;
}

class Reader {
  readonly lc = new LineCounter();
  readonly labels = new Map<string, DtNode>();
  readonly pending: PendingProp[] = [];
  /** nodes with `$acpi-reset: true` and similar node options, by path */
  readonly nodeOptions = new Map<DtNode, Record<string, boolean>>();
  constructor(readonly file: string) {}

  loc(n: { range?: [number, number, number] | null | undefined } | null | undefined): SourceLoc {
    const off = n?.range?.[0];
    if (off === undefined) return { file: this.file };
    const p = this.lc.linePos(off);
    return { file: this.file, line: p.line, column: p.col };
  }

  fail(msg: string, at: { range?: [number, number, number] | null | undefined } | null | undefined): never {
    throw new TreeError(msg, this.loc(at));
  }
}

export function parseOwnYaml(text: string, file: string): DeviceTree {
  const r: Reader = new Reader(file);
  const doc = parseDocument(text, { lineCounter: r.lc, intAsBigInt: true, uniqueKeys: false, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const lp = r.lc.linePos(e.pos[0]);
    const loc: SourceLoc = { file, line: lp.line, column: lp.col };
    const msg = e.code === 'DUPLICATE_KEY' ? 'duplicate key (a node or property is given twice; merge them)' : e.message.split('\n')[0]!;
    throw new TreeError(msg, loc);
  }
  const top = doc.contents;
  if (!isMap(top)) r.fail('expected a mapping with "vfioctl: 1" and "tree:" at the top level', top as YNode | null);
  const keys = new Map<string, YNode | null>();
  for (const pair of top.items) {
    const k = keyString(r, pair.key);
    if (keys.has(k)) r.fail(`duplicate key "${k}"`, pair.key as YNode);
    if (!['vfioctl', 'tree', 'drivers', 'resets', 'boot'].includes(k)) {
      r.fail(`unknown top-level key "${k}" (expected vfioctl, tree, drivers, resets, boot)`, pair.key as YNode);
    }
    keys.set(k, pair.value as YNode | null);
  }
  const ver = keys.get('vfioctl');
  if (ver === undefined) r.fail('missing "vfioctl: 1" (the format version) at the top level', top);
  if (!isScalar(ver) || ver.value !== BigInt(OWN_FORMAT_VERSION)) {
    r.fail(`unsupported format version (this vfioctl reads "vfioctl: ${OWN_FORMAT_VERSION}")`, ver);
  }
  const treeNode = keys.get('tree');
  if (!treeNode || !isMap(treeNode)) r.fail('missing "tree:" mapping (the root node)', treeNode ?? top);

  const root = newNode('', null, r.loc(treeNode));
  readNode(r, root, treeNode);
  resolve(r);
  const extras = readExtras(r, keys);
  for (const [node, opts] of r.nodeOptions) {
    if (opts['acpi-reset']) node.properties.push({ name: 'vfioctl,acpi-rst', value: new Uint8Array(0) });
  }
  return { root, file, format: 'vfioctl-yaml', extras };
}

function keyString(r: Reader, k: unknown): string {
  if (isScalar(k) && (typeof k.value === 'string' || typeof k.value === 'bigint')) return String(k.value);
  return r.fail('keys must be plain names', k as YNode);
}

/** Deeper trees than this are refused (real trees nest fewer than 10 levels). */
export const MAX_DEPTH = 64;

function readNode(r: Reader, node: DtNode, map: YAMLMap, depth = 0): void {
  if (depth > MAX_DEPTH) r.fail(`nodes nest more than ${MAX_DEPTH} levels deep`, map);
  const unitSeen = new Map<string, string>();
  const keySeen = new Set<string>();
  for (const pair of map.items) {
    if (!isPair(pair)) continue;
    const key = keyString(r, pair.key);
    // duplicate keys are checked here (linear) rather than by the parser (quadratic in a wide mapping)
    if (keySeen.has(key)) r.fail(`duplicate key "${key}" (a node or property is given twice; merge them)`, pair.key as YNode);
    keySeen.add(key);
    const value = pair.value as YNode | null;
    const kloc = r.loc(pair.key as YNode);
    if (isAlias(value)) r.fail('YAML aliases (*name) are not supported in device trees; write the value out', value);
    if (key.startsWith('$')) {
      readMeta(r, node, key, value, pair.key as YNode);
      continue;
    }
    if (isMap(value)) {
      if (!NODE_NAME_RE.test(key)) r.fail(`bad node name "${key}" (expected name or name@unit, letters, digits and ,._+-)`, pair.key as YNode);
      const at = key.indexOf('@');
      if (at >= 0) {
        const unit = key.slice(at + 1).toLowerCase();
        const other = unitSeen.get(unit);
        if (other !== undefined) {
          r.fail(`duplicate unit address @${unit}: "${key}" and "${other}" in ${nodePath(node)} (each child needs its own address)`, pair.key as YNode);
        }
        unitSeen.set(unit, key);
      }
      const child = newNode(key, node, kloc);
      readNode(r, child, value, depth + 1);
      continue;
    }
    if (!PROP_NAME_RE.test(key)) r.fail(`bad property name "${key}"`, pair.key as YNode);
    readProperty(r, node, key, value, kloc);
  }
}

function readMeta(r: Reader, node: DtNode, key: string, value: YNode | null, at: YNode): void {
  if (key === '$label') {
    if (!isScalar(value) || typeof value.value !== 'string' || !LABEL_RE.test(value.value)) {
      r.fail('$label must be a name (letters, digits, _), e.g. "$label: smmu"', value ?? at);
    }
    const prev = r.labels.get(value.value);
    if (prev) r.fail(`label "${value.value}" is already used by ${nodePath(prev)}`, value);
    r.labels.set(value.value, node);
    return;
  }
  if (key === '$acpi-reset') {
    if (!isScalar(value) || typeof value.value !== 'boolean') r.fail('$acpi-reset must be true or false', value ?? at);
    r.nodeOptions.set(node, { ...(r.nodeOptions.get(node) ?? {}), 'acpi-reset': value.value });
    return;
  }
  r.fail(`unknown node option "${key}" (known: $label, $acpi-reset)`, at);
}

function readProperty(r: Reader, node: DtNode, name: string, value: YNode | null, loc: SourceLoc): void {
  if (value === null || (isScalar(value) && value.value === null)) {
    r.fail(`property "${name}" has no value (use true for an empty property)`, value ?? { range: [0, 0, 0] });
  }
  if (isScalar(value) && value.value === true) {
    if (STRING_PROPS.has(name) || (CELL_PROPS.has(name))) r.fail(`wrong type for "${name}": expected ${STRING_PROPS.has(name) ? 'a string' : 'cells'}, got true`, value);
    r.pending.push({ node, name, chunks: 'empty', loc });
    return;
  }
  const chunks: Chunk[] = [];
  collect(r, name, value, chunks, 0);
  const hasStr = chunks.some((c) => c.kind === 'str');
  const hasCell = chunks.some((c) => c.kind !== 'str');
  if (hasStr && hasCell) r.fail(`property "${name}" mixes strings and cells; use one kind`, value);
  if (STRING_PROPS.has(name) && hasCell) r.fail(`wrong type for "${name}": expected a string or a list of strings`, value);
  if ((CELL_PROPS.has(name) || CELL_OR_EMPTY_PROPS.has(name) || name.startsWith('#')) && hasStr) {
    r.fail(`wrong type for "${name}": expected integer cells`, value);
  }
  if (chunks.length === 0) r.fail(`property "${name}" is an empty list (use true for an empty property)`, value);
  r.pending.push({ node, name, chunks, loc });
}

function collect(r: Reader, name: string, v: YNode | null, out: Chunk[], depth: number): void {
  if (depth > 2) r.fail(`property "${name}" nests lists too deeply (use [cells] or [[cells], [cells]])`, v);
  if (isAlias(v)) r.fail('YAML aliases (*name) are not supported in device trees; write the value out', v);
  if (isSeq(v)) {
    for (const item of v.items) collect(r, name, item as YNode | null, out, depth + 1);
    return;
  }
  if (!isScalar(v)) r.fail(`unknown property type for "${name}": a mapping inside a value (only strings, integers, "&label" and true)`, v);
  const x = v.value;
  if (typeof x === 'bigint') {
    if (x < 0n || x > 0xffffffffn) r.fail(`value ${x < 0n ? '-' : ''}0x${(x < 0n ? -x : x).toString(16)} of "${name}" does not fit a 32-bit cell (split 64-bit values into two cells: high, low)`, v);
    out.push({ kind: 'cell', value: Number(x) });
  } else if (typeof x === 'string') {
    if (x.startsWith('&')) {
      const label = x.slice(1);
      if (!LABEL_RE.test(label)) r.fail(`bad reference "${x}" (expected "&label")`, v);
      out.push({ kind: 'ref', label, loc: r.loc(v) });
    } else {
      for (let i = 0; i < x.length; i++) {
        const c = x.charCodeAt(i);
        if (c > 0x7e || c === 0) r.fail(`string in "${name}" has a non-ASCII or NUL character at position ${i}; device-tree strings are 7-bit ASCII`, v);
      }
      out.push({ kind: 'str', value: x });
    }
  } else if (typeof x === 'number') {
    r.fail(`unknown property type for "${name}": ${x} is not an integer (cells are 32-bit unsigned integers)`, v);
  } else if (typeof x === 'boolean') {
    r.fail(`unknown property type for "${name}": ${x} inside a value (true alone means an empty property)`, v);
  } else {
    r.fail(`unknown property type for "${name}"`, v);
  }
}

/** Give referenced nodes phandles (lowest free from 1, in reference order, like dtc) and encode properties. */
function resolve(r: Reader): void {
  const used = new Set<number>();
  const explicit = new Map<DtNode, number>();
  for (const p of r.pending) {
    if (p.name === 'phandle' && p.chunks !== 'empty') {
      const c = p.chunks[0];
      if (p.chunks.length !== 1 || !c || c.kind !== 'cell') throw new TreeError('phandle must be one cell', p.loc);
      if (used.has(c.value)) throw new TreeError(`phandle 0x${c.value.toString(16)} is used twice`, p.loc);
      used.add(c.value);
      explicit.set(p.node, c.value);
    }
  }
  const assigned = new Map<DtNode, number>(explicit);
  let next = 1;
  const phandleOf = (node: DtNode): number => {
    let v = assigned.get(node);
    if (v === undefined) {
      while (used.has(next)) next++;
      v = next;
      used.add(v);
      assigned.set(node, v);
    }
    return v;
  };
  for (const p of r.pending) {
    if (p.chunks === 'empty') {
      p.node.properties.push({ name: p.name, value: new Uint8Array(0), loc: p.loc });
      continue;
    }
    if (p.chunks[0]?.kind === 'str') {
      p.node.properties.push({ name: p.name, value: encodeStrings(p.chunks.map((c) => (c.kind === 'str' ? c.value : ''))), loc: p.loc });
      continue;
    }
    const cells = p.chunks.map((c) => {
      if (c.kind === 'cell') return c.value;
      if (c.kind === 'ref') {
        const target = r.labels.get(c.label);
        if (!target) throw new TreeError(`reference to undefined label "&${c.label}" (define it with "$label: ${c.label}" on the target node)`, c.loc);
        return phandleOf(target);
      }
      return 0;
    });
    p.node.properties.push({ name: p.name, value: concatBytes([encodeCells(cells)]), loc: p.loc });
  }
  for (const [node, v] of assigned) {
    if (!explicit.has(node)) node.properties.push({ name: 'phandle', value: encodeCells([v]) });
  }
}

function readExtras(r: Reader, keys: Map<string, YNode | null>): TreeExtras {
  const ex = emptyExtras();
  const drivers = keys.get('drivers');
  if (drivers !== undefined) {
    if (!isSeq(drivers)) r.fail('"drivers" must be a list of {name, compatible}', drivers);
    for (const item of drivers.items) {
      const o = plainObject(r, item as YNode, ['name', 'compatible', 'probe-error'], 'drivers entry');
      const name = str(r, o, 'name', item as YNode);
      const compat = o.get('compatible');
      const compatible = compat === undefined ? [] : strList(r, compat, 'compatible');
      const d: TreeExtras['drivers'][number] = { name, compatible, loc: r.loc(item as YNode) };
      const pe = o.get('probe-error');
      if (pe !== undefined) {
        if (!isScalar(pe) || typeof pe.value !== 'string' || !isErrnoName(pe.value)) r.fail('probe-error must be an errno name such as EIO, ENODEV or EPROBE_DEFER', pe);
        d.probeError = pe.value;
      }
      ex.drivers.push(d);
    }
  }
  const resets = keys.get('resets');
  if (resets !== undefined) {
    if (!isSeq(resets)) r.fail('"resets" must be a list of {compatible, module}', resets);
    for (const item of resets.items) {
      const o = plainObject(r, item as YNode, ['compatible', 'module'], 'resets entry');
      ex.resets.push({ compatible: str(r, o, 'compatible', item as YNode), module: str(r, o, 'module', item as YNode), loc: r.loc(item as YNode) });
    }
  }
  const boot = keys.get('boot');
  if (boot !== undefined) {
    const o = plainObject(r, boot, ['modules'], 'boot');
    const mods = o.get('modules');
    if (mods !== undefined) {
      if (!isSeq(mods)) r.fail('"boot.modules" must be a list of {name, params}', mods);
      for (const item of mods.items) {
        const mo = plainObject(r, item as YNode, ['name', 'params'], 'boot module');
        const params: Record<string, string> = Object.create(null) as Record<string, string>;
        const pv = mo.get('params');
        if (pv !== undefined) {
          const po = plainObject(r, pv, null, 'params');
          for (const [k, v] of po) {
            if (!isScalar(v) || v.value === null || typeof v.value === 'object') r.fail(`parameter "${k}" must be a scalar`, v);
            params[k] = typeof v.value === 'boolean' ? (v.value ? '1' : '0') : String(v.value);
          }
        }
        ex.boot.modules.push({ name: str(r, mo, 'name', item as YNode), params });
      }
    }
  }
  return ex;
}

function plainObject(r: Reader, n: YNode | null, allowed: string[] | null, what: string): Map<string, YNode> {
  if (!isMap(n)) return r.fail(`${what} must be a mapping`, n);
  const m = new Map<string, YNode>();
  for (const pair of n.items) {
    const k = keyString(r, pair.key);
    if (m.has(k)) r.fail(`duplicate key "${k}" in ${what}`, pair.key as YNode);
    if (allowed && !allowed.includes(k)) r.fail(`unknown key "${k}" in ${what} (expected ${allowed.join(', ')})`, pair.key as YNode);
    m.set(k, pair.value as YNode);
  }
  return m;
}

function str(r: Reader, o: Map<string, YNode>, key: string, at: YNode): string {
  const v = o.get(key);
  if (v === undefined) return r.fail(`missing "${key}"`, at);
  if (!isScalar(v) || typeof v.value !== 'string' || v.value.length === 0) return r.fail(`"${key}" must be a non-empty string`, v);
  return v.value;
}

function strList(r: Reader, v: YNode, key: string): string[] {
  if (isScalar(v) && typeof v.value === 'string') return [v.value];
  if (isSeq(v)) {
    return v.items.map((i) => {
      if (!isScalar(i) || typeof i.value !== 'string') return r.fail(`"${key}" must be a string or a list of strings`, i as YNode);
      return i.value;
    });
  }
  return r.fail(`"${key}" must be a string or a list of strings`, v);
}
