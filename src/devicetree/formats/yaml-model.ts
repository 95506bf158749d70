/**
 * The small YAML document model the own-YAML and dtc-YAML readers work on, whichever
 * parser made it (yaml-lite.ts for the plain subset, the `yaml` package otherwise), and
 * offset → line:column for their error messages.
 */
/** A scalar's value, resolved with the YAML 1.2 core schema (integers as bigint). */
export type YScalarValue = string | bigint | number | boolean | null;

/** `pos` is the node's start offset in the text (UTF-16 index), as the yaml package's `range[0]`. */
export interface YScalar {
  kind: 'scalar';
  pos: number;
  value: YScalarValue;
}
export interface YMap {
  kind: 'map';
  pos: number;
  pairs: YPair[];
}
export interface YPair {
  key: YNode | null;
  value: YNode | null;
}
export interface YSeq {
  kind: 'seq';
  pos: number;
  items: (YNode | null)[];
}
/** `*name`: refused by the readers, kept so they can say where it is. */
export interface YAlias {
  kind: 'alias';
  pos: number;
}
export type YNode = YScalar | YMap | YSeq | YAlias;

/**
 * 1-based line and column of offsets in one text, as the yaml package's LineCounter
 * counts them (lines end at `\n`): the line starts are found once, then each lookup is a
 * binary search.
 */
export class LineIndex {
  private starts: number[] | null = null;
  constructor(private readonly text: string) {}

  pos(offset: number): { line: number; col: number } {
    if (!this.starts) {
      const s = [0];
      const t = this.text;
      for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) s.push(i + 1);
      this.starts = s;
    }
    const starts = this.starts;
    const off = Math.min(Math.max(offset, 0), this.text.length);
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= off) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: off - starts[lo]! + 1 };
  }
}

/** Line and column of one offset (for one-off error positions). */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  return new LineIndex(text).pos(offset);
}

/** Character codes the YAML readers scan for. */
export const SP = 0x20;
export const CR = 0x0d;
export const HASH = 0x23;
export const DQUOTE = 0x22;
export const SQUOTE = 0x27;
export const COLON = 0x3a;
export const COMMA = 0x2c;
export const DASH = 0x2d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
