/**
 * Hostile device trees, fed to `vfioctl load` the way users feed unchecked files: alias
 * bombs, 10,000-level nesting, 100,000 nodes, huge integers, prototype names, wrong
 * types everywhere, bad encodings, phandle cycles, DTBs whose offsets lie, garbage.
 *
 * Every outcome must be a clean load or exit 3 with `file:line:column` (text) or
 * `file: offset 0x…` (DTB), with no stack trace, within the test's timeout, and with
 * the state file byte-for-byte unchanged. Own-YAML cases are also read through both
 * YAML paths (the fast subset parser and the full yaml package) to show they agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseOwnYaml, MAX_DEPTH, MAX_LIST_ENTRIES } from '../src/devicetree/formats/own-yaml.js';
import { parseDtcYaml, MAX_YAML_DEPTH } from '../src/devicetree/formats/dtc-yaml.js';
import { parseFdt, MAX_FDT_DEPTH } from '../src/devicetree/formats/fdt.js';
import { parseYamlSubset } from '../src/devicetree/formats/yaml-lite.js';
import { MAX_FULL_YAML_VALUES, MAX_YAML_NESTING } from '../src/devicetree/formats/yaml-size.js';
import { MAX_TREE_NODES, TreeError } from '../src/devicetree/tree.js';
import type { DeviceTree } from '../src/devicetree/tree.js';
import { boot } from '../src/base/boot.js';
import { roundTrip } from './roundtrip.js';
import { REPO, TREES, run, stateBytes, booted, tempDir } from './helpers.js';
import { StructWriter, blob } from './fdt-writer.js';
import { loadRefused, type TreeErrorDoc } from './refuse.js';

const FIX = path.join(REPO, 'test/fixtures/hostile');
const HAVE_DTC = spawnSync('dtc', ['--version']).status === 0;
const PROTO_KEYS_BEFORE = Object.getOwnPropertyNames(Object.prototype).sort();

function scratch(): string {
  return tempDir('vfioctl-hostile-');
}

interface Where {
  message: RegExp;
  line?: number;
  column?: number;
  offset?: number;
}

/**
 * `vfioctl load FILE` must exit 3 with the error located in FILE, no stack trace, and the
 * state untouched; checked as JSON and (unless `jsonOnly`) as the human message.
 */
async function refusedLoad(s: string, file: string, where: Where, jsonOnly = false): Promise<TreeErrorDoc> {
  const { e, before } = await loadRefused(s, file, where.message);
  assert.equal(e.file, file);
  const binary = where.offset !== undefined;
  if (binary) assert.equal(e.offset, where.offset, `${file}: ${e.message}`);
  else {
    assert.equal(typeof e.line, 'number', `${file}: "${e.message}" has no line`);
    assert.equal(typeof e.column, 'number', `${file}: "${e.message}" has no column`);
    if (where.line !== undefined) assert.equal(e.line, where.line, `${file}: ${e.message}`);
    if (where.column !== undefined) assert.equal(e.column, where.column, `${file}: ${e.message}`);
  }
  if (!jsonOnly) {
    const h = await run(s, 'load', file);
    assert.equal(h.code, 3);
    const at = binary ? `${file}: offset 0x${where.offset!.toString(16)}: ` : `${file}:${e.line}:${e.column}: `;
    assert.ok(h.stderr.startsWith(`vfioctl: ${at}`), h.stderr);
    assert.doesNotMatch(h.stderr, /\n\s+at /);
    assert.deepEqual(stateBytes(s), before);
  }
  return e;
}

/** Load must succeed and replace the machine. */
async function loads(s: string, file: string): Promise<void> {
  const r = await run(s, '-q', 'load', '--force', file);
  assert.equal(r.code, 0, `${file}: ${r.stderr}`);
}

