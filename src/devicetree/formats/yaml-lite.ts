/**
 * A small YAML document model for the own-YAML reader, and a fast parser for the
 * plain subset of YAML that hand-written and generated trees use.
 *
 * The `yaml` package composes a full Document with a generator-based lexer and parser;
 * on a 10,000-device tree that alone takes well over a second. Most tree files use only
 * block mappings, `- key: value` lists, one-line flow lists/mappings and plain or quoted
 * scalars, so `parseYamlSubset` reads exactly that and gives up (returns null) on
 * anything else: tabs, CR, non-ASCII, anchors, aliases, tags, block scalars, multi-line
 * flow collections or scalars, escapes, explicit keys, several documents, any
 * indentation it does not expect, any plain scalar whose type is not obviously a
 * string, a decimal or hex integer, a boolean or null. The caller then runs the full
 * `yaml` package, which also produces every syntax error. So for every text it
 * accepts, the result (values and start offsets) is what the `yaml` package gives
 * (YAML 1.2 core schema, integers as bigint); test/property-yaml.test.ts checks this
 * differentially on generated documents.
 *
 * Everything here is iterative (no recursion on the input's nesting), so a hostile
 * 10,000-level document cannot overflow the stack.
 */
import { MAX_TREE_NODES, TreeError } from '../tree.js';
import { lineCol, type YScalarValue, type YScalar, type YMap, type YPair, type YSeq, type YNode, SP, CR, HASH, DQUOTE, SQUOTE, COLON, COMMA, DASH, LBRACKET, RBRACKET, LBRACE, RBRACE } from './yaml-model.js';

/** Any character outside printable ASCII and line ends (tab, lone CR, BOM, non-ASCII, controls): not for the fast path. */
const NOT_SIMPLE = /[^\n\r\x20-\x7e]|\r(?!\n)/;
/** Characters a plain scalar may hold in block context (no `#`, `:`, quotes, brackets, braces, backslash, backtick). */
const BLOCK_PLAIN = /^[A-Za-z0-9_$/][A-Za-z0-9 _$/.,@+=()~;<>?|!%^&*-]*$/;
/** The same in flow context, which also ends at `,`. */
const FLOW_PLAIN = /^[A-Za-z0-9_$/][A-Za-z0-9 _$/.@+=()~;<>?|!%^&*-]*$/;
/** Plain keys: no spaces. */
const BLOCK_KEY = /^[A-Za-z0-9_$/][A-Za-z0-9_$/.,@+=()~;<>?|!%^&*-]*$/;
const FLOW_KEY = /^[A-Za-z0-9_$/][A-Za-z0-9 _$/.@+=()~;<>?|!%^&*-]*$/;
const FIRST_COLON = /[^:\n]*:/y;
/** YAML limits an implicit key to 1024 characters; stay well inside. */
const MAX_KEY = 1000;

/**
 * Most values (keys, scalars, lists and mappings) the fast parser builds: a 50,000-node
 * tree needs about 1.2 million (README "Limits on input"). Keeps a 64 MiB file of `[1,1,…]`
 * from costing gigabytes.
 */
export const MAX_FAST_YAML_VALUES = 1_500_000;


/** Thrown inside the parser when the text leaves the subset. */
class NotSimple {
  // Only ever used as a signal; no data needed.
}
const BAIL = new NotSimple();

/**
 * Resolve a plain scalar like the yaml package's core schema, or bail when the type is
 * not obvious: integers (`0x1f`, `31`), `true`/`false`, `null`, and strings that start
 * with a letter, `_`, `$` or `/`. Anything else that starts with a digit (floats,
 * `1e400`, `0o17`, `1abc`) goes to the full parser.
 */
function resolvePlain(s: string): YScalarValue {
  const c = s.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) {
    if (/^(?:0x[0-9a-fA-F]+|[0-9]+)$/.test(s)) return BigInt(s);
    throw BAIL;
  }
  switch (s) {
    case 'true': case 'True': case 'TRUE': return true;
    case 'false': case 'False': case 'FALSE': return false;
    case 'null': case 'Null': case 'NULL': return null;
    default: return s;
  }
}

interface Frame {
  kind: 'map' | 'seq';
  indent: number;
  node: YMap | YSeq;
}

interface FlowFrame {
  node: YMap | YSeq;
  /** the key of the pair being read (flow mappings) */
  key: YNode | null;
}

class SubsetParser {
  private readonly t: string;
  private values = 0;
  private stack: Frame[] = [];
  /** a `key:` with nothing after it on its line: its value is the next lines' block, or null */
  private pending: { pair: YPair; indent: number; nullPos: number } | null = null;
  /** after a line that ended in a value, the next content line may not be indented deeper than this */
  private leafIndent = -1;
  private root: YMap | null = null;

