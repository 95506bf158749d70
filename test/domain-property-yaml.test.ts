/**
 * The fast YAML subset parser (src/devicetree/yaml-lite.ts) against the `yaml` package:
 * on generated documents full of near-misses (odd scalars, comments, indentation
 * jitter, flow collections, quotes, tabs, CR), whenever the fast parser accepts a text,
 * the full parser must accept it too and give the same nodes, values and start
 * offsets. So error locations and values cannot depend on which path read a tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseYamlSubset } from '../src/devicetree/formats/yaml-lite.js';
import { parseFullYaml, parseOwnYaml } from '../src/devicetree/formats/own-yaml.js';
import { TreeError } from '../src/devicetree/tree.js';
import { TREES } from './helpers.js';

const STRESS = process.env['VFIOCTL_STRESS'] === '1';

/** Scalars inside the subset. */
const CLEAN = [
  'a', 'foo', 'bar-baz', 'x_y', '$label', 'ethernet@fff51000', 'simple-bus', 'a b c', 'a/b', '/x', '__proto__', 'constructor',
  '0x10', '0xFFFFffff', '12', '007', '0', '4294967296', 'true', 'True', 'false', 'null', 'Null', 'NULL', 'yes', 'on',
  '"q"', "'q'", "'it''s'", "''", '""', '"&smmu"', '"a # b"', "'a: b'", '"arm,mmu-500"',
];
/** Scalars on every edge of the subset: types it leaves to the full parser, indicators, comments, quotes. */
const EDGY = [
  '0X10', '1.5', '1e400', '-1', '+1', '.inf', '.5', '0o17', '0x1_0000', '1_000', 'tRue', '~', 'arm,mmu-500',
  'a#b', 'a #b', 'a: b', 'a:b', 'a:', 'x]', 'x}', '[x', '{x', 'x,y', '&a x', '*a', '!t x', '!!str 1', '|', '>', '%x', '@x', '`x',
  '"a\\"b"', '"a\\tb"', '"x', "'x", '-x', '- x', '-', '? x', ': x', 'a b ', '---', '...', 'a\tb', 'caf\u00e9',
];

const word = (edgy: boolean): fc.Arbitrary<string> =>
  edgy
    ? fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...CLEAN) },
        { weight: 2, arbitrary: fc.constantFrom(...EDGY) },
        { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'ab01x ,:#[]{}"\'-&*!|>?@$_/.'.split('')), maxLength: 8 }) },
      )
    : fc.constantFrom(...CLEAN);

/** A one-line value: a word, or a flow collection of them. */
function flowValue(edgy: boolean): fc.Arbitrary<string> {
  const w = word(edgy);
  return fc.letrec<{ v: string }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      w,
      fc.tuple(fc.array(tie('v'), { maxLength: 4 }), fc.constantFrom(', ', ',', ' , ', ',  ')).map(([xs, sep]) => `[${xs.join(sep)}]`),
      fc.tuple(fc.array(fc.tuple(w, tie('v')), { maxLength: 3 }), fc.constantFrom(': ', ': ', ' : ', ...(edgy ? [':', ' :'] : []))).map(
        ([ps, colon]) => `{${ps.map(([k, v]) => `${k}${colon}${v}`).join(', ')}}`,
      ),
      fc.constantFrom('[]', '{}', '[ ]', '[[0x1, 0x2], [0x3]]', '["&smmu", 0x100]', ...(edgy ? ['[a,]', '[a, , b]', '[a', '{a: 1'] : [])),
    ),
  })).v;
}

interface Entry {
  key: string;
  /** a one-line value, or a nested block (mapping or list), or nothing */
  value: { kind: 'line'; text: string } | { kind: 'map'; entries: Entry[] } | { kind: 'seq'; items: Entry[][] } | { kind: 'none' };
  comment: string;
  /** indentation jitter for this line (usually 0) */
  jitter: number;
  /** lines to emit before this one */
  before: string;
  trailing: string;
}

function entries(edgy: boolean): fc.Arbitrary<Entry[]> {
  const keys = ['a', 'b', 'reg', '"#address-cells"', "'q k'", '$label', 'dev@1', '12', 'true', 'null', 'constructor'];
  const pick = <T>(clean: T[], more: T[]): fc.Arbitrary<T> => fc.constantFrom(...clean, ...(edgy ? more : []));
  return fc.letrec<{ e: Entry[] }>((tie) => ({
    e: fc.array(
      fc.record({
        key: edgy ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...keys, 'x y', '? x', '- x', 'a:b') }, { weight: 1, arbitrary: word(true) }) : fc.constantFrom(...keys),
        value: fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          flowValue(edgy).map((text) => ({ kind: 'line' as const, text })),
          tie('e').map((e) => ({ kind: 'map' as const, entries: e as Entry[] })),
          fc.array(tie('e'), { maxLength: 3 }).map((items) => ({ kind: 'seq' as const, items: items as Entry[][] })),
          fc.constant({ kind: 'none' as const }),
        ),
        comment: pick(['', '', '', ' # c', '  # c # d'], ['#c']),
        jitter: pick([0], [0, 0, 0, 0, 1, -1, 2]),
        before: pick(['', '', '', '\n', '# note\n', '   # indented note\n'], ['  \n', '\t\n']),
        trailing: pick(['', '', ' '], ['\t', '\r']),
      }),
      { maxLength: 4 },
    ),
  })).e;
}