/** Parse own YAML through both YAML paths; they must agree exactly (the same tree, or the same error and place). */
function ownBoth(text: string, file = 'x.yaml'): DeviceTree | TreeError {
  const attempt = (fast: boolean): DeviceTree | TreeError => {
    try {
      return parseOwnYaml(text, file, { fast });
    } catch (e) {
      if (e instanceof TreeError) return e;
      throw e;
    }
  };
  const a = attempt(true);
  const b = attempt(false);
  if (a instanceof TreeError || b instanceof TreeError) {
    assert.ok(a instanceof TreeError && b instanceof TreeError, `one path refused, the other did not:\n${text}`);
    assert.equal(a.format(), b.format(), `fast and full paths disagree:\n${text}`);
  } else assert.deepEqual(a, b);
  return a;
}

function ownError(text: string): TreeError {
  const r = ownBoth(text);
  assert.ok(r instanceof TreeError, `expected a TreeError for:\n${text}`);
  return r;
}

const HEAD = 'vfioctl: 1\ntree:\n  "#address-cells": 1\n  "#size-cells": 1\n';

// ---- alias bombs ----

test('alias bombs (billion laughs) stop at the first alias, with its place, in own and dtc YAML', async () => {
  const s = await booted();
  await refusedLoad(s, path.join(FIX, 'billion-laughs.yaml'), { message: /YAML aliases \(\*name\) are not supported/, line: 7, column: 11 });
  await refusedLoad(s, path.join(FIX, 'billion-laughs.dtc.yaml'), { message: /found the alias \*a in a property list/, line: 4, column: 11 });
  await refusedLoad(s, path.join(FIX, 'merge-key-alias.yaml'), { message: /YAML aliases/, line: 7, column: 9 });
  // both own-YAML paths agree (the fast parser never takes anchors; the full one refuses them)
  assert.match(ownError(readFileSync(path.join(FIX, 'billion-laughs.yaml'), 'utf8')).message, /aliases/);
  // an alias as a key, a top-level value and an item of a cell list
  for (const [text, line, col] of [
    [`${HEAD}  a: &x 1\n  *x : 2\n`, 6, 3],
    [`vfioctl: &v 1\ntree: *v\n`, 2, 7],
    [`${HEAD}  m: &x [1]\n  reg: [*x, 2]\n`, 6, 9],
  ] as const) {
    const e = ownError(text);
    assert.match(e.message, /aliases/);
    assert.deepEqual([e.loc.line, e.loc.column], [line, col], text);
  }
});

// ---- nesting ----

