/**
 * Issue 14.6: text from a tree never drives the terminal. Control characters (C0, DEL,
 * C1) in node names, property names, printed string properties and own-YAML
 * declarations are refused at load in every format, with the place (file:line:column,
 * or the DTB offset of the very byte), exit 3 and the state untouched; nodes named `.` or
 * `..` likewise. Error messages that quote the tree show such characters as `\xNN`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run, stateBytes, okRun } from './helpers.js';
import { loadRefused, type TreeErrorDoc } from './refuse.js';
import { StructWriter, blob } from './fdt-writer.js';

const HAVE_DTC = spawnSync('dtc', ['--version']).status === 0;
/** any C0 but LF, DEL or C1 character */
// The classes below are the point of the test: control characters.
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;


function scratch(t: { after(fn: () => void): void }): { dir: string; state: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-text-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, state: path.join(dir, 'state.json') };
}

/** `load FILE` exits 3 at the given place with nothing raw on stderr, and the state stays as it was. */
async function refused(state: string, file: string, message: RegExp, at: { line?: number; column?: number; offset?: number }): Promise<TreeErrorDoc> {
  const { e, before } = await loadRefused(state, file, message);
  for (const k of ['line', 'column', 'offset'] as const) if (at[k] !== undefined) assert.equal(e[k], at[k], `${k}: ${e.message}`);
  const h = await run(state, 'load', file);
  assert.equal(h.code, 3);
  assert.doesNotMatch(h.stderr, CONTROL, 'no control character reaches the terminal');
  assert.deepEqual(stateBytes(state), before, 'the state file is unchanged');
  return e;
}

const own = (body: string): string => `vfioctl: 1\ntree:\n  compatible: acme,board\n${body}`;

