/**
 * Reader for dtc's YAML output (`dtc -I dts -O yaml`), cf. scripts/dtc/yamltree.c.
 *
 * dtc writes one YAML document whose top level is a one-item list holding the root
 * node. A node is a mapping: properties first (value `true` or a flow list of
 * "chunks"), then child nodes (mappings). Chunks are double-quoted strings,
 * untagged lists of 32-bit cells (a cell may be `!phandle N`) and `!u8`/`!u16`/`!u64`
 * lists. We turn every property into the bytes dtc would have put into a DTB
 * (cf. scripts/dtc/flattree.c), so a board read from YAML equals the same board read
 * from its DTB.
 *
 * We walk the parsed document's pairs instead of calling `toJS()`: DTS allows a
 * property and a child node with the same name, which dtc writes as the same key twice,
 * and the pairs also carry the source ranges we need for `file:line:column` errors.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { CollectionTag, Node as YamlNode, Pair, ScalarTag, YAMLError, YAMLMap, YAMLSeq } from 'yaml';
import { MAX_TREE_NODES, TOO_MANY_NODES, TreeError, concatBytes, emptyExtras, newNode } from '../tree.js';
import { checkFullYamlSize } from './yaml-size.js';
import type { DeviceTree, DtNode, DtProperty, SourceLoc } from '../tree.js';

/**
 * Deepest node nesting we accept (the kernel's unflatten_dt_nodes uses 64; dtc has no
 * limit). Below yaml-lite's MAX_YAML_NESTING, so this reader's message, naming the node,
 * is the one a deep tree gets.
 */
export const MAX_YAML_DEPTH = 256;

const CORE = 'tag:yaml.org,2002:';

/** Width in bits of each element of a list chunk, by tag (cf. dtc's TYPE_UINT8 … TYPE_UINT64 markers). */
const LIST_TAGS: ReadonlyMap<string | undefined, 8 | 16 | 32 | 64> = new Map<string | undefined, 8 | 16 | 32 | 64>([
  [undefined, 32],
  [`${CORE}seq`, 32],
  ['!u8', 8],
  ['!u16', 16],
  ['!u64', 64],
]);

/** Parse an integer literal the way YAML's core schema does (`0x1f`, `0o17`, `31`), or undefined. */
function parseIntLiteral(s: string): bigint | undefined {
  const t = s.trim();
  if (/^[-+]?(0x[0-9a-fA-F]+|0o[0-7]+|[0-9]+)$/.test(t)) {
    const v = BigInt(t.replace(/^[-+]/, ''));
    return t.startsWith('-') ? -v : v;
  }
  return undefined;
}

/** `!u8`, `!u16`, `!u64` keep the list as is (the tag stays on the node); `!phandle N` becomes a bigint. */
function dtcTags(): (CollectionTag | ScalarTag)[] {
  const list = (tag: string): CollectionTag => ({ tag, collection: 'seq', resolve: (seq) => seq });
  const phandle: ScalarTag = {
    tag: '!phandle',
    resolve: (value: string): unknown => parseIntLiteral(value) ?? value,
  };
  return [list('!u8'), list('!u16'), list('!u64'), phandle];
}

interface Ctx {
  file: string;
  text: string;
  lc: LineCounter;
  /** nodes read so far (MAX_TREE_NODES) */
  nodes: number;
}

/** 1-based line/column of a source offset. */
function locAt(ctx: Ctx, offset: number | undefined): SourceLoc {
  if (offset === undefined || offset < 0) return { file: ctx.file };
  const { line, col } = ctx.lc.linePos(offset);
  return { file: ctx.file, line: Math.max(line, 1), column: Math.max(col, 1) };
}

/** Where a node starts; for a tagged node, where its tag starts (the package's range begins after the tag). */
function locOf(ctx: Ctx, node: unknown): SourceLoc {
  if (!(isAlias(node) || isScalar(node) || isMap(node) || isSeq(node))) return locAt(ctx, undefined);
  let start = node.range?.[0];
  const tag = node.tag;
  if (start !== undefined && tag !== undefined && tag.startsWith('!')) {
    const at = ctx.text.lastIndexOf(tag, start);
    if (at >= 0 && /^\s*$/.test(ctx.text.slice(at + tag.length, start))) start = at;
  }
  return locAt(ctx, start);
}

function fail(ctx: Ctx, node: unknown, message: string): never {
  throw new TreeError(message, locOf(ctx, node));
}

/** Short description of a YAML node for error messages. */
function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isAlias(node)) return `the alias *${node.source}`;
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return node.tag ? `a ${node.tag} list` : 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'an empty value';
    if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
    if (typeof v === 'bigint') return `the number 0x${v.toString(16)}`;
    return `the value ${String(v)}`;
  }
  return 'something unexpected';
}