test('10,000 levels of nesting: own YAML block and flow, dtc YAML, DTB', { timeout: 120_000 }, async () => {
  const s = await booted();
  const dir = scratch();
  // block style, one space per level (50 MB): the fast parser reads it, the reader stops at MAX_DEPTH
  const lines = ['vfioctl: 1', 'tree:'];
  for (let i = 1; i <= 10_000; i++) lines.push(' '.repeat(i) + 'n:');
  const block = path.join(dir, 'deep-block.yaml');
  writeFileSync(block, lines.join('\n') + '\n');
  // the map at depth MAX_DEPTH + 1 starts on line 3 + MAX_DEPTH + 1, after MAX_DEPTH + 2 spaces
  await refusedLoad(s, block, { message: new RegExp(`nodes nest more than ${MAX_DEPTH} levels deep`), line: MAX_DEPTH + 4, column: MAX_DEPTH + 3 }, true);

  // flow style on one line
  const flow = `vfioctl: 1\ntree: ${'{a: '.repeat(10_000)}{}${'}'.repeat(10_000)}\n`;
  const flowFile = path.join(dir, 'deep-flow.yaml');
  writeFileSync(flowFile, flow);
  await refusedLoad(s, flowFile, { message: new RegExp(`nodes nest more than ${MAX_DEPTH} levels deep`), line: 2, column: 7 + 4 * (MAX_DEPTH + 1) });
  // the full parser (any text outside the fast subset) refuses it before composing it
  const full = treeErr(() => parseOwnYaml(flow, 'f.yaml', { fast: false }));
  assert.match(full.message, new RegExp(`YAML nested more than ${MAX_YAML_NESTING} levels deep`));
  assert.equal(full.loc.line, 2);
  // nested block sequences (`- - - …`) are outside the fast subset: refused by the full parser's bound
  const seqs = path.join(dir, 'deep-seq.yaml');
  writeFileSync(seqs, `vfioctl: 1\ntree:\n  reg:\n    ${'- '.repeat(10_000)}1\n`);
  await refusedLoad(s, seqs, { message: /YAML nested more than \d+ levels deep/, line: 4 });

  // dtc YAML, block and flow
  let dtcBlock = '---\n- a: true';
  for (let i = 0; i < 10_000; i++) dtcBlock += `\n${' '.repeat(2 + i)}n:`;
  let e = treeErr(() => parseDtcYaml(dtcBlock + ' {}\n', 'deep.dtc.yaml'));
  assert.match(e.message, /nested more than \d+ levels deep/);
  assert.equal(typeof e.loc.line, 'number');
  const dtcFlow = path.join(dir, 'deep-flow.dtc.yaml');
  writeFileSync(dtcFlow, `---\n- ${'n: {'.repeat(10_000)}${'}'.repeat(10_000)}\n`);
  await refusedLoad(s, dtcFlow, { message: /nested more than \d+ levels deep/, line: 2 });
  // deep but within the full parser's bound: the dtc reader names the node that is too deep
  e = treeErr(() => parseDtcYaml(`---\n- ${'n: {'.repeat(MAX_YAML_DEPTH + 5)}${'}'.repeat(MAX_YAML_DEPTH + 5)}\n`, 'd.yaml'));
  assert.match(e.message, new RegExp(`nodes nested deeper than ${MAX_YAML_DEPTH} levels`));

  // DTB
  const w = new StructWriter().begin('');
  for (let i = 0; i < 10_000; i++) w.begin('n');
  for (let i = 0; i <= 10_000; i++) w.end();
  const dtb = path.join(dir, 'deep.dtb');
  writeFileSync(dtb, blob({ struct: w.finish().bytes }));
  // the FDT_BEGIN_NODE of the node at depth MAX_FDT_DEPTH: after the 56-byte header+rsvmap, 8 bytes per node
  await refusedLoad(s, dtb, { message: new RegExp(`nested deeper than ${MAX_FDT_DEPTH} levels`), offset: 56 + 8 * MAX_FDT_DEPTH });
});

function treeErr(f: () => unknown): TreeError {
  try {
    f();
  } catch (e) {
    if (e instanceof TreeError) return e;
    throw e;
  }
  assert.fail('expected a TreeError');
}

// ---- size: 100,000 nodes ----

