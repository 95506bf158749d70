/**
 * The three tree readers (dtc YAML, DTB, DTS via dtc) and the format sniffing in
 * readTreeFile: real Linux boards read the same from every format, and hostile or
 * malformed input gives a TreeError at the right place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDtcYaml } from '../src/devicetree/formats/dtc-yaml.js';
import { looksLikeDtcYaml } from '../src/devicetree/formats/yaml-size.js';
import { isFdt, parseFdt, MAX_FDT_DEPTH } from '../src/devicetree/formats/fdt.js';
import { compileDts, needsCpp } from '../src/devicetree/formats/dts.js';
import { readTreeFile } from '../src/devicetree/formats/read.js';
import { firstInvalidUtf8 } from '../src/devicetree/formats/file.js';
import { TreeError, getProp, nodePath } from '../src/devicetree/tree.js';
import type { DeviceTree, DtNode } from '../src/devicetree/tree.js';
import { StructWriter, blob, GOOD_STRUCT, type BlobParts } from './fdt-writer.js';

// ---- locations ----

/** The repository root: the nearest folder above this file with a package.json (works from test/ and dist/test/). */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}
const ROOT = repoRoot();
const LINUX_DTS = path.resolve(ROOT, '../shared/fixtures/linux-dts');
const BOARDS_DIR = path.join(LINUX_DTS, 'boards');
const FIX = path.join(ROOT, 'test/fixtures/devicetree');
const BOARDS = ['highbank', 'p4080ds', 'amd-overdrive-rev-b0', 'bcm958742k', 'juno', 'r8a77951-salvator-xs'];
const HAVE_BOARDS = existsSync(BOARDS_DIR);
const HAVE_DTC = spawnSync('dtc', ['--version']).status === 0;
const HAVE_CPP = spawnSync('cpp', ['--version']).status === 0;
const NO_BOARDS = `real board fixtures not found at ${BOARDS_DIR}`;
const NO_DTC = 'dtc is not installed (apt-get install device-tree-compiler)';

// ---- helpers ----

/** The tree as an ordered list of lines (node paths, property names and hex bytes), ignoring loc. */
function shape(t: DeviceTree): string[] {
  const out: string[] = [];
  const walk = (n: DtNode): void => {
    const p = nodePath(n);
    out.push(`node ${p}`);
    for (const q of n.properties) out.push(`prop ${p} ${q.name} = ${Buffer.from(q.value).toString('hex')}`);
    n.children.forEach(walk);
  };
  walk(t.root);
  return out;
}

function findNode(t: DeviceTree, p: string): DtNode {
  let n: DtNode | undefined = t.root;
  for (const part of p.split('/').filter(Boolean)) n = n?.children.find((c) => c.name === part);
  assert.ok(n, `node ${p} exists`);
  return n;
}

function hexOf(t: DeviceTree, nodeP: string, prop: string): string {
  const p = getProp(findNode(t, nodeP), prop);
  assert.ok(p, `property ${nodeP}:${prop} exists`);
  return Buffer.from(p.value).toString('hex');
}