/** Turn the package's first syntax error into a TreeError at its `linePos`. */
function yamlSyntaxError(ctx: Ctx, e: YAMLError): TreeError {
  const pos = e.linePos?.[0];
  const loc: SourceLoc = pos ? { file: ctx.file, line: pos.line, column: pos.col } : { file: ctx.file };
  if (e.code === 'MULTIPLE_DOCS') {
    return new TreeError("more than one YAML document; dtc writes exactly one ('---' … '...')", loc);
  }
  // prettifyError appended " at line L, column C:" and a source excerpt; our loc says that already.
  const msg = e.message.replace(/ at line \d+, column \d+(:[\s\S]*)?$/, '');
  return new TreeError(`YAML syntax error: ${msg}`, loc);
}

/** Reject tags this reader does not know (the package only warns about them). */
function checkTag(ctx: Ctx, node: YamlNode, allowed: readonly (string | undefined)[], expected: string): void {
  if (!allowed.includes(node.tag)) {
    fail(ctx, node, `unknown tag ${node.tag ?? '(none)'}; expected ${expected}`);
  }
}

/** The name of a key: the source text for keys YAML resolved to a number or boolean (`12:`). */
function keyName(ctx: Ctx, pair: Pair<unknown, unknown>, parentLoc: unknown): string {
  const key = pair.key;
  if (!isScalar(key)) {
    fail(ctx, key ?? parentLoc, `a key must be a plain name (a property or node name), found ${describe(key)}`);
  }
  const name = typeof key.value === 'string' ? key.value : key.source ?? String(key.value);
  if (name.length === 0) fail(ctx, key, 'empty property or node name');
  if (!/^[\x21-\x7e]+$/.test(name)) {
    fail(ctx, key, `name ${JSON.stringify(name)} has spaces, control or non-ASCII characters; dtc names are printable ASCII`);
  }
  return name;
}

/** A string chunk: the characters plus the terminating NUL (an embedded `\0` is kept as a byte). */
function stringChunk(ctx: Ctx, node: YamlNode, s: string): Uint8Array {
  const out = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) {
      const cp = s.codePointAt(i) ?? c;
      fail(ctx, node, `string contains the non-ASCII character U+${cp.toString(16).toUpperCase().padStart(4, '0')}` +
        ` at index ${i}; dtc strings are 7-bit ASCII (write other bytes as a !u8 list)`);
    }
    out[i] = c;
  }
  return out;
}

/** One element of a number list, checked against its width. */
function listElement(ctx: Ctx, item: unknown, bits: 8 | 16 | 32 | 64): bigint {
  if (!isScalar(item)) {
    fail(ctx, item, `expected a number in this ${bits}-bit list, found ${describe(item)}`);
  }
  const allowed = bits === 32 ? [undefined, `${CORE}int`, '!phandle'] : [undefined, `${CORE}int`];
  checkTag(ctx, item, allowed, bits === 32 ? 'none or !phandle' : `none (!phandle is only allowed in 32-bit cell lists)`);
  const v = item.value;
  if (typeof v !== 'bigint') {
    const what = item.tag === '!phandle' ? '!phandle needs an integer' : 'expected an integer such as 0x1f';
    fail(ctx, item, `${what}, found ${describe(item)}`);
  }
  const max = (1n << BigInt(bits)) - 1n;
  if (v < 0n || v > max) {
    fail(ctx, item, `value ${v < 0n ? v.toString() : '0x' + v.toString(16)} does not fit in ${bits} bits` +
      ` (expected 0x0 … 0x${max.toString(16)})`);
  }
  return v;
}

/** A list chunk: untagged = `<…>` 32-bit cells, `!u8`/`!u16`/`!u64` = `/bits/ N <…>` (big-endian). */
function listChunk(ctx: Ctx, seq: YAMLSeq): Uint8Array {
  const bits = LIST_TAGS.get(seq.tag);
  if (bits === undefined) {
    fail(ctx, seq, `unknown tag ${seq.tag ?? ''} on a list; expected !u8, !u16, !u64 or none (32-bit cells)`);
  }
  const size = bits / 8;
  const out = new Uint8Array(seq.items.length * size);
  const dv = new DataView(out.buffer);
  seq.items.forEach((item, i) => {
    const v = listElement(ctx, item, bits);
    if (bits === 8) dv.setUint8(i, Number(v));
    else if (bits === 16) dv.setUint16(i * 2, Number(v), false);
    else if (bits === 32) dv.setUint32(i * 4, Number(v), false);
    else dv.setBigUint64(i * 8, v, false);
  });
  return out;
}

const PROPERTY_SHAPE =
  'expected true (an empty property), a list of chunks such as ["a", "b"] or [[0x1, 0x2]], or a mapping (a child node)';