test('100,000 nodes: refused by the documented limits, with a place, in every format', { timeout: 120_000 }, async () => {
  const s = await booted();
  const dir = scratch();
  // the bench's own-YAML shape (reg, interrupts, iommus per device): the fast parser's value bound
  let y = 'vfioctl: 1\ntree:\n  "#address-cells": 1\n  "#size-cells": 1\n  soc:\n    compatible: simple-bus\n    ranges: true\n';
  const parts: string[] = [y];
  for (let i = 0; i < 100_000; i++) {
    const a = (0x10000000 + i * 0x1000).toString(16);
    parts.push(`    dev@${a}:\n      compatible: bench,dev\n      reg: [0x${a}, 0x1000]\n      interrupts: [0, ${32 + (i % 900)}, 4]\n      iommus: [0x1, 0x${i.toString(16)}]\n`);
  }
  const big = path.join(dir, 'big.yaml');
  writeFileSync(big, parts.join(''));
  await refusedLoad(s, big, { message: /more than 1,500,000 YAML values .* at most 50,000 nodes/ }, true);

  // small nodes fit the value bound: the node limit itself, at node MAX_TREE_NODES + 1
  y = 'vfioctl: 1\ntree:\n';
  for (let i = 0; i < 100_000; i++) y += `  n${i}: {}\n`;
  const many = path.join(dir, 'many.yaml');
  writeFileSync(many, y);
  // the root is node 1, so n{MAX_TREE_NODES - 1} is the first one too many
  await refusedLoad(s, many, { message: new RegExp(`more than ${MAX_TREE_NODES.toLocaleString('en-US')} nodes`), line: 2 + MAX_TREE_NODES, column: 6 + String(MAX_TREE_NODES - 1).length });

  // DTB: 100,000 empty children of the root
  const w = new StructWriter().begin('');
  for (let i = 0; i < 100_000; i++) w.begin(`n${i}`).end();
  const dtb = path.join(dir, 'wide.dtb');
  writeFileSync(dtb, blob({ struct: w.end().finish().bytes }));
  const fe = treeErr(() => parseFdt(new Uint8Array(readFileSync(dtb)), dtb));
  assert.match(fe.message, new RegExp(`more than ${MAX_TREE_NODES.toLocaleString('en-US')} nodes`));
  assert.equal(typeof fe.loc.offset, 'number');
  await refusedLoad(s, dtb, { message: new RegExp(`more than ${MAX_TREE_NODES.toLocaleString('en-US')} nodes`), offset: fe.loc.offset! });

  // dtc YAML goes through the full parser: its value bound refuses it first
  let d = '---\n- a: true\n';
  for (let i = 0; i < 100_000; i++) d += `  n${i}: {}\n`;
  const dtcFile = path.join(dir, 'many.dtc.yaml');
  writeFileSync(dtcFile, d);
  await refusedLoad(s, dtcFile, { message: new RegExp(`more than ${MAX_FULL_YAML_VALUES.toLocaleString('en-US')} values`) }, true);
});

// ---- numbers ----