  constructor(text: string, private readonly file: string) {
    this.t = text;
  }

  /** Count one more value built at `pos`; refuse a document with too many. */
  private count(pos: number): void {
    if (++this.values > MAX_FAST_YAML_VALUES) {
      const p = lineCol(this.t, pos);
      throw new TreeError(
        `more than ${MAX_FAST_YAML_VALUES.toLocaleString('en-US')} YAML values (keys, items and scalars); a tree has at most ${MAX_TREE_NODES.toLocaleString('en-US')} nodes`,
        { file: this.file, line: p.line, column: p.col },
      );
    }
  }

  run(): YMap | null {
    const t = this.t;
    let ls = 0;
    let sawStart = false;
    while (ls <= t.length) {
      let next = t.indexOf('\n', ls);
      if (next < 0) next = t.length;
      // a CRLF line ends before its CR, as the yaml package reads it
      const le = next > ls && t.charCodeAt(next - 1) === CR ? next - 1 : next;
      let cs = ls;
      while (cs < le && t.charCodeAt(cs) === SP) cs++;
      if (cs < le && t.charCodeAt(cs) !== HASH) {
        if (cs === ls && (t.startsWith('---', ls) || t.startsWith('...', ls))) {
          // one leading `---` (with nothing but a comment after it) is fine; anything else is not simple
          if (sawStart || this.root || !/^---(?: +(?:#.*)?)?$/.test(t.slice(ls, le))) throw BAIL;
          sawStart = true;
        } else this.line(cs - ls, cs, le);
      }
      ls = next + 1;
    }
    if (this.pending) this.closePending();
    return this.root;
  }

  private closePending(): void {
    const p = this.pending!;
    this.count(p.nullPos);
    p.pair.value = { kind: 'scalar', pos: p.nullPos, value: null };
    this.pending = null;
  }

  private isItem(cs: number, le: number): boolean {
    return this.t.charCodeAt(cs) === DASH && (cs + 1 === le || this.t.charCodeAt(cs + 1) === SP);
  }

  /** One content line: `n` spaces of indentation, content from `cs` to the line end `le`. */
  private line(n: number, cs: number, le: number): void {
    const item = this.isItem(cs, le);
    if (!this.root) {
      if (n !== 0 || item) throw BAIL;
      this.count(cs);
      this.root = { kind: 'map', pos: cs, pairs: [] };
      this.stack.push({ kind: 'map', indent: 0, node: this.root });
    }
    const p = this.pending;
    if (p) {
      this.pending = null;
      const top = this.stack[this.stack.length - 1]!;
      if (n > p.indent) {
        // the value of `key:` is the block that starts here
        this.count(cs);
        const node: YMap | YSeq = item ? { kind: 'seq', pos: cs, items: [] } : { kind: 'map', pos: cs, pairs: [] };
        p.pair.value = node;
        this.stack.push({ kind: node.kind, indent: n, node });
        this.leafIndent = -1;
        if (item) this.item(n, cs, le);
        else this.entry(node as YMap, n, cs, le);
        return;
      }
      if (n === p.indent && item && top.kind === 'map' && top.indent === n) {
        // `key:` then `- a` at the key's own indentation (a compact sequence)
        this.count(cs);
        const seq: YSeq = { kind: 'seq', pos: cs, items: [] };
        p.pair.value = seq;
        this.stack.push({ kind: 'seq', indent: n, node: seq });
        this.leafIndent = -1;
        this.item(n, cs, le);
        return;
      }
      this.pending = p;
      this.closePending();
    }
    if (this.leafIndent >= 0 && n > this.leafIndent) throw BAIL; // a continuation line
    let top = this.stack[this.stack.length - 1];
    while (top && (top.indent > n || (top.kind === 'seq' && top.indent === n && !item))) {
      this.stack.pop();
      top = this.stack[this.stack.length - 1];
    }
    if (!top || top.indent !== n) throw BAIL;
    if (top.kind === 'seq') {
      if (!item) throw BAIL;
      this.item(n, cs, le);
    } else {
      if (item) throw BAIL;
      this.entry(top.node as YMap, n, cs, le);
    }
  }

  /** `- value` or `- key: value…` at column `n` (the dash at `cs`). */
  private item(n: number, cs: number, le: number): void {
    const t = this.t;
    const seq = this.stack[this.stack.length - 1]!.node as YSeq;
    let vs = cs + 1;
    while (vs < le && t.charCodeAt(vs) === SP) vs++;
    if (vs >= le || t.charCodeAt(vs) === HASH || this.isItem(vs, le)) throw BAIL;
    const keyEnd = this.blockKeyEnd(vs, le);
    if (keyEnd >= 0) {
      // a mapping that starts on the dash's line; its indentation is the key's column
      this.count(vs);
      const map: YMap = { kind: 'map', pos: vs, pairs: [] };
      seq.items.push(map);
      const col = n + (vs - cs);
      this.stack.push({ kind: 'map', indent: col, node: map });
      this.entry(map, col, vs, le);
      return;
    }
    seq.items.push(this.inlineValue(vs, le));
    this.leafIndent = n;
  }

  /** Where the `:` of a `key: …` entry starting at `cs` is, or -1 when the line is not one. */
  private blockKeyEnd(cs: number, le: number): number {
    const t = this.t;
    const c = t.charCodeAt(cs);
    if (c === DQUOTE || c === SQUOTE) {
      const end = this.quotedEnd(cs, le);
      if (end < 0) return -1;
      return t.charCodeAt(end) === COLON && (end + 1 === le || t.charCodeAt(end + 1) === SP) ? end : -1;
    }
    // the first ':' on the line (a sticky regex stops at the line end, so this stays linear)
    FIRST_COLON.lastIndex = cs;
    if (!FIRST_COLON.test(t)) return -1;
    const colon = FIRST_COLON.lastIndex - 1;
    if (colon >= le) return -1;
    return colon + 1 === le || t.charCodeAt(colon + 1) === SP ? colon : -1;
  }

  /** `key: value`, `key:` (value on the next lines or null) in mapping `map` at indentation `n`. */
  private entry(map: YMap, n: number, cs: number, le: number): void {
    const t = this.t;
    const colon = this.blockKeyEnd(cs, le);
    if (colon < 0 || colon - cs > MAX_KEY) throw BAIL;
    let key: YScalar;
    const c = t.charCodeAt(cs);
    if (c === DQUOTE || c === SQUOTE) key = this.quoted(cs, le).node;
    else {
      const s = t.slice(cs, colon);
      if (!BLOCK_KEY.test(s)) throw BAIL;
      this.count(cs);
      key = { kind: 'scalar', pos: cs, value: resolvePlain(s) };
    }
    const pair: YPair = { key, value: null };
    map.pairs.push(pair);
    let vs = colon + 1;
    while (vs < le && t.charCodeAt(vs) === SP) vs++;
    if (vs >= le || t.charCodeAt(vs) === HASH) {
      this.pending = { pair, indent: n, nullPos: vs };
      this.leafIndent = -1;
      return;
    }
    pair.value = this.inlineValue(vs, le);
    this.leafIndent = n;
  }

  /** A value that ends on this line: flow collection, quoted or plain scalar, then only a comment. */
  private inlineValue(vs: number, le: number): YNode {
    const t = this.t;
    const c = t.charCodeAt(vs);
    let node: YNode;
    let end: number;
    if (c === LBRACKET || c === LBRACE) {
      ({ node, end } = this.flow(vs, le));
    } else if (c === DQUOTE || c === SQUOTE) {
      ({ node, end } = this.quoted(vs, le));
    } else {
      // plain: up to a comment (" #") or the line end
      let s = t.slice(vs, le);
      const hash = s.indexOf(' #');
      if (hash >= 0) s = s.slice(0, hash);
      s = s.trimEnd();
      if (!BLOCK_PLAIN.test(s)) throw BAIL;
      this.count(vs);
      return { kind: 'scalar', pos: vs, value: resolvePlain(s) };
    }
    this.trailer(end, le);
    return node;
  }

  /** After a value: spaces, then the line end or a comment separated by a space. */
  private trailer(i: number, le: number): void {
    const t = this.t;
    let j = i;
    while (j < le && t.charCodeAt(j) === SP) j++;
    if (j < le && !(t.charCodeAt(j) === HASH && j > i)) throw BAIL;
  }

  /** Offset just past the closing quote of a quoted scalar at `s`, or -1 (not on this line, or escapes). */
  private quotedEnd(s: number, le: number): number {
    const t = this.t;
    const q = t.charCodeAt(s);
    let i = s + 1;
    for (;;) {
      const e = t.indexOf(q === DQUOTE ? '"' : "'", i);
      if (e < 0 || e >= le) return -1;
      if (q === SQUOTE && t.charCodeAt(e + 1) === SQUOTE) {
        i = e + 2;
        continue;
      }
      if (q === DQUOTE && t.slice(s + 1, e).includes('\\')) return -1;
      return e + 1;
    }
  }

  private quoted(s: number, le: number): { node: YScalar; end: number } {
    const end = this.quotedEnd(s, le);
    if (end < 0) throw BAIL;
    this.count(s);
    let v = this.t.slice(s + 1, end - 1);
    if (this.t.charCodeAt(s) === SQUOTE) v = v.replace(/''/g, "'");
    return { node: { kind: 'scalar', pos: s, value: v }, end };
  }

  /** A flow scalar (plain or quoted) at `i`, for items, keys and values inside `[…]`/`{…}`. */
  private flowScalar(i: number, le: number, isKey: boolean): { node: YScalar; end: number } {
    const t = this.t;
    const c = t.charCodeAt(i);
    if (c === DQUOTE || c === SQUOTE) return this.quoted(i, le);
    let e = i;
    while (e < le) {
      const d = t.charCodeAt(e);
      if (d === COMMA || d === RBRACKET || d === RBRACE || d === LBRACKET || d === LBRACE || d === COLON || d === HASH) break;
      e++;
    }
    let end = e;
    while (end > i && t.charCodeAt(end - 1) === SP) end--;
    const s = t.slice(i, end);
    if (!(isKey ? FLOW_KEY : FLOW_PLAIN).test(s)) throw BAIL;
    this.count(i);
    return { node: { kind: 'scalar', pos: i, value: resolvePlain(s) }, end: e };
  }

  private skip(i: number, le: number): number {
    while (i < le && this.t.charCodeAt(i) === SP) i++;
    return i;
  }

  /** `key: ` inside a flow mapping at `i`; returns the key and where its value starts. */
  private flowKey(i: number, le: number): { key: YScalar; next: number } {
    const { node, end } = this.flowScalar(i, le, true);
    const colon = this.skip(end, le);
    if (this.t.charCodeAt(colon) !== COLON || this.t.charCodeAt(colon + 1) !== SP) throw BAIL;
    if (colon - i > MAX_KEY) throw BAIL;
    return { key: node, next: colon + 2 };
  }

  /** A `[…]` or `{…}` collection that ends on this line (nesting handled with an explicit stack). */
  private flow(start: number, le: number): { node: YNode; end: number } {
    const t = this.t;
    const st: FlowFrame[] = [];
    let i = start;
    for (;;) {
      // read one value at i
      i = this.skip(i, le);
      const c = t.charCodeAt(i);
      let v: YNode;
      if (c === LBRACKET) {
        this.count(i);
        const seq: YSeq = { kind: 'seq', pos: i, items: [] };
        i = this.skip(i + 1, le);
        if (t.charCodeAt(i) !== RBRACKET) {
          st.push({ node: seq, key: null });
          continue;
        }
        i++;
        v = seq;
      } else if (c === LBRACE) {
        this.count(i);
        const map: YMap = { kind: 'map', pos: i, pairs: [] };
        i = this.skip(i + 1, le);
        if (t.charCodeAt(i) !== RBRACE) {
          const k = this.flowKey(i, le);
          st.push({ node: map, key: k.key });
          i = k.next;
          continue;
        }
        i++;
        v = map;
      } else {
        if (i >= le) throw BAIL;
        const s = this.flowScalar(i, le, false);
        v = s.node;
        i = s.end;
      }
      // hand the value to the enclosing collections, closing those that end here
      for (;;) {
        const top = st[st.length - 1];
        if (!top) return { node: v, end: i };
        if (top.node.kind === 'seq') top.node.items.push(v);
        else top.node.pairs.push({ key: top.key, value: v });
        i = this.skip(i, le);
        const d = t.charCodeAt(i);
        if (d === COMMA) {
          i = this.skip(i + 1, le);
          const e = t.charCodeAt(i);
          if (e === RBRACKET || e === RBRACE || e === COMMA) throw BAIL; // trailing or empty item
          if (top.node.kind === 'map') {
            const k = this.flowKey(i, le);
            top.key = k.key;
            i = k.next;
          }
          break;
        }
        if ((d === RBRACKET && top.node.kind === 'seq') || (d === RBRACE && top.node.kind === 'map')) {
          st.pop();
          v = top.node;
          i++;
          continue;
        }
        throw BAIL;
      }
    }
  }
}

/**
 * Parse `text` if it stays inside the simple subset (see the file comment): the top-level
 * block mapping, or null when the text is not simple and the full parser must read it.
 */
export function parseYamlSubset(text: string, file = '<text>'): YMap | null {
  if (NOT_SIMPLE.test(text)) return null;
  try {
    return new SubsetParser(text, file).run();
  } catch (e) {
    if (e === BAIL) return null;
    throw e;
  }
}