/** Run f, expect a TreeError, return it. Any other exception fails the test. */
function treeError(f: () => unknown): TreeError {
  try {
    f();
  } catch (e) {
    if (e instanceof TreeError) return e;
    assert.fail(`expected a TreeError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  assert.fail('expected a TreeError, got success');
}

async function treeErrorAsync(f: () => Promise<unknown>): Promise<TreeError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof TreeError) return e;
    assert.fail(`expected a TreeError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  assert.fail('expected a TreeError, got success');
}

/** A DTB error must name the file and an offset. */
function assertBlobError(e: TreeError, file: string): void {
  assert.equal(e.loc.file, file);
  assert.equal(typeof e.loc.offset, 'number');
  assert.match(e.format(), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: offset 0x[0-9a-f]+: `));
}

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'vfioctl-dt-'));
}

/** Deterministic PRNG (mulberry32) so fuzz failures can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- real boards: YAML, DTB and flat DTS give the same tree ----

for (const board of BOARDS) {
  test(`board ${board}: .yaml and .dtb give the same tree`, (t) => {
    if (!HAVE_BOARDS) return t.skip(NO_BOARDS);
    const yf = path.join(BOARDS_DIR, `${board}.yaml`);
    const df = path.join(BOARDS_DIR, `${board}.dtb`);
    const y = parseDtcYaml(readFileSync(yf, 'utf8'), yf);
    const d = parseFdt(new Uint8Array(readFileSync(df)), df);
    assert.equal(y.format, 'dtc-yaml');
    assert.equal(d.format, 'dtb');
    assert.equal(y.root.name, '');
    assert.equal(d.root.name, '');
    assert.deepEqual(shape(d), shape(y));
    // every property has a location: line/column for YAML, byte offset for DTB
    const yp = y.root.properties[0];
    const dp = d.root.properties[0];
    assert.ok(yp?.loc?.line !== undefined && yp.loc.column !== undefined);
    assert.ok(dp?.loc?.offset !== undefined);
  });

  test(`board ${board}: .flat.dts through dtc gives the same tree as .yaml`, async (t) => {
    if (!HAVE_BOARDS) return t.skip(NO_BOARDS);
    if (!HAVE_DTC) return t.skip(NO_DTC);
    const yf = path.join(BOARDS_DIR, `${board}.yaml`);
    const sf = path.join(BOARDS_DIR, `${board}.flat.dts`);
    const y = parseDtcYaml(readFileSync(yf, 'utf8'), yf);
    const s = await readTreeFile(sf);
    assert.equal(s.format, 'dts');
    assert.equal(s.file, sf);
    assert.deepEqual(shape(s), shape(y));
    assert.equal(s.root.children[0]?.loc?.file, sf);
  });
}

test('board highbank: known values read the same from every format', async (t) => {
  if (!HAVE_BOARDS) return t.skip(NO_BOARDS);
  const trees = [await readTreeFile(path.join(BOARDS_DIR, 'highbank.yaml')), await readTreeFile(path.join(BOARDS_DIR, 'highbank.dtb'))];
  for (const tr of trees) {
    assert.equal(hexOf(tr, '/soc/ethernet@fff51000', 'reg'), 'fff5100000001000');
    assert.equal(hexOf(tr, '/soc/ethernet@fff51000', 'interrupts'), '000000000000005000000004' + '000000000000005100000004' + '000000000000005200000004');
    assert.equal(hexOf(tr, '/soc/ethernet@fff51000', 'dma-coherent'), '');
    assert.equal(Buffer.from(getProp(findNode(tr, '/soc/ethernet@fff51000'), 'compatible')?.value ?? []).toString('latin1'), 'calxeda,hb-xgmac\0');
  }
});

// ---- our own small fixture with every value type ----

test('types fixture: dtc YAML chunks become the bytes dtc puts in a DTB', () => {
  const yf = path.join(FIX, 'types.yaml');
  const y = parseDtcYaml(readFileSync(yf, 'utf8'), yf);
  assert.equal(hexOf(y, '/', 'empty'), '');
  assert.equal(Buffer.from(getProp(y.root, 'strings')?.value ?? []).toString('latin1'), 'a\0\0tab\there\0quote"q\0');
  assert.equal(Buffer.from(getProp(y.root, 'nul-inside')?.value ?? []).toString('latin1'), 'foo\0bar\0');
  assert.equal(hexOf(y, '/', 'cells'), '00000001ffffffff' + '0000005000000010ffffffff');
  assert.equal(hexOf(y, '/', 'bytes'), 'deadbeef');
  assert.equal(hexOf(y, '/', 'u8s'), '01ff');
  assert.equal(hexOf(y, '/', 'u16s'), '1234ffff');
  assert.equal(hexOf(y, '/', 'u64s'), 'fffffffffffffff0' + '0000000000000001');
  assert.equal(hexOf(y, '/', 'mixed'), Buffer.from('str\0').toString('hex') + '0000002a' + '0102' + Buffer.from('end\0').toString('hex'));
  assert.equal(hexOf(y, '/', 'refs'), '00000001000001000000000' + '1');
  assert.equal(hexOf(y, '/controller@1000', 'phandle'), '00000001');
  // a property and a child node with the same name both survive
  assert.equal(hexOf(y, '/', 'bar'), '00000001');
  assert.equal(findNode(y, '/bar').properties[0]?.name, 'note');
  assert.equal(findNode(y, '/empty-node').properties.length, 0);
  // locations are 1-based line:column of the key
  const model = getProp(y.root, 'model');
  assert.deepEqual(model?.loc, { file: yf, line: 4, column: 3 });
  assert.deepEqual(findNode(y, '/controller@1000').loc, { file: yf, line: 18, column: 3 });
});

test('types fixture: .yaml, .dtb and .dts (via dtc) agree', async (t) => {
  const y = await readTreeFile(path.join(FIX, 'types.yaml'));
  const d = await readTreeFile(path.join(FIX, 'types.dtb'));
  assert.equal(y.format, 'dtc-yaml');
  assert.equal(d.format, 'dtb');
  assert.deepEqual(shape(d), shape(y));
  if (!HAVE_DTC) return t.skip(NO_DTC);
  const s = await readTreeFile(path.join(FIX, 'types.dts'));
  assert.equal(s.format, 'dts');
  assert.deepEqual(shape(s), shape(y));
});

// ---- DTS through cpp and dtc ----

test('needsCpp: directives yes, #…-cells properties no', () => {
  assert.equal(needsCpp('#include <dt-bindings/gpio/gpio.h>\n'), true);
  assert.equal(needsCpp('  #define X 1\n'), true);
  assert.equal(needsCpp('#if FOO\n#endif\n'), true);
  assert.equal(needsCpp('/ {\n\t#address-cells = <1>;\n\t#interrupt-cells = <3>;\n\t#if-cells = <1>;\n};\n'), false);
  assert.equal(needsCpp('/include/ "x.dtsi"\n'), false);
});

test('kernel-style DTS: cpp resolves #include <dt-bindings/…>, macros and #if, dtc resolves /include/', async (t) => {
  if (!HAVE_DTC) return t.skip(NO_DTC);
  if (!HAVE_CPP) return t.skip('cpp is not installed (apt-get install cpp)');
  const f = path.join(FIX, 'cpp-board.dts');
  const tr = await readTreeFile(f, { includeDirs: [path.join(FIX, 'include')] });
  assert.equal(tr.format, 'dts');
  assert.equal(hexOf(tr, '/soc/ethernet@fff50000', 'interrupts'), '000000000000004d00000004');
  assert.equal(Buffer.from(getProp(findNode(tr, '/soc/ethernet@fff50000'), 'status')?.value ?? []).toString('latin1'), 'okay\0');
  assert.equal(hexOf(tr, '/soc', 'ranges'), '');
  // without the include directory, cpp's error points at the #include line
  const e = await treeErrorAsync(() => compileDts(f, []));
  assert.equal(e.loc.file, f);
  assert.equal(e.loc.line, 3);
  assert.equal(e.loc.column, 10);
  assert.match(e.message, /^cpp: dt-bindings\/vfioctl-test\.h: No such file or directory/);
  assert.match(e.message, /include directory/);
});

test('DTS errors: dtc syntax error, bad reference and missing /include/ at the line dtc names', async (t) => {
  if (!HAVE_DTC) return t.skip(NO_DTC);
  const dir = tmp();
  try {
    const syn = path.join(dir, 'syn.dts');
    writeFileSync(syn, '/dts-v1/;\n/ {\n  a = <1 2>\n};\n');
    let e = await treeErrorAsync(() => readTreeFile(syn));
    assert.deepEqual(e.loc, { file: syn, line: 4, column: 1 });
    assert.equal(e.message, 'dtc: syntax error');
    assert.equal(e.format(), `${syn}:4:1: dtc: syntax error`);

    const ref = path.join(dir, 'ref.dts');
    writeFileSync(ref, '/dts-v1/;\n/ {\n  a = <1>;\n  b = <&nolabel>;\n};\n');
    e = await treeErrorAsync(() => readTreeFile(ref));
    assert.equal(e.loc.line, 2);
    assert.equal(e.loc.column, 3);
    assert.match(e.message, /Reference to non-existent node or label "nolabel"/);

    const inc = path.join(dir, 'inc.dts');
    writeFileSync(inc, '/dts-v1/;\n\n  /include/ "nope.dtsi"\n/ { };\n');
    e = await treeErrorAsync(() => readTreeFile(inc));
    assert.deepEqual(e.loc, { file: inc, line: 3, column: 3 });
    assert.match(e.message, /Couldn't open "nope\.dtsi"/);

    // text that starts with /dts-v1/ is DTS whatever its name
    const noext = path.join(dir, 'board.txt');
    writeFileSync(noext, '// comment\n/* block */\n/dts-v1/;\n/ { model = "x"; };\n');
    const tr = await readTreeFile(noext);
    assert.equal(tr.format, 'dts');
    assert.equal(hexOf(tr, '/', 'model'), Buffer.from('x\0').toString('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DTS without dtc on PATH: a TreeError that says how to install it', async () => {
  const saved = process.env['PATH'];
  process.env['PATH'] = '/nonexistent-vfioctl-test';
  try {
    const f = path.join(FIX, 'types.dts');
    const e = await treeErrorAsync(() => compileDts(f, []));
    assert.equal(
      e.message,
      "dtc (the device tree compiler) is not installed; install Debian's package: apt-get install device-tree-compiler",
    );
    assert.deepEqual(e.loc, { file: f });
    const e2 = await treeErrorAsync(() => compileDts(path.join(FIX, 'cpp-board.dts'), []));
    assert.match(e2.message, /^dtc \(the device tree compiler\) is not installed/);
  } finally {
    if (saved === undefined) delete process.env['PATH'];
    else process.env['PATH'] = saved;
  }
});

// ---- readTreeFile: sniffing and file errors ----

test('readTreeFile: file errors say what is wrong', async (t) => {
  const dir = tmp();
  try {
    let e = await treeErrorAsync(() => readTreeFile(path.join(dir, 'missing.yaml')));
    assert.match(e.message, /^no such file/);
    e = await treeErrorAsync(() => readTreeFile(dir));
    assert.match(e.message, /^is a directory/);
    assert.equal(e.loc.file, dir);

    const big = path.join(dir, 'big.dtb');
    writeFileSync(big, '');
    truncateSync(big, 64 * 1024 * 1024 + 1);
    e = await treeErrorAsync(() => readTreeFile(big));
    assert.match(e.message, /too big/);

    const latin = path.join(dir, 'bad.yaml');
    writeFileSync(latin, Buffer.concat([Buffer.from('---\n- model: ["caf'), Buffer.from([0xe9]), Buffer.from('"]\n')]));
    e = await treeErrorAsync(() => readTreeFile(latin));
    assert.deepEqual(e.loc, { file: latin, line: 2, column: 15 });
    assert.match(e.message, /invalid UTF-8 \(byte 0xe9\)/);

    const bad = path.join(dir, 'x.dtb');
    writeFileSync(bad, 'not a blob at all');
    e = await treeErrorAsync(() => readTreeFile(bad));
    assert.match(e.message, /bad magic/);
    assertBlobError(e, bad);

    if (process.getuid?.() === 0) {
      t.diagnostic('running as root: EACCES cannot be provoked, permission test skipped');
    } else {
      const locked = path.join(dir, 'locked.yaml');
      writeFileSync(locked, '---\n', { mode: 0o000 });
      e = await treeErrorAsync(() => readTreeFile(locked));
      assert.match(e.message, /^permission denied/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('firstInvalidUtf8 finds overlong, surrogate and truncated sequences', () => {
  assert.equal(firstInvalidUtf8(Buffer.from('héllo ✓ 𝄞')), -1);
  assert.equal(firstInvalidUtf8(Uint8Array.from([0x41, 0xc0, 0x80])), 1);
  assert.equal(firstInvalidUtf8(Uint8Array.from([0x41, 0x42, 0xed, 0xa0, 0x80])), 2);
  assert.equal(firstInvalidUtf8(Uint8Array.from([0xe2, 0x9c])), 0);
  assert.equal(firstInvalidUtf8(Uint8Array.from([0xf5, 0x80, 0x80, 0x80])), 0);
});

test('readTreeFile: /sys/firmware/fdt of a running board is a DTB', async (t) => {
  const f = '/sys/firmware/fdt';
  if (!existsSync(f)) return t.skip('this machine has no /sys/firmware/fdt (not booted from a device tree)');
  const tr = await readTreeFile(f);
  assert.equal(tr.format, 'dtb');
  assert.equal(tr.root.name, '');
});

test('looksLikeDtcYaml: --- then a one-item list', () => {
  assert.equal(looksLikeDtcYaml('---\n- model: ["x"]\n...\n'), true);
  assert.equal(looksLikeDtcYaml('# made by dtc\n\n---\n- compatible: ["x"]\n'), true);
  assert.equal(looksLikeDtcYaml('---\nvfioctl: 1\n'), false);
  assert.equal(looksLikeDtcYaml('- model: ["x"]\n'), false);
  assert.equal(looksLikeDtcYaml(''), false);
});

// ---- hostile DTBs ----

test('DTB: the hand-built good blob reads', () => {
  const b = blob({ struct: GOOD_STRUCT().bytes });
  assert.equal(isFdt(b), true);
  const tr = parseFdt(b, 'good.dtb');
  assert.deepEqual(shape(tr), ['node /', 'prop / compatible = 6100', 'node /dev@1', 'prop /dev@1 reg = 00000001']);
  assert.deepEqual(tr.root.children[0]?.loc, { file: 'good.dtb', offset: 0x48 + 8 });
  // version 16 has no size_dt_struct: the structure block runs to the end of the blob
  const v16 = parseFdt(blob({ struct: GOOD_STRUCT().bytes, version: 16, header: { 9: 0 } }), 'v16.dtb');
  assert.deepEqual(shape(v16), shape(tr));
});

test('DTB: truncated at every cut point gives a TreeError', (t) => {
  const file = 'cut.dtb';
  const real = HAVE_BOARDS ? new Uint8Array(readFileSync(path.join(BOARDS_DIR, 'highbank.dtb'))) : null;
  if (!real) t.diagnostic(`${NO_BOARDS}: using the small hand-built blob only`);
  for (const full of [blob({ struct: GOOD_STRUCT().bytes }), ...(real ? [real] : [])]) {
    const step = full.length > 2000 ? 7 : 1;
    for (let n = 0; n < full.length; n += step) {
      // as is (totalsize now larger than the file) …
      assertBlobError(treeError(() => parseFdt(full.slice(0, n), file)), file);
      // … and with the header patched to the shorter length, so the walk itself hits the end
      if (n >= 40) {
        const cut = full.slice(0, n);
        const dv = new DataView(cut.buffer);
        dv.setUint32(4, n, false);
        const offStruct = dv.getUint32(8, false);
        const offStrings = dv.getUint32(12, false);
        if (offStruct < n) dv.setUint32(36, Math.min(dv.getUint32(36, false), n - offStruct), false);
        if (offStrings < n) dv.setUint32(32, Math.min(dv.getUint32(32, false), n - offStrings), false);
        try {
          parseFdt(cut, file);
        } catch (e) {
          assert.ok(e instanceof TreeError, `cut at ${n}: ${String(e)}`);
          assertBlobError(e, file);
        }
      }
    }
  }
});

test('DTB: bad magic, bad version, offsets outside the blob', () => {
  const f = 'bad.dtb';
  const good = GOOD_STRUCT().bytes;
  const cases: [BlobParts, RegExp, number][] = [
    [{ struct: good, header: { 0: 0x12345678 } }, /bad magic 0x12345678/, 0],
    [{ struct: good, header: { 0: 0xedfe0dd0 } }, /byte-swapped/, 0],
    [{ struct: good, version: 15, lastComp: 15 }, /unsupported version 15/, 0x14],
    [{ struct: good, version: 18, lastComp: 18 }, /newer than 17/, 0x18],
    [{ struct: good, header: { 1: 0x100000 } }, /truncated: the header says the blob is 0x100000 bytes/, -1],
    [{ struct: good, header: { 2: 0xfffffff0 } }, /structure block offset 0xfffffff0 is outside the blob/, 8],
    [{ struct: good, header: { 9: 0x7fffffff } }, /structure block .* runs past totalsize/, 8],
    [{ struct: good, header: { 3: 0x7ffffff0 } }, /strings block offset .* is outside the blob/, 0xc],
    [{ struct: good, header: { 8: 0x7ffffff0 } }, /strings block .* runs past totalsize/, 0xc],
    [{ struct: good, header: { 4: 0x7ffffff8 } }, /memory reservation map offset .* is outside/, 0x10],
    [{ struct: good, header: { 2: 0x3a } }, /not 4-byte aligned/, 8],
    [{ struct: new StructWriter().begin('').prop(0x4000, []).end().finish().bytes }, /property name offset 0x4000 is outside the strings block/, -1],
    [{ struct: new StructWriter().begin('').prop(0, []).end().finish().bytes, strings: 'abc' }, /property name is not NUL-terminated/, -1],
    [{ struct: new StructWriter().begin('').u32(3).u32(0x1000000).u32(0).end().finish().bytes }, /property value of 0x1000000 bytes runs past/, -1],
    [{ struct: new StructWriter().u32(1).u32(0x41414141).u32(0x41414141).bytes }, /node name is not NUL-terminated/, -1],
    [{ struct: new StructWriter().begin('').begin('a').end().bytes }, /no FDT_END token/, -1],
    [{ struct: new StructWriter().begin('').begin('a').end().finish().bytes }, /FDT_END while 1 node\(s\) are still open/, -1],
    [{ struct: new StructWriter().begin('').end().end().finish().bytes }, /FDT_END_NODE without a matching FDT_BEGIN_NODE/, -1],
    [{ struct: new StructWriter().begin('').end().begin('').end().finish().bytes }, /second root node/, -1],
    [{ struct: new StructWriter().prop(0, []).finish().bytes }, /property outside any node/, -1],
    [{ struct: new StructWriter().finish().bytes }, /no root node/, -1],
    [{ struct: new StructWriter().begin('').u32(7).bytes }, /unknown token 0x7/, -1],
    [{ struct: new StructWriter().begin('').begin('a/b').end().end().finish().bytes }, /contains '\/'/, -1],
    [{ struct: new StructWriter().begin('').begin('').end().end().finish().bytes }, /empty name/, -1],
    [{ struct: new StructWriter().begin('').begin('x').end().begin('x').end().end().finish().bytes }, /duplicate child node x/, -1],
    [{ struct: new StructWriter().begin('').prop(0, []).prop(0, []).end().finish().bytes }, /duplicate property compatible/, -1],
    [{ struct: new StructWriter().begin('').begin('caf\u00e9').end().end().finish().bytes }, /printable ASCII/, -1],
  ];
  for (const [parts, re, offset] of cases) {
    const e = treeError(() => parseFdt(blob(parts), f));
    assert.match(e.message, re);
    assertBlobError(e, f);
    if (offset >= 0) assert.equal(e.loc.offset, offset, `${re}: offset`);
  }
});

test('DTB: endless NOPs, deep nesting and huge counts are bounded', () => {
  const f = 'deep.dtb';
  // a structure block of nothing but NOPs (no END): stops at the end of the block
  const nops = new StructWriter();
  for (let i = 0; i < 100000; i++) nops.nop();
  let e = treeError(() => parseFdt(blob({ struct: nops.bytes }), f));
  assert.match(e.message, /no FDT_END/);
  // nesting beyond the limit, with a message that names it
  const deep = new StructWriter().begin('');
  for (let i = 0; i < MAX_FDT_DEPTH + 10; i++) deep.begin('n');
  e = treeError(() => parseFdt(blob({ struct: deep.bytes }), f));
  assert.match(e.message, new RegExp(`nested deeper than ${MAX_FDT_DEPTH}`));
  assertBlobError(e, f);
  // nesting within the limit is fine
  const ok = new StructWriter().begin('');
  for (let i = 0; i < 500; i++) ok.begin('n');
  for (let i = 0; i < 501; i++) ok.end();
  assert.equal(parseFdt(blob({ struct: ok.finish().bytes }), f).root.children.length, 1);
});

test('DTB: random bytes and mutated real blobs never give anything but a TreeError', () => {
  const f = 'fuzz.dtb';
  const next = rng(0xdecafbad);
  const base = HAVE_BOARDS ? new Uint8Array(readFileSync(path.join(BOARDS_DIR, 'highbank.dtb'))) : blob({ struct: GOOD_STRUCT().bytes });
  const started = Date.now();
  for (let round = 0; round < 600; round++) {
    let b: Uint8Array;
    if (round % 3 === 0) {
      // random bytes behind a valid magic
      b = new Uint8Array(8 + Math.floor(next() * 512));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(next() * 256);
      b.set([0xd0, 0x0d, 0xfe, 0xed]);
    } else {
      // a real blob with a few bytes changed (header or body)
      b = base.slice();
      const flips = 1 + Math.floor(next() * 4);
      for (let k = 0; k < flips; k++) {
        const at = next() < 0.3 ? Math.floor(next() * 40) : Math.floor(next() * b.length);
        b[at] = Math.floor(next() * 256);
      }
    }
    try {
      parseFdt(b, f);
    } catch (e) {
      assert.ok(e instanceof TreeError, `round ${round}: ${e instanceof Error ? e.stack : String(e)}`);
      assertBlobError(e, f);
    }
  }
  assert.ok(Date.now() - started < 20000, 'fuzzing finished quickly');
});

// ---- malformed dtc YAML ----

test('dtc YAML: malformed documents give TreeErrors at line:column', () => {
  const f = 'bad.yaml';
  const cases: [string, number, number, RegExp][] = [
    ['---\n- model: ["x"\n', 3, 1, /YAML syntax error/],
    ['---\nmodel: ["x"]\n', 2, 1, /top level is a mapping; expected dtc's YAML: a list with one item/],
    ['---\n- a: true\n- b: true\n', 3, 3, /top-level list has 2 items/],
    ['---\n- "root"\n', 2, 3, /the root node is the string "root"/],
    ['', 1, 1, /empty document/],
    ['---\n- a: 0x1\n', 2, 6, /found the number 0x1; expected true \(an empty property\), a list of chunks/],
    ['---\n- a: false\n', 2, 6, /found the value false/],
    ['---\n- a:\n  b: true\n', 2, 3, /no value|found an empty value/],
    ['---\n- a: [0x1]\n', 2, 7, /a number directly in the property list; cells go in an inner list: \[\[0x1\]\]/],
    ['---\n- a: [[0x100000000]]\n', 2, 8, /value 0x100000000 does not fit in 32 bits \(expected 0x0 … 0xffffffff\)/],
    ['---\n- a: [!u8 [0x1, 0x100]]\n', 2, 17, /does not fit in 8 bits/],
    ['---\n- a: [!u16 [0x10000]]\n', 2, 13, /does not fit in 16 bits/],
    ['---\n- a: [!u64 [0x10000000000000000]]\n', 2, 13, /does not fit in 64 bits/],
    ['---\n- a: [[-1]]\n', 2, 8, /value -1 does not fit in 32 bits/],
    ['---\n- a: [!u32 [0x1]]\n', 2, 7, /unknown tag !u32 on a list; expected !u8, !u16, !u64 or none/],
    ['---\n- a: [[!foo 0x1]]\n', 2, 8, /unknown tag !foo/],
    ['---\n- a: [!u8 [!phandle 0x1]]\n', 2, 12, /!phandle is only allowed in 32-bit cell lists/],
    ['---\n- a: [[!phandle zz]]\n', 2, 8, /!phandle needs an integer/],
    ['---\n- a: [[1.5]]\n', 2, 8, /expected an integer such as 0x1f/],
    ['---\n- a: ["caf\\u00e9"]\n', 2, 7, /non-ASCII character U\+00E9/],
    ['---\n- a: !u8 [0x1]\n', 2, 6, /must be a chunk inside the property's list/],
    ['---\n- a: [{b: 1}]\n', 2, 7, /found a mapping in a property list/],
    ['---\n- a: &x [[0x1]]\n  b: *x\n', 3, 6, /YAML aliases are not part of dtc's output/],
    ['---\n- a: true\n  a: true\n', 3, 3, /duplicate property a/],
    ['---\n- n: {}\n  n: {}\n', 3, 3, /duplicate child node n/],
    ['---\n- n/m: {}\n', 2, 3, /contains '\/'/],
    ['---\n- [a]: true\n', 2, 3, /a key must be a plain name/],
    ['---\n- a: true\n...\n---\n- b: true\n', 4, 1, /more than one YAML document/],
    ['---\n- n:\n    a: [[0x1]\n', 4, 1, /YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a \]/],
  ];
  for (const [text, line, column, re] of cases) {
    const e = treeError(() => parseDtcYaml(text, f));
    assert.match(e.message, re, JSON.stringify(text));
    assert.equal(e.loc.file, f);
    assert.deepEqual([e.loc.line, e.loc.column], [line, column], `${JSON.stringify(text)}: ${e.format()}`);
  }
});

test('dtc YAML: exact integers, empty lists and numeric keys', () => {
  const tr = parseDtcYaml('---\n- u64: [!u64 [0xffffffffffffffff]]\n  e: []\n  c: [[]]\n  12: [[0xc]]\n  n:\n    p: [[!phandle 0x2, 0x3]]\n...\n', 'x.yaml');
  assert.equal(hexOf(tr, '/', 'u64'), 'ffffffffffffffff');
  assert.equal(hexOf(tr, '/', 'e'), '');
  assert.equal(hexOf(tr, '/', 'c'), '');
  assert.equal(hexOf(tr, '/', '12'), '0000000c');
  assert.equal(hexOf(tr, '/n', 'p'), '0000000200000003');
  assert.deepEqual(getProp(findNode(tr, '/n'), 'p')?.loc, { file: 'x.yaml', line: 7, column: 5 });
});

test('dtc YAML: deeply nested input is refused with a TreeError, not a crash', () => {
  let text = '---\n- ';
  for (let i = 0; i < 3000; i++) text += `n${i}: {`;
  text += '}'.repeat(3000) + '\n';
  const e = treeError(() => parseDtcYaml(text, 'deep.yaml'));
  assert.equal(e.loc.file, 'deep.yaml');
});