test('huge and odd integers: exit 3 at the value, or a load', async () => {
  const cases: [string, RegExp, number, number][] = [
    ['  reg: [18446744073709551616]\n', /value 0x10000000000000000 of "reg" does not fit a 32-bit cell/, 5, 9],
    ['  reg: [1e400]\n', /"reg": Infinity is not an integer/, 5, 9],
    ['  reg: [-1]\n', /value -0x1 of "reg" does not fit a 32-bit cell/, 5, 9],
    ['  reg: [0x1_0000_0000_0000_0000]\n', /wrong type for "reg": expected integer cells/, 5, 8],
    ['  reg: [0x100000000]\n', /value 0x100000000 of "reg" does not fit/, 5, 9],
    ['  reg: [1.5]\n', /1\.5 is not an integer/, 5, 9],
    ['  reg: [.nan]\n', /NaN is not an integer/, 5, 9],
    ['  x: [0o777777777777]\n', /value 0xfffffffff of "x" does not fit/, 5, 7],
    ['  phandle: 0\n', /phandle 0x0 is not allowed/, 5, 3],
    ['  phandle: 0xffffffff\n', /phandle 0xffffffff is not allowed/, 5, 3],
  ];
  for (const [body, re, line, col] of cases) {
    const e = ownError(HEAD + body);
    assert.match(e.message, re, body);
    assert.deepEqual([e.loc.line, e.loc.column], [line, col], `${body}: ${e.format()}`);
  }
  // huge #…-cells are a located error (or load), never a crash
  const s = await booted();
  const dir = scratch();
  const cellsCases: [string, RegExp | null][] = [
    ['"#address-cells": 1000', /bad cell count: "reg" of \/soc\/dev@1000 has 2 cells, not a multiple of #address-cells \+ #size-cells = 1001/],
    ['"#address-cells": 0xffffffff', /bad cell count: "reg"/],
    ['"#size-cells": 0xffffffff', /bad cell count: "reg"/],
    ['"#address-cells": 0', null],
    ['"#interrupt-cells": 0xffffffff', /bad cell count: "interrupts"/],
  ];
  for (const [cells, re] of cellsCases) {
    const f = path.join(dir, 'cells.yaml');
    const soc = ['"#address-cells": 1', '"#size-cells": 1', '"#interrupt-cells": 3'].map((c) => (c.split(':')[0] === cells.split(':')[0] ? cells : c));
    const intc = soc[2]!;
    writeFileSync(f, `vfioctl: 1\ntree:\n  "#address-cells": 1\n  "#size-cells": 1\n  intc@100:\n    $label: gic\n    interrupt-controller: true\n    ${intc}\n    reg: [0x100, 0x10]\n  soc:\n    compatible: simple-bus\n    ranges: true\n    ${soc[0]}\n    ${soc[1]}\n    interrupt-parent: "&gic"\n    dev@1000:\n      compatible: acme,dev\n      reg: [0x1000, 0x100]\n      interrupts: [0, 1, 4]\n`);
    if (re) await refusedLoad(s, f, { message: re }, true);
    else await loads(s, f);
  }
  // an interrupt-map nexus with absurd #address-cells / #interrupt-cells (of_irq_parse_raw's MAX_PHANDLE_ARGS)
  for (const nexusCells of ['"#address-cells": 0xffffffff', '"#address-cells": 100000000', '"#interrupt-cells": 0xffffffff']) {
    const refused = nexusCells.startsWith('"#interrupt-cells"');
    const f = path.join(dir, 'nexus.yaml');
    const nexus = ['"#interrupt-cells": 1', '"#address-cells": 0'].map((c) => (c.split(':')[0] === nexusCells.split(':')[0] ? nexusCells : c));
    writeFileSync(f, `vfioctl: 1\ntree:\n  "#address-cells": 1\n  "#size-cells": 1\n  intc@100:\n    $label: gic\n    compatible: arm,gic-400\n    interrupt-controller: true\n    "#interrupt-cells": 1\n    "#address-cells": 0\n    reg: [0x100, 0x10]\n  soc:\n    compatible: simple-bus\n    ranges: true\n    "#address-cells": 1\n    "#size-cells": 1\n    nexus@2000:\n      $label: nx\n      reg: [0x2000, 0x10]\n      ${nexus[0]}\n      ${nexus[1]}\n      interrupt-map: [0, 0, "&gic", 3]\n    dev@1000:\n      compatible: acme,dev\n      reg: [0x1000, 0x100]\n      interrupt-parent: "&nx"\n      interrupts: [7]\n`);
    if (refused) {
      await refusedLoad(s, f, { message: /bad cell count: "interrupts" of \/soc\/dev@1000 has 1 cells, not a multiple of #interrupt-cells = 4294967295/, line: 27, column: 7 }, true);
      continue;
    }
    await loads(s, f);
    const m = boot(parseOwnYaml(readFileSync(f, 'utf8'), f));
    assert.deepEqual(m.devices.find((d) => d.name === '1000.dev')?.irqs, [], `${nexusCells}: the interrupt does not resolve`);
  }
});

// ---- prototype names ----

test('__proto__, constructor, prototype as names everywhere: no pollution, sysfs still lists them', async () => {
  const s = await booted();
  const file = path.join(FIX, 'proto.yaml');
  await loads(s, file);
  ownBoth(readFileSync(file, 'utf8'));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_KEYS_BEFORE);
  // the device and driver named __proto__ are real entries, not prototypes
  const ls = async (p: string): Promise<string[]> => {
    const r = await run(s, '--json', 'sysfs', 'ls', p);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { entries: { name: string }[] }).entries.map((x) => x.name);
  };
  assert.ok((await ls('/sys/bus/platform/devices')).includes('__proto__'));
  assert.ok((await ls('/sys/bus/platform/drivers/__proto__')).includes('__proto__'), 'the driver directory links its device');
  assert.ok((await ls('/sys/bus/platform/drivers/constructor')).includes('1000.constructor'));
  const cat = await run(s, 'sysfs', 'cat', '/sys/bus/platform/devices/__proto__/driver_override');
  assert.equal(cat.stdout, '(null)\n');
  // an AMBA device whose compatible is "constructor": peripheral id 0, not Object's constructor
  const id = await run(s, 'sysfs', 'cat', '/sys/bus/amba/devices/4000.constructor/id');
  assert.equal(id.stdout, '00000000\n');
  // writing "constructor" as an IOMMU group type is EINVAL like any unknown type
  const g = await run(s, '--json', 'sysfs', 'write', '/sys/kernel/iommu_groups/0/type', 'constructor');
  assert.equal(g.code, 1);
  assert.match(g.stderr, /EINVAL/);
  // boot in process: the machine survives save and load unchanged (no function-valued fields)
  const m = boot(parseOwnYaml(readFileSync(file, 'utf8'), file));
  assert.deepEqual(roundTrip(m), m);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_KEYS_BEFORE);
});