/** Render entries as block YAML at `indent` with `step` extra spaces per level; `compact` seqs sit at the key's column. */
function render(es: Entry[], indent: number, step: number, compact: boolean, firstPrefix?: string): string {
  let out = '';
  es.forEach((e, i) => {
    const pad = ' '.repeat(Math.max(0, indent + e.jitter));
    const lead = i === 0 && firstPrefix !== undefined ? firstPrefix : pad;
    if (i > 0 || firstPrefix === undefined) out += e.before;
    const v = e.value;
    if (v.kind === 'line') out += `${lead}${e.key}: ${v.text}${e.comment}${e.trailing}\n`;
    else {
      out += `${lead}${e.key}:${e.comment}${e.trailing}\n`;
      if (v.kind === 'map') out += render(v.entries, indent + step, step, compact);
      if (v.kind === 'seq') {
        const col = compact ? indent : indent + step;
        for (const item of v.items) {
          if (item.length === 0) out += `${' '.repeat(col)}- x\n`;
          else out += render(item, col + 2, step, compact, `${' '.repeat(col)}- `);
        }
      }
    }
  });
  return out;
}

const HEADS = ['', '', '---\n', '# top\n', '--- # x\n'];
const EDGY_HEADS = ['---\n---\n', '%YAML 1.2\n---\n', '--- a: 1\n', '...\n', '\uFEFF'];

function doc(edgy: boolean): fc.Arbitrary<string> {
  return fc
    .tuple(entries(edgy), fc.constantFrom(1, 2, 2, 2, 4), fc.boolean(), fc.constantFrom(...HEADS, ...(edgy ? EDGY_HEADS : [])))
    .map(([es, step, compact, head]) => head + render(es, 0, step, compact));
}

/** A clean document with one small edit: a character dropped, doubled or replaced by an indicator. */
const mutated = fc
  .tuple(doc(false), fc.nat(), fc.constantFrom('drop', 'double', ' ', ':', '#', '-', '[', ']', '{', '}', ',', '"', "'", '\n', '  ', '&', '*', '!', '|'))
  .map(([text, at, op]) => {
    if (text.length === 0) return text;
    const i = at % text.length;
    if (op === 'drop') return text.slice(0, i) + text.slice(i + 1);
    if (op === 'double') return text.slice(0, i) + text[i] + text.slice(i);
    return text.slice(0, i) + op + text.slice(i + 1);
  });

/** Same shape, values and offsets (the fast parser's contract). */
function check(text: string): 'fast' | 'full' {
  const fast = parseYamlSubset(text);
  if (fast === null) return 'full';
  let full;
  try {
    full = parseFullYaml(text, 'gen.yaml');
  } catch (e) {
    assert.fail(`the fast parser accepted text the yaml package refuses (${e instanceof TreeError ? e.format() : String(e)}):\n${JSON.stringify(text)}`);
  }
  assert.deepEqual(fast, full, `fast and full parsers disagree on:\n${JSON.stringify(text)}`);
  return 'fast';
}

test('fast YAML subset parser agrees with the yaml package on generated documents', { timeout: 120_000 }, () => {
  let accepted = 0;
  let total = 0;
  fc.assert(
    fc.property(fc.oneof(doc(false), doc(true), mutated), (text) => {
      total++;
      if (check(text) === 'fast') accepted++;
    }),
    { numRuns: STRESS ? 50_000 : 2_500 },
  );
  // the generator must exercise the fast path, not only the fallback
  assert.ok(accepted > total / 4, `only ${accepted} of ${total} generated documents took the fast path`);
});

test('fast and full parsers agree on the bundled trees', () => {
  const files = readdirSync(TREES).filter((f) => f.endsWith('.yaml')).map((f) => path.join(TREES, f));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    assert.equal(check(text), 'fast', `${f} should take the fast path`);
    const a = parseOwnYaml(text, f);
    const b = parseOwnYaml(text, f, { fast: false });
    assert.deepEqual(a, b, f);
  }
});