test('own YAML (7-bit ASCII already): ESC, BEL, CR and TAB in printed strings are refused at their line', async (t) => {
  const { dir, state } = scratch(t);
  await okRun(state, '-q', 'load', 'default');
  const cases: [string, string, RegExp, number][] = [
    ['model', '  model: "clear\\e[2J"\n', /property "model" of \/ holds the control character 0x1b \(ESC\)/, 4],
    ['title', '  model: "x\\e]0;owned\\a"\n', /0x1b \(ESC\)/, 4],
    ['list', '  soc:\n    compatible: ["simple-bus", "a\\e[2J"]\n', /property "compatible" of \/soc holds the control character 0x1b \(ESC\) \(byte 12/, 5],
    ['bel', '  soc:\n    device_type: "a\\a"\n', /"device_type" of \/soc .* 0x07 \(BEL\)/, 5],
    ['status', '  soc:\n    compatible: x\n    status: "okay\\r"\n', /"status" .* 0x0d \(CR\)/, 6],
    ['names', '  soc:\n    compatible: x\n    reg-names: ["a\\tb"]\n', /"reg-names" .* 0x09 \(TAB\)/, 6],
    ['alias', '  aliases:\n    serial0: "/soc\\e"\n', /"serial0" of \/aliases .*\(ESC\)/, 5],
  ];
  for (const [name, body, msg, line] of cases) {
    const f = path.join(dir, `${name}.yaml`);
    writeFileSync(f, own(body));
    await refused(state, f, msg, { line });
  }
});

test('own YAML: a boot module parameter holding ESC is refused; quoted bad names are shown escaped', async (t) => {
  const { dir, state } = scratch(t);
  const f = path.join(dir, 'param.yaml');
  writeFileSync(f, `vfioctl: 1\nboot:\n  modules:\n    - name: vfio_platform\n      params:\n        reset_required: "1\\e[2J"\ntree:\n  compatible: x\n`);
  await refused(state, f, /parameter reset_required of boot module vfio_platform holds the control character 0x1b/, { line: 4 });
  const g = path.join(dir, 'badname.yaml');
  writeFileSync(g, own('  "a\\e[2Jb": {}\n'));
  const e = await refused(state, g, /bad node name "a\\x1b\[2Jb"/, { line: 4 });
  assert.doesNotMatch(e.message, CONTROL);
  assert.equal(stateBytes(state), null, 'no state file was made');
});

test('own YAML and dtc YAML: nodes named "." or ".." are refused at their line', async (t) => {
  const { dir, state } = scratch(t);
  for (const n of ['.', '..']) {
    const f = path.join(dir, `own${n.length}.yaml`);
    writeFileSync(f, own(`  soc:\n    compatible: simple-bus\n    "${n}":\n      compatible: acme,x\n`));
    await refused(state, f, new RegExp(`node name "${n.replace(/\./g, '\\.')}" under /soc is not allowed`), { line: 6, column: 5 });
    const d = path.join(dir, `dtc${n.length}.yaml`);
    writeFileSync(d, `---\n- compatible: ["x"]\n  soc:\n    compatible: ["simple-bus"]\n    '${n}':\n      compatible: ["y"]\n...\n`);
    await refused(state, d, /node name "\.\.?" under \/soc is not allowed/, { line: 5 });
  }
});

test('dtc YAML: an escape in compatible is refused at its line', async (t) => {
  const { dir, state } = scratch(t);
  const f = path.join(dir, 'esc.yaml');
  writeFileSync(f, '---\n- compatible: ["x"]\n  model: ["a\\e[2Jb"]\n...\n');
  await refused(state, f, /"model" of \/ holds the control character 0x1b \(ESC\) \(byte 1/, { line: 3 });
});

test('DTB: control bytes in strings are refused at the offset of the byte; "." and ".." node names at the node', async (t) => {
  const { dir, state } = scratch(t);
  const strings = 'compatible\0model\0';
  // struct block starts at 0x38 (40-byte header + 16-byte reservation map)
  const esc = [...Buffer.from('acme,\x1b[2J\0')];
  const w = new StructWriter().begin('').prop(11, [...Buffer.from('ok\0')]).prop(0, esc).end().finish();
  const f = path.join(dir, 'esc.dtb');
  writeFileSync(f, blob({ struct: w.bytes, strings }));
  // root BEGIN_NODE (8 bytes) + model prop (12 + 4) = 0x38 + 0x18 = 0x50: compatible's token; value at 0x5c; ESC is byte 5
  await refused(state, f, /"compatible" of \/ holds the control character 0x1b \(ESC\) \(byte 5/, { offset: 0x5c + 5 });
  const c1 = new StructWriter().begin('').prop(11, [0x41, 0x9b, 0x32, 0x4a, 0]).end().finish();
  const g = path.join(dir, 'c1.dtb');
  writeFileSync(g, blob({ struct: c1.bytes, strings }));
  await refused(state, g, /"model" of \/ .* 0x9b \(CSI\)/, { offset: 0x38 + 8 + 12 + 1 });
  const del = new StructWriter().begin('').begin('soc').prop(17, [...Buffer.from('cpu\x7f\0')]).end().end().finish();
  const k = path.join(dir, 'del.dtb');
  writeFileSync(k, blob({ struct: del.bytes, strings: strings + 'device_type\0' }));
  await refused(state, k, /"device_type" of \/soc .* 0x7f \(DEL\)/, { offset: 0x38 + 8 + 8 + 12 + 3 });
  for (const n of ['.', '..']) {
    const d = new StructWriter().begin('').begin(n).end().end().finish();
    const h = path.join(dir, `dot${n.length}.dtb`);
    writeFileSync(h, blob({ struct: d.bytes, strings }));
    await refused(state, h, /under \/ is not allowed/, { offset: 0x38 + 8 });
  }
});

test('.dts: a \\x1b escape that dtc compiles into a string is refused', async (t) => {
  if (!HAVE_DTC) return t.skip('dtc is not on PATH');
  const { dir, state } = scratch(t);
  const f = path.join(dir, 'esc.dts');
  writeFileSync(f, '/dts-v1/;\n/ {\n  compatible = "x";\n  soc {\n    compatible = "simple-bus";\n    dev {\n      compatible = "acme,\\x1b]0;t\\x07";\n    };\n  };\n};\n');
  await refused(state, f, /"compatible" of \/soc\/dev holds the control character 0x1b/, {});
});

test('printable text stays accepted: Latin-1 letters in a DTB, binary properties with control bytes, spaces in model', async (t) => {
  const { dir, state } = scratch(t);
  const d = path.join(dir, 'latin1.dtb');
  writeFileSync(d, blob({ struct: new StructWriter().begin('').prop(0, [...Buffer.from('Caf\xe9 board\0', 'latin1')]).end().finish().bytes, strings: 'model\0' }));
  assert.equal((await run(state, '-q', 'load', d)).code, 0);
  assert.match((await run(state, 'status')).stdout, /Café board/);
  const f = path.join(dir, 'fine.yaml');
  writeFileSync(f, own('  model: "A board, rev. 2"\n  soc:\n    compatible: simple-bus\n    mac: [0x1b, 0x07, 0x9b]\n  chosen:\n    rng-seed: !u8 [0x1b, 0x9b, 0x07]\n    linux,initrd-start: 0x8070000\n    bootargs: "console=ttyAMA0"\n    local-mac-address: !u8 [0x1b, 0x9b, 0x7f, 0, 1, 2]\n'));
  const r = await run(state, 'load', '--force', f);
  assert.equal(r.code, 0, r.stderr);
  assert.match((await run(state, 'status')).stdout, /A board, rev\. 2/);
});