test('declared driver, module and parameter names that cannot name a sysfs entry are refused', () => {
  const cases: [string, RegExp][] = [
    ['drivers:\n  - name: "a/b"\n    compatible: x\n', /bad driver name "a\/b"/],
    ['drivers:\n  - name: ".."\n    compatible: x\n', /bad driver name "\.\."/],
    ['drivers:\n  - name: "a b"\n    compatible: x\n', /bad driver name "a b"/],
    ['drivers:\n  - name: "$(reboot)"\n    compatible: x\n', /bad driver name/],
    ['drivers:\n  - name: ""\n    compatible: x\n', /"name" must be a non-empty string/],
    ['resets:\n  - compatible: x\n    module: "../evil"\n', /bad module name/],
    ['boot:\n  modules:\n    - name: "vfio platform"\n', /bad module name/],
    ['boot:\n  modules:\n    - name: vfio-platform\n      params: {"a b": 1}\n', /bad parameter name/],
  ];
  for (const [extra, re] of cases) {
    const e = ownError(`vfioctl: 1\n${extra}tree:\n  model: x\n`);
    assert.match(e.message, re, extra);
    assert.equal(typeof e.loc.line, 'number');
  }
  const list = Array.from({ length: MAX_LIST_ENTRIES + 1 }, (_, i) => `  - name: d${i}\n    compatible: x\n`).join('');
  assert.match(ownError(`vfioctl: 1\ndrivers:\n${list}tree:\n  model: x\n`).message, /"drivers" has 1001 entries; at most 1000/);
});

// ---- duplicate keys ----

test('duplicate keys: exit 3 at the second key, on both YAML paths', async () => {
  const cases: [string, number, number][] = [
    ['vfioctl: 1\nvfioctl: 1\ntree: {}\n', 2, 1],
    [`${HEAD}  model: a\n  model: b\n`, 6, 3],
    [`${HEAD}  soc:\n    x: true\n  soc:\n    y: true\n`, 7, 3],
    [`${HEAD}  soc: {a: true, a: true}\n`, 5, 18],
    ['vfioctl: 1\ndrivers:\n  - name: a\n    name: b\n    compatible: x\ntree: {}\n', 4, 5],
    [`${HEAD}  "model": a\n  'model': b\n`, 6, 3],
  ];
  for (const [text, line, col] of cases) {
    const e = ownError(text);
    assert.match(e.message, /duplicate key/);
    assert.deepEqual([e.loc.line, e.loc.column], [line, col], text);
  }
  const s = await booted();
  const f = path.join(scratch(), 'dup.yaml');
  writeFileSync(f, cases[1]![0]);
  await refusedLoad(s, f, { message: /duplicate key "model"/, line: 6, column: 3 });
});

// ---- wrong types everywhere ----

/** Every `key: value` line of the tree with its value replaced by each of these, one at a time. */
const WRONG = ['true', 'false', 'null', '~', '0', '-1', '4294967296', '1.5', '"str"', '[]', '[[[1]]]', '{a: 1}', '{}', '"&nolabel"', '[1, "a"]', '!!binary aGk=', '|\n      block'];

