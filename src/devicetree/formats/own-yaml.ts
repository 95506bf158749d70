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
 *
 * Parsing: yaml-lite.ts reads the plain subset of YAML that trees are written in
 * (several times faster than composing a Document with the `yaml` package); any text
 * outside it goes to the `yaml` package, loaded only then, which also reports every
 * syntax error. Both give the same small node model (yaml-lite.ts YNode), so all the
 * checks below and their file:line:column locations are the same on both paths.
 */
import { createRequire } from 'node:module';
import type * as YamlLib from 'yaml';
import { parseYamlSubset } from './yaml-lite.js';
import { checkFullYamlSize } from './yaml-size.js';
import { lineCol, LineIndex, type YNode, type YMap, type YSeq, type YScalarValue } from './yaml-model.js';
import {
  type DeviceTree, type DtNode, type SourceLoc, type TreeExtras,
  TreeError, MAX_TREE_NODES, TOO_MANY_NODES, emptyExtras, newNode, encodeCells, encodeStrings, nodePath,
} from '../tree.js';
import { isErrnoName } from '../../base/errno.js';

export const OWN_FORMAT_VERSION = 1;

/** Properties whose type is fixed by the devicetree specification. */
const STRING_PROPS = new Set(['compatible', 'status', 'model', 'device_type', 'label', 'clock-names', 'reset-names', 'interrupt-names', 'reg-names']);
const CELL_PROPS = new Set(['reg', 'interrupts', 'interrupts-extended', 'interrupt-parent', 'iommus', 'resets', 'phandle', 'mask', 'fsl,iommu-parent', 'arm,primecell-periphid']);
const CELL_OR_EMPTY_PROPS = new Set(['ranges', 'dma-ranges']);

