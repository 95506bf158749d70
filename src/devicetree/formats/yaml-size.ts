/**
 * Before a YAML text goes to the full `yaml` package (the plain subset aside): a cheap
 * sniff for dtc's YAML, and bounds on what the package is given (README "Limits on input").
 */
import { TreeError } from '../tree.js';
import { lineCol, SP, HASH, COLON, COMMA, DASH, LBRACKET, RBRACKET, LBRACE, RBRACE } from './yaml-model.js';

/** Most values the full `yaml` package is given (it needs about 1 KB of memory per value). */
export const MAX_FULL_YAML_VALUES = 250_000;
/** Deepest YAML nesting the full parser is given (the package runs out of stack near 900 levels). */
export const MAX_YAML_NESTING = 300;


/** Cheap sniff: first non-comment content is `---`, then a line starting with `- ` (a one-item list). */
export function looksLikeDtcYaml(text: string): boolean {
  const lines = text.slice(0, 4096).split(/\r?\n/);
  let sawStart = false;
  for (const raw of lines) {
    const line = raw.replace(/^\uFEFF/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    if (!sawStart) {
      if (!/^---\s*$/.test(line)) return false;
      sawStart = true;
      continue;
    }
    return line.startsWith('- ') || line === '-';
  }
  return false;
}

/**
 * Refuse, before the full `yaml` package sees it, a text that would cost it too much:
 * more than MAX_FULL_YAML_VALUES values or YAML nesting deeper than MAX_YAML_NESTING.
 * Both are over-estimates from one pass over the characters (every `,` `:` `-` `[` `{`
 * `!` `&` `*` `?` and line end may start a value; indentation levels, leading `- ` and
 * open brackets are nesting), so a text that passes is within the limits.
 */
export function checkFullYamlSize(text: string, file: string): void {
  const fail = (pos: number, message: string): never => {
    const p = lineCol(text, pos);
    throw new TreeError(message, { file, line: p.line, column: p.col });
  };
  let values = 1;
  let flow = 0;
  const indents: number[] = [];
  for (let ls = 0; ls < text.length; ) {
    let le = text.indexOf('\n', ls);
    if (le < 0) le = text.length;
    let cs = ls;
    while (cs < le && text.charCodeAt(cs) === SP) cs++;
    if (cs < le && text.charCodeAt(cs) !== HASH && flow === 0) {
      const indent = cs - ls;
      while (indents.length > 0 && indents[indents.length - 1]! > indent) indents.pop();
      if (indents.length === 0 || indents[indents.length - 1]! < indent) indents.push(indent);
    }
    let dashes = 0;
    for (let i = cs; i + 1 < le && text.charCodeAt(i) === DASH && text.charCodeAt(i + 1) === SP; i += 2) {
      dashes++;
      while (i + 2 < le && text.charCodeAt(i + 2) === SP) i++;
    }
    for (let i = ls; i <= le && i < text.length + 1; i++) {
      const c = i < le ? text.charCodeAt(i) : 0x0a;
      if (c === LBRACKET || c === LBRACE) flow++;
      else if ((c === RBRACKET || c === RBRACE) && flow > 0) flow--;
      if (c === COMMA || c === COLON || c === DASH || c === LBRACKET || c === LBRACE || c === 0x21 || c === 0x26 || c === 0x2a || c === 0x3f || c === 0x0a) {
        if (++values > MAX_FULL_YAML_VALUES) {
          fail(Math.min(i, text.length), `too big for the full YAML parser: more than ${MAX_FULL_YAML_VALUES.toLocaleString('en-US')} values` +
            ' (keys, items and scalars); a tree this big must be written in the plain YAML subset (see README "Limits on input") or given as a .dtb');
        }
      }
      if (indents.length + dashes + flow > MAX_YAML_NESTING) {
        fail(Math.min(i, text.length), `YAML nested more than ${MAX_YAML_NESTING} levels deep; real device trees nest fewer than 20`);
      }
    }
    ls = le + 1;
  }
}