test('wrong types everywhere in the default tree: a load or exit 3 with line:column, never anything else', { timeout: 120_000 }, () => {
  const file = path.join(TREES, 'default.yaml');
  const lines = readFileSync(file, 'utf8').split('\n');
  let variants = 0;
  let refused = 0;
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*(?:- )?[^\s#:][^:#]*:) (\S.*)$/.exec(lines[i]!);
    if (!m) continue;
    for (const w of WRONG) {
      const text = [...lines.slice(0, i), `${m[1]} ${w}`, ...lines.slice(i + 1)].join('\n');
      variants++;
      let tree: DeviceTree;
      try {
        tree = parseOwnYaml(text, 'default.yaml');
        boot(tree);
      } catch (e) {
        if (!(e instanceof TreeError)) assert.fail(`line ${i + 1} = ${JSON.stringify(w)}: ${e instanceof Error ? e.stack : String(e)}`);
        assert.equal(typeof e.loc.line, 'number', `line ${i + 1} = ${w}: ${e.format()}`);
        assert.equal(typeof e.loc.column, 'number', `line ${i + 1} = ${w}: ${e.format()}`);
        refused++;
      }
    }
  }
  assert.ok(variants > 800, `${variants} variants`);
  assert.ok(refused > variants / 2, `${refused} of ${variants} refused`);
});

// ---- encodings ----