const NODE_NAME_RE = /^[A-Za-z0-9,._+-]{1,31}(@[A-Za-z0-9,._+-]+)?$/;
const PROP_NAME_RE = /^[A-Za-z0-9,._+?#-]{1,31}$/;
const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Driver names become /sys/bus/platform/drivers/<name>: no '/', spaces or control characters. */
const DRIVER_NAME_RE = /^[A-Za-z0-9_.,:+-]{1,64}$/;
/** Module names as the kernel allows them (MODULE_NAME_LEN 56). */
const MODULE_NAME_RE = /^[A-Za-z0-9_-]{1,55}$/;
const PARAM_NAME_RE = /^[A-Za-z0-9_]{1,64}$/;

/** One item of a property value: a cell (number), a string, or a `"&label"` reference. */
interface Ref {
  label: string;
  loc: SourceLoc;
}
type Chunk = number | string | Ref;

interface PendingProp {
  node: DtNode;
  name: string;
  chunks: Chunk[] | 'empty';
  loc: SourceLoc;
}

class Reader {
  readonly labels = new Map<string, DtNode>();
  readonly pending: PendingProp[] = [];
  /** nodes with `$acpi-reset: true` and similar node options */
  readonly nodeOptions = new Map<DtNode, { acpiReset: boolean }>();
  /** nodes read so far (see MAX_TREE_NODES) */
  nodes = 0;
  private readonly lines: LineIndex;
  constructor(readonly file: string, text: string) {
    this.lines = new LineIndex(text);
  }

  loc(n: YNode | null | undefined): SourceLoc {
    if (!n) return { file: this.file };
    const p = this.lines.pos(n.pos);
    return { file: this.file, line: p.line, column: p.col };
  }

  fail(msg: string, at: YNode | null | undefined): never {
    throw new TreeError(msg, this.loc(at));
  }
}

/** Deeper trees than this are refused (real trees nest fewer than 10 levels). */
export const MAX_DEPTH = 64;
/** Most entries in each of the `drivers`, `resets` and `boot.modules` lists (the bundled trees use a handful). */
export const MAX_LIST_ENTRIES = 1000;

const requireCjs = createRequire(import.meta.url);

/**
 * The full YAML parser (the `yaml` package, loaded on first use): the document as a
 * YNode tree, or the first syntax error at its line:column. Aliases are refused here,
 * wherever they are: the document is never expanded (we never call toJS, the only
 * place the package would follow them, so maxAliasCount never comes into play), and an
 * "alias bomb" is an error at its first `*name`.
 */
export function parseFullYaml(text: string, file: string): YNode | null {
  checkFullYamlSize(text, file);
  const Y = requireCjs('yaml') as typeof YamlLib;
  const doc = Y.parseDocument(text, { intAsBigInt: true, uniqueKeys: false, prettyErrors: false, strict: true, keepSourceTokens: false });
  const e = doc.errors[0];
  if (e) {
    const lp = lineCol(text, e.pos[0]);
    const loc: SourceLoc = { file, line: lp.line, column: lp.col };
    let msg = e.message.split('\n')[0]!;
    if (e.code === 'DUPLICATE_KEY') msg = 'duplicate key (a node or property is given twice; merge them)';
    // the package catches its own stack overflow on very deep nesting and reports it here
    if (e.code === 'RESOURCE_EXHAUSTION') msg = `YAML nested too deeply for the parser (device-tree nodes nest at most ${MAX_DEPTH} levels)`;
    throw new TreeError(msg, loc);
  }
  const at = (pos: number): SourceLoc => {
    const lp = lineCol(text, pos);
    return { file, line: lp.line, column: lp.col };
  };
  const conv = (n: unknown, depth: number): YNode | null => {
    if (n === null || n === undefined) return null;
    const pos = (n as { range?: [number, number, number] | null }).range?.[0] ?? 0;
    if (depth > 10_000) throw new TreeError('YAML nested too deeply', at(pos));
    if (Y.isAlias(n)) throw new TreeError('YAML aliases (*name) are not supported in device trees; write the value out', at(pos));
    if (Y.isMap(n)) {
      return { kind: 'map', pos, pairs: n.items.map((p) => ({ key: conv(p.key, depth + 1), value: conv(p.value, depth + 1) })) };
    }
    if (Y.isSeq(n)) return { kind: 'seq', pos, items: n.items.map((i) => conv(i, depth + 1)) };
    if (Y.isScalar(n)) {
      const v = n.value;
      const value: YScalarValue =
        v === null || typeof v === 'string' || typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
      return { kind: 'scalar', pos, value };
    }
    throw new TreeError('unsupported YAML node', at(pos));
  };
  return conv(doc.contents, 0);
}

export interface OwnYamlOptions {
  /** false: skip the fast subset parser and always use the `yaml` package (tests compare the two) */
  fast?: boolean;
}

export function parseOwnYaml(text: string, file: string, opts: OwnYamlOptions = {}): DeviceTree {
  const r: Reader = new Reader(file, text);
  const top = (opts.fast === false ? null : parseYamlSubset(text, file)) ?? parseFullYaml(text, file);
  if (top?.kind !== 'map') return r.fail('expected a mapping with "vfioctl: 1" and "tree:" at the top level', top ?? { kind: 'scalar', pos: 0, value: null });
  const keys = new Map<string, YNode | null>();
  for (const pair of top.pairs) {
    const k = keyString(r, pair.key);
    if (keys.has(k)) r.fail(`duplicate key "${k}"`, pair.key);
    if (!['vfioctl', 'tree', 'drivers', 'resets', 'boot'].includes(k)) {
      r.fail(`unknown top-level key "${k}" (expected vfioctl, tree, drivers, resets, boot)`, pair.key);
    }
    keys.set(k, pair.value);
  }
  const ver = keys.get('vfioctl');
  if (ver === undefined) r.fail('missing "vfioctl: 1" (the format version) at the top level', top);
  if (ver?.kind !== 'scalar' || ver.value !== BigInt(OWN_FORMAT_VERSION)) {
    r.fail(`unsupported format version (this vfioctl reads "vfioctl: ${OWN_FORMAT_VERSION}")`, ver);
  }
  const treeNode = keys.get('tree');
  if (treeNode?.kind !== 'map') return r.fail('missing "tree:" mapping (the root node)', treeNode ?? top);

  const root = newNode('', null, r.loc(treeNode));
  readNode(r, root, treeNode);
  resolve(r);
  const extras = readExtras(r, keys);
  for (const [node, opts] of r.nodeOptions) {
    if (opts.acpiReset) node.properties.push({ name: 'vfioctl,acpi-rst', value: new Uint8Array(0) });
  }
  return { root, file, format: 'vfioctl-yaml', extras };
}

function keyString(r: Reader, k: YNode | null): string {
  if (k?.kind === 'scalar' && (typeof k.value === 'string' || typeof k.value === 'bigint')) return String(k.value);
  return r.fail('keys must be plain names', k);
}

function readNode(r: Reader, node: DtNode, map: YMap, depth = 0): void {
  if (depth > MAX_DEPTH) r.fail(`nodes nest more than ${MAX_DEPTH} levels deep`, map);
  if (++r.nodes > MAX_TREE_NODES) r.fail(TOO_MANY_NODES, map);
  let unitSeen: Map<string, string> | null = null;
  // duplicate keys are checked here (linear) rather than by the parser (quadratic in a wide mapping)
  const keySeen = new Set<string>();
  for (const pair of map.pairs) {
    const key = keyString(r, pair.key);
    if (keySeen.has(key)) r.fail(`duplicate key "${key}" (a node or property is given twice; merge them)`, pair.key);
    keySeen.add(key);
    const value = pair.value;
    const kloc = r.loc(pair.key);
    if (key.startsWith('$')) {
      readMeta(r, node, key, value, pair.key);
      continue;
    }
    if (value?.kind === 'map') {
      if (!NODE_NAME_RE.test(key)) r.fail(`bad node name "${key}" (expected name or name@unit, letters, digits and ,._+-)`, pair.key);
      const at = key.indexOf('@');
      if (at >= 0) {
        const unit = key.slice(at + 1).toLowerCase();
        unitSeen ??= new Map();
        const other = unitSeen.get(unit);
        if (other !== undefined) {
          r.fail(`duplicate unit address @${unit}: "${key}" and "${other}" in ${nodePath(node)} (each child needs its own address)`, pair.key);
        }
        unitSeen.set(unit, key);
      }
      const child = newNode(key, node, kloc);
      readNode(r, child, value, depth + 1);
      continue;
    }
    if (!PROP_NAME_RE.test(key)) r.fail(`bad property name "${key}"`, pair.key);
    readProperty(r, node, key, value, kloc);
  }
}

function readMeta(r: Reader, node: DtNode, key: string, value: YNode | null, at: YNode | null): void {
  if (key === '$label') {
    if (value?.kind !== 'scalar' || typeof value.value !== 'string' || !LABEL_RE.test(value.value)) {
      return r.fail('$label must be a name (letters, digits, _), e.g. "$label: smmu"', value ?? at);
    }
    const prev = r.labels.get(value.value);
    if (prev) r.fail(`label "${value.value}" is already used by ${nodePath(prev)}`, value);
    r.labels.set(value.value, node);
    return;
  }
  if (key === '$acpi-reset') {
    if (value?.kind !== 'scalar' || typeof value.value !== 'boolean') return r.fail('$acpi-reset must be true or false', value ?? at);
    r.nodeOptions.set(node, { acpiReset: value.value });
    return;
  }
  r.fail(`unknown node option "${key}" (known: $label, $acpi-reset)`, at);
}

function readProperty(r: Reader, node: DtNode, name: string, value: YNode | null, loc: SourceLoc): void {
  if (value === null || (value.kind === 'scalar' && value.value === null)) {
    return r.fail(`property "${name}" has no value (use true for an empty property)`, value ?? { kind: 'scalar', pos: 0, value: null });
  }
  if (value.kind === 'scalar' && value.value === true) {
    if (STRING_PROPS.has(name) || (CELL_PROPS.has(name))) r.fail(`wrong type for "${name}": expected ${STRING_PROPS.has(name) ? 'a string' : 'cells'}, got true`, value);
    r.pending.push({ node, name, chunks: 'empty', loc });
    return;
  }
  const chunks: Chunk[] = [];
  collect(r, name, value, chunks, 0);
  let hasStr = false;
  let hasCell = false;
  for (const c of chunks) {
    if (typeof c === 'string') hasStr = true;
    else hasCell = true;
  }
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
  if (v?.kind === 'seq') {
    for (const item of v.items) collect(r, name, item, out, depth + 1);
    return;
  }
  if (v?.kind !== 'scalar') return r.fail(`unknown property type for "${name}": a mapping inside a value (only strings, integers, "&label" and true)`, v);
  const x = v.value;
  if (typeof x === 'bigint') {
    if (x < 0n || x > 0xffffffffn) r.fail(`value ${x < 0n ? '-' : ''}0x${(x < 0n ? -x : x).toString(16)} of "${name}" does not fit a 32-bit cell (split 64-bit values into two cells: high, low)`, v);
    out.push(Number(x));
  } else if (typeof x === 'string') {
    if (x.startsWith('&')) {
      const label = x.slice(1);
      if (!LABEL_RE.test(label)) r.fail(`bad reference "${x}" (expected "&label")`, v);
      out.push({ label, loc: r.loc(v) });
    } else {
      for (let i = 0; i < x.length; i++) {
        const c = x.charCodeAt(i);
        if (c > 0x7e || c === 0) r.fail(`string in "${name}" has a non-ASCII or NUL character at position ${i}; device-tree strings are 7-bit ASCII`, v);
      }
      out.push(x);
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
      if (p.chunks.length !== 1 || typeof c !== 'number') throw new TreeError('phandle must be one cell', p.loc);
      // of_find_node_by_phandle() never finds 0, and dtc refuses 0 and -1 (checks.c check_explicit_phandles)
      if (c === 0 || c === 0xffffffff) throw new TreeError(`phandle 0x${c.toString(16)} is not allowed (use 0x1 … 0xfffffffe)`, p.loc);
      if (used.has(c)) throw new TreeError(`phandle 0x${c.toString(16)} is used twice`, p.loc);
      used.add(c);
      explicit.set(p.node, c);
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
    if (typeof p.chunks[0] === 'string') {
      p.node.properties.push({ name: p.name, value: encodeStrings(p.chunks as string[]), loc: p.loc });
      continue;
    }
    const cells = p.chunks.map((c) => {
      if (typeof c === 'number') return c;
      if (typeof c === 'string') return 0; // not reached: readProperty refuses mixed lists
      const target = r.labels.get(c.label);
      if (!target) throw new TreeError(`reference to undefined label "&${c.label}" (define it with "$label: ${c.label}" on the target node)`, c.loc);
      return phandleOf(target);
    });
    p.node.properties.push({ name: p.name, value: encodeCells(cells), loc: p.loc });
  }
  for (const [node, v] of assigned) {
    if (!explicit.has(node)) node.properties.push({ name: 'phandle', value: encodeCells([v]) });
  }
}

function readExtras(r: Reader, keys: Map<string, YNode | null>): TreeExtras {
  const ex = emptyExtras();
  const drivers = keys.get('drivers');
  if (drivers !== undefined) {
    if (drivers?.kind !== 'seq') return r.fail('"drivers" must be a list of {name, compatible}', drivers);
    tooMany(r, drivers, 'drivers');
    for (const item of drivers.items) {
      const o = plainObject(r, item, ['name', 'compatible', 'probe-error'], 'drivers entry');
      const name = str(r, o, 'name', item);
      if (!DRIVER_NAME_RE.test(name) || name === '.' || name === '..') {
        r.fail(`bad driver name ${JSON.stringify(name)}: it names /sys/bus/platform/drivers/<name>, so 1-64 letters, digits and _.,:+- only`, o.get('name'));
      }
      const compat = o.get('compatible');
      const compatible = compat === undefined ? [] : strList(r, compat, 'compatible');
      const d: TreeExtras['drivers'][number] = { name, compatible, loc: r.loc(item) };
      const pe = o.get('probe-error');
      if (pe !== undefined) {
        if (pe?.kind !== 'scalar' || typeof pe.value !== 'string' || !isErrnoName(pe.value)) {
          return r.fail('probe-error must be an errno name such as EIO, ENODEV or EPROBE_DEFER', pe);
        }
        d.probeError = pe.value;
      }
      ex.drivers.push(d);
    }
  }
  const resets = keys.get('resets');
  if (resets !== undefined) {
    if (resets?.kind !== 'seq') return r.fail('"resets" must be a list of {compatible, module}', resets);
    tooMany(r, resets, 'resets');
    for (const item of resets.items) {
      const o = plainObject(r, item, ['compatible', 'module'], 'resets entry');
      const module = str(r, o, 'module', item);
      if (!MODULE_NAME_RE.test(module)) r.fail(`bad module name ${JSON.stringify(module)}: 1-55 letters, digits, _ and - only`, o.get('module'));
      ex.resets.push({ compatible: str(r, o, 'compatible', item), module, loc: r.loc(item) });
    }
  }
  const boot = keys.get('boot');
  if (boot !== undefined) {
    const o = plainObject(r, boot, ['modules'], 'boot');
    const mods = o.get('modules');
    if (mods !== undefined) {
      if (mods?.kind !== 'seq') return r.fail('"boot.modules" must be a list of {name, params}', mods);
      tooMany(r, mods, 'boot.modules');
      for (const item of mods.items) {
        const mo = plainObject(r, item, ['name', 'params'], 'boot module');
        const params: Record<string, string> = Object.create(null) as Record<string, string>;
        const pv = mo.get('params');
        if (pv !== undefined) {
          const po = plainObject(r, pv, null, 'params');
          for (const [k, v] of po) {
            if (!PARAM_NAME_RE.test(k)) r.fail(`bad parameter name ${JSON.stringify(k)}: letters, digits and _ only`, v);
            if (v?.kind !== 'scalar' || v.value === null) return r.fail(`parameter "${k}" must be a scalar`, v);
            params[k] = typeof v.value === 'boolean' ? (v.value ? '1' : '0') : String(v.value);
          }
        }
        const name = str(r, mo, 'name', item);
        if (!MODULE_NAME_RE.test(name)) r.fail(`bad module name ${JSON.stringify(name)}: 1-55 letters, digits, _ and - only`, mo.get('name'));
        ex.boot.modules.push({ name, params, loc: r.loc(item) });
      }
    }
  }
  return ex;
}

function tooMany(r: Reader, list: YSeq, what: string): void {
  if (list.items.length > MAX_LIST_ENTRIES) {
    r.fail(`"${what}" has ${list.items.length} entries; at most ${MAX_LIST_ENTRIES} are allowed`, list.items[MAX_LIST_ENTRIES] ?? list);
  }
}

function plainObject(r: Reader, n: YNode | null, allowed: string[] | null, what: string): Map<string, YNode | null> {
  if (n?.kind !== 'map') return r.fail(`${what} must be a mapping`, n);
  const m = new Map<string, YNode | null>();
  for (const pair of n.pairs) {
    const k = keyString(r, pair.key);
    if (m.has(k)) r.fail(`duplicate key "${k}" in ${what}`, pair.key);
    if (allowed && !allowed.includes(k)) r.fail(`unknown key "${k}" in ${what} (expected ${allowed.join(', ')})`, pair.key);
    m.set(k, pair.value);
  }
  return m;
}

function str(r: Reader, o: Map<string, YNode | null>, key: string, at: YNode | null): string {
  const v = o.get(key);
  if (v === undefined) return r.fail(`missing "${key}"`, at);
  if (v?.kind !== 'scalar' || typeof v.value !== 'string' || v.value.length === 0) return r.fail(`"${key}" must be a non-empty string`, v);
  return v.value;
}

function strList(r: Reader, v: YNode | null, key: string): string[] {
  if (v?.kind === 'scalar' && typeof v.value === 'string') return [v.value];
  if (v?.kind === 'seq') {
    return v.items.map((i) => {
      if (i?.kind !== 'scalar' || typeof i.value !== 'string') return r.fail(`"${key}" must be a string or a list of strings`, i);
      return i.value;
    });
  }
  return r.fail(`"${key}" must be a string or a list of strings`, v);
}