/** A property value: `true` or a list of chunks (cf. yamltree.c yaml_propval). */
function propertyValue(ctx: Ctx, value: unknown, keyNode: unknown): Uint8Array {
  if (value === null || value === undefined) fail(ctx, keyNode, `no value; ${PROPERTY_SHAPE}`);
  if (isAlias(value)) fail(ctx, value, `YAML aliases are not part of dtc's output; ${PROPERTY_SHAPE}`);
  if (isScalar(value)) {
    checkTag(ctx, value, [undefined, `${CORE}bool`], 'no tag on true');
    if (value.value === true) return new Uint8Array(0);
    fail(ctx, value.value === null ? keyNode : value, `found ${describe(value)}; ${PROPERTY_SHAPE}`);
  }
  if (!isSeq(value)) fail(ctx, value, `found ${describe(value)}; ${PROPERTY_SHAPE}`);
  if (value.tag !== undefined && value.tag !== `${CORE}seq`) {
    fail(ctx, value, `a ${value.tag} list must be a chunk inside the property's list: name: [${value.tag} [...]]`);
  }
  const chunks: Uint8Array[] = [];
  for (const item of value.items) {
    if (isSeq(item)) chunks.push(listChunk(ctx, item));
    else if (isScalar(item) && typeof item.value === 'string') {
      checkTag(ctx, item, [undefined, `${CORE}str`], 'no tag on a string');
      chunks.push(stringChunk(ctx, item, item.value));
    } else if (isScalar(item) && typeof item.value === 'bigint' && item.tag === undefined) {
      fail(ctx, item, `a number directly in the property list; cells go in an inner list: [[0x${item.value.toString(16)}]]`);
    } else {
      fail(ctx, item ?? value, `found ${describe(item)} in a property list; expected "a string", [cells] or !u8/!u16/!u64 [values]`);
    }
  }
  return concatBytes(chunks);
}

/** Fill `dt` from a node mapping: properties and children, in document order. */
function fillNode(ctx: Ctx, map: YAMLMap, dt: DtNode, depth: number): void {
  if (map.tag !== undefined && map.tag !== `${CORE}map`) {
    fail(ctx, map, `unknown tag ${map.tag} on a node; dtc writes nodes as untagged mappings`);
  }
  const props = new Set<string>();
  const kids = new Set<string>();
  for (const pair of map.items) {
    const name = keyName(ctx, pair, map);
    const loc = locOf(ctx, pair.key);
    if (isMap(pair.value)) {
      if (name.includes('/')) fail(ctx, pair.key, `node name ${JSON.stringify(name)} contains '/'`);
      if (kids.has(name)) fail(ctx, pair.key, `duplicate child node ${name}`);
      if (depth + 1 > MAX_YAML_DEPTH) fail(ctx, pair.key, `nodes nested deeper than ${MAX_YAML_DEPTH} levels`);
      kids.add(name);
      if (++ctx.nodes > MAX_TREE_NODES) fail(ctx, pair.key, TOO_MANY_NODES);
      fillNode(ctx, pair.value, newNode(name, dt, loc), depth + 1);
    } else {
      if (props.has(name)) fail(ctx, pair.key, `duplicate property ${name}`);
      props.add(name);
      const prop: DtProperty = { name, value: propertyValue(ctx, pair.value, pair.key), loc };
      dt.properties.push(prop);
    }
  }
}

/** The root mapping: `doc[0]` of the one-item top-level list. */
function rootMap(ctx: Ctx, contents: unknown): YAMLMap {
  const shape = "expected dtc's YAML: a list with one item, the root node ('- compatible: [...]')";
  if (contents === null || contents === undefined || (isScalar(contents) && contents.value === null)) {
    throw new TreeError(`empty document; ${shape}`, { file: ctx.file, line: 1, column: 1 });
  }
  if (!isSeq(contents)) fail(ctx, contents, `top level is ${describe(contents)}; ${shape}`);
  if (contents.items.length !== 1) {
    const where = contents.items.length > 1 ? contents.items[1] : contents;
    fail(ctx, where, `top-level list has ${contents.items.length} items; ${shape}`);
  }
  const root = contents.items[0];
  if (!isMap(root)) fail(ctx, root ?? contents, `the root node is ${describe(root)}; expected a mapping of properties and child nodes`);
  return root;
}

/** Read dtc's YAML (`dtc -I dts -O yaml`) into a DeviceTree. Throws TreeError. */
export function parseDtcYaml(text: string, file: string): DeviceTree {
  const lc = new LineCounter();
  const ctx: Ctx = { file, text, lc, nodes: 1 };
  checkFullYamlSize(text, file);
  let doc;
  try {
    doc = parseDocument(text, { customTags: dtcTags(), intAsBigInt: true, lineCounter: lc, uniqueKeys: false });
  } catch (e) {
    if (e instanceof TreeError) throw e;
    throw new TreeError(`cannot parse YAML: ${e instanceof Error ? e.message : String(e)}`, { file });
  }
  const first = doc.errors[0];
  if (first) throw yamlSyntaxError(ctx, first);
  const map = rootMap(ctx, doc.contents);
  const root = newNode('', null, locOf(ctx, map));
  try {
    fillNode(ctx, map, root, 0);
  } catch (e) {
    if (e instanceof RangeError) throw new TreeError(`document nested too deeply: ${e.message}`, { file });
    throw e;
  }
  return { root, file, format: 'dtc-yaml', extras: emptyExtras() };
}