test('invalid UTF-8, UTF-16 and a BOM: exit 3 at line:column, or (BOM) a normal load', async () => {
  const s = await booted();
  const dir = scratch();
  const bad = path.join(dir, 'latin1.yaml');
  writeFileSync(bad, Buffer.concat([Buffer.from('vfioctl: 1\ntree:\n  model: caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
  await refusedLoad(s, bad, { message: /invalid UTF-8 \(byte 0xe9\)/, line: 3, column: 13 });
  const utf16 = path.join(dir, 'utf16.yaml');
  writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('vfioctl: 1\n', 'utf16le')]));
  await refusedLoad(s, utf16, { message: /invalid UTF-8 \(byte 0xff\)/, line: 1, column: 1 });
  const bom = path.join(dir, 'bom.yaml');
  writeFileSync(bom, '\uFEFF' + readFileSync(path.join(TREES, 'default.yaml'), 'utf8'));
  await loads(s, bom);
  const bomDtc = path.join(dir, 'bom.dtc.yaml');
  writeFileSync(bomDtc, '\uFEFF---\n- model: ["x"]\n...\n');
  await loads(s, bomDtc);
  // a NUL and other control characters inside a YAML text file
  const nul = path.join(dir, 'nul.yaml');
  writeFileSync(nul, 'vfioctl: 1\ntree:\n  model: "a\u0000b"\n');
  await refusedLoad(s, nul, { message: /./, line: 3 });
  // CRLF line ends read the same as LF
  const crlf = path.join(dir, 'crlf.yaml');
  const text = readFileSync(path.join(TREES, 'default.yaml'), 'utf8');
  writeFileSync(crlf, text.replace(/\n/g, '\r\n'));
  assert.notEqual(parseYamlSubset(text.replace(/\n/g, '\r\n')), null, 'CRLF takes the fast path');
  await loads(s, crlf);
  const withCr = ownBoth(text.replace(/\n/g, '\r\n'), 'default.yaml');
  const withLf = ownBoth(text, 'default.yaml');
  assert.deepEqual(withCr, withLf);
});

// ---- cycles ----

test('phandle cycles (interrupt-parent, iommus, interrupt-map, cascaded controllers) load in bounded time', async () => {
  const s = await booted();
  const file = path.join(FIX, 'cycles.yaml');
  await loads(s, file);
  const r = await run(s, '--json', 'status');
  assert.equal(r.code, 0);
  const m = boot(parseOwnYaml(readFileSync(file, 'utf8'), file));
  // nothing resolved through a loop
  for (const n of ['3000.dev', '4000.dev', '5000.dev']) assert.deepEqual(m.devices.find((d) => d.name === n)?.irqs, [], n);
  assert.deepEqual(roundTrip(m), m);
});

// ---- DTB ----

test('DTBs whose offsets and sizes point outside the blob, through vfioctl load', async () => {
  const s = await booted();
  const dir = scratch();
  const good = new StructWriter().begin('').prop(0, [0x61, 0]).begin('dev@1').prop(11, [0, 0, 0, 1]).end().end().finish().bytes;
  const cases: [string, Uint8Array, RegExp, number][] = [
    ['struct-off', blob({ struct: good, header: { 2: 0xfffffff0 } }), /structure block offset 0xfffffff0 is outside the blob/, 8],
    ['strings-off', blob({ struct: good, header: { 3: 0x7ffffff0 } }), /strings block offset .* is outside the blob/, 0xc],
    ['prop-len', blob({ struct: new StructWriter().begin('').u32(3).u32(0x1000000).u32(0).end().finish().bytes }), /property value of 0x1000000 bytes runs past/, 0x44],
    ['name-off', blob({ struct: new StructWriter().begin('').prop(0x4000, []).end().finish().bytes }), /property name offset 0x4000 is outside the strings block/, 0x48],
    ['no-end', blob({ struct: new StructWriter().begin('').end().bytes }), /no FDT_END token/, -1],
    ['totalsize', blob({ struct: good, header: { 1: 0x100000 } }), /the header says the blob is 0x100000 bytes/, -1],
  ];
  for (const [name, bytes, re, offset] of cases) {
    const f = path.join(dir, `${name}.dtb`);
    writeFileSync(f, bytes);
    const fe = treeErr(() => parseFdt(bytes, f));
    assert.match(fe.message, re);
    if (offset >= 0) assert.equal(fe.loc.offset, offset, name);
    await refusedLoad(s, f, { message: re, offset: fe.loc.offset! }, name !== 'struct-off');
  }
});

test('binary garbage under any name: exit 3 naming the file and a place', async () => {
  const s = await booted();
  const dir = scratch();
  let seed = 0x1234567;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
  const garbage = Uint8Array.from({ length: 4096 }, rnd);
  for (const name of ['garbage.bin', 'garbage.yaml', 'garbage', 'garbage.dts']) {
    const f = path.join(dir, name);
    writeFileSync(f, garbage);
    await refusedLoad(s, f, { message: /invalid UTF-8/, line: 1 }, true);
  }
  const f = path.join(dir, 'garbage.dtb');
  writeFileSync(f, garbage);
  await refusedLoad(s, f, { message: /bad magic/, offset: 0 });
  // an empty file and one of only whitespace
  for (const [name, body] of [['empty.yaml', ''], ['blank.yaml', '\n\n   \n']] as const) {
    const e = path.join(dir, name);
    writeFileSync(e, body);
    await refusedLoad(s, e, { message: /expected a mapping with "vfioctl: 1"/, line: 1, column: 1 });
  }
});

// ---- DTS ----

test('hostile DTS through dtc: self-include and runaway nesting are located dtc errors', { skip: !HAVE_DTC && 'dtc is not installed' }, async () => {
  const s = await booted();
  const dir = scratch();
  const self = path.join(dir, 'self.dts');
  writeFileSync(self, '/dts-v1/;\n/include/ "self.dts"\n/ { };\n');
  const r = await run(s, '--json', 'load', self);
  assert.equal(r.code, 3, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const deep = path.join(dir, 'deep.dts');
  writeFileSync(deep, `/dts-v1/;\n/ {\n${'n {\n'.repeat(2000)}${'};\n'.repeat(2000)}};\n`);
  const d = await run(s, '--json', 'load', deep);
  assert.equal(d.code, 3, d.stderr);
  assert.match(d.stderr, /nested/);
});
