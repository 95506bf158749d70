/**
 * Issue 14.10, tree side: legal but huge trees. Whatever a tree turns into — devices, MEM
 * regions, interrupts, names and compatible strings — is bounded (src/devicetree/of/limits.ts),
 * and so is a DTB's size (formats/fdt.ts), so no accepted tree can make a state file that
 * slows every later command down. Each refusal is exit 3 at the node (line:column, or DTB
 * offset) that crosses the limit, names the limit, and leaves the state as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { okRun, stateBytes } from './helpers.js';
import { loadRefused, type TreeErrorDoc } from './refuse.js';
import { StructWriter, blob } from './fdt-writer.js';
import { generatedTree } from './proc-helpers.js';
import { MAX_DEVICES, MAX_RESOURCES } from '../src/devicetree/of/limits.js';
import { MAX_DTB_SIZE } from '../src/devicetree/formats/fdt.js';


function scratch(t: { after(fn: () => void): void }): { dir: string; state: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-scale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, state: path.join(dir, 'state.json') };
}

async function refused(state: string, file: string, message: RegExp, at: { line?: number; offset?: number }): Promise<TreeErrorDoc> {
  const { e } = await loadRefused(state, file, message);
  if (at.line !== undefined) assert.equal(e.line, at.line, e.message);
  if (at.offset !== undefined) assert.equal(e.offset, at.offset, e.message);
  return e;
}

const HEAD = `vfioctl: 1
tree:
  model: scale
  compatible: acme,scale
  "#address-cells": 1
  "#size-cells": 1
  interrupt-parent: "&gic"
  interrupt-controller@f0000000:
    $label: gic
    compatible: arm,cortex-a15-gic
    interrupt-controller: true
    "#interrupt-cells": 3
    reg: [0xf0000000, 0x1000]
  soc:
    compatible: simple-bus
    "#address-cells": 1
    "#size-cells": 1
    ranges: true
`;
/** lines in HEAD; the first device starts on the next one */
const HEAD_LINES = HEAD.split('\n').length - 1;

function device(i: number, body: string): string {
  const a = (0x10000000 + i * 0x10000).toString(16);
  return `    dev@${a}:\n      compatible: acme,dev\n${body}`;
}

test(`the bench's 10,000 devices and ${MAX_DEVICES.toLocaleString('en-US')} devices load; one more is refused at the device that crosses the limit`, { timeout: 120_000 }, async (t) => {
  const { dir, state } = scratch(t);
  const ok = path.join(dir, 'ok.yaml');
  writeFileSync(ok, generatedTree(MAX_DEVICES - 2)); // plus the SMMU and the simple-bus: the limit exactly
  const r = await okRun(state, 'load', ok);
  assert.match(r.stdout, new RegExp(`${MAX_DEVICES} devices`));
  const bench = path.join(dir, 'bench.yaml');
  writeFileSync(bench, generatedTree(10_000));
  await okRun(state, '-q', 'load', '--force', bench);
  const big = path.join(dir, 'big.yaml');
  let y = HEAD;
  for (let i = 0; i < MAX_DEVICES; i++) y += device(i, `      reg: [0x${(0x10000000 + i * 0x10000).toString(16)}, 0x1000]\n`);
  writeFileSync(big, y);
  // the simple-bus is device 1, so the device on line HEAD + 1 + 3 * (MAX_DEVICES - 1) is number MAX_DEVICES + 1
  const fmt = (x: number): string => x.toLocaleString('en-US');
  await refused(state, big, new RegExp(`^more than ${fmt(MAX_DEVICES)} devices \\(/soc/dev@[0-9a-f]+ would be device ${fmt(MAX_DEVICES + 1)}\\); vfioctl refuses trees past this limit`), { line: HEAD_LINES + 1 + 3 * (MAX_DEVICES - 1) });
});

test('per-device limits: MEM regions, interrupts, compatible bytes', async (t) => {
  const { dir, state } = scratch(t);
  await okRun(state, '-q', 'load', 'default');
  const regs = Array.from({ length: 1025 }, (_, k) => `0x${(0x20000000 + k * 0x1000).toString(16)}, 0x1000`).join(', ');
  const cases: [string, string, RegExp][] = [
    ['regions', `      reg: [${regs}]\n`, /\/soc\/dev@10000000 has 1,025 MEM regions \("reg" entries\); a device has at most 1,024/],
    ['irqs', `      interrupts: [${Array.from({ length: 1025 }, (_, k) => `[0, ${k % 900}, 4]`).join(', ')}]\n`, /\/soc\/dev@10000000 has 1,025 interrupts; a device has at most 1,024/],
    ['compat', `      device_type: x\n`, /"compatible" of \/soc\/dev@10000000 is 4,106 bytes; a device's is at most 4,096/],
  ];
  for (const [name, body, msg] of cases) {
    const f = path.join(dir, `${name}.yaml`);
    const dev = name === 'compat' ? device(0, body).replace('compatible: acme,dev', `compatible: ["acme,dev", "${'x'.repeat(4096)}"]`) : device(0, body);
    writeFileSync(f, HEAD + dev);
    await refused(state, f, msg, { line: HEAD_LINES + 1 });
  }
});

test('machine-wide limits: all resources together, all strings together, the model', async (t) => {
  const { dir, state } = scratch(t);
  // 60 devices of 1,000 interrupts each: the 51st crosses 50,000
  let y = HEAD;
  const irqs = `      interrupts: [${Array.from({ length: 1000 }, (_, k) => `[0, ${k % 900}, 4]`).join(', ')}]\n`;
  for (let i = 0; i < 60; i++) y += device(i, irqs);
  const f = path.join(dir, 'resources.yaml');
  writeFileSync(f, y);
  await refused(state, f, new RegExp(`MEM regions, interrupts, IOMMU and reset references pass ${MAX_RESOURCES.toLocaleString('en-US')} at /soc/dev@10320000`), { line: HEAD_LINES + 1 + 3 * 50 });
  // 600 devices with a 4,000-byte compatible each: about 2.4 MiB of strings
  let s = HEAD;
  for (let i = 0; i < 600; i++) s += device(i, '').replace('compatible: acme,dev', `compatible: ["acme,dev", "${'y'.repeat(4000)}"]`);
  const g = path.join(dir, 'strings.yaml');
  writeFileSync(g, s);
  await refused(state, g, /the devices' names, paths and compatible strings pass 2 MiB at \/soc\/dev@/, {});
  const m = path.join(dir, 'model.yaml');
  writeFileSync(m, HEAD.replace('model: scale', `model: "${'m'.repeat(5000)}"`));
  await refused(state, m, /"model" is 5,001 bytes \(its NUL included\); a model is at most 4,096 here/, { line: 3 });
  assert.equal(stateBytes(state), null, 'nothing was ever saved');
});

test('DTB: a device name past NAME_MAX, a blob past the DTB size limit', async (t) => {
  const { dir, state } = scratch(t);
  const strings = 'compatible\0';
  const long = 'n'.repeat(300);
  const w = new StructWriter().begin('').begin(long).prop(0, [...Buffer.from('acme,x\0')]).end().end().finish();
  const f = path.join(dir, 'name.dtb');
  writeFileSync(f, blob({ struct: w.bytes, strings }));
  await refused(state, f, /device name of \/n{300} is 300 bytes, longer than NAME_MAX \(255\): no sysfs entry can have it/, { offset: 0x38 + 8 });
  const small = blob({ struct: new StructWriter().begin('').prop(0, [...Buffer.from('acme,x\0')]).end().finish().bytes, strings });
  const big = Buffer.alloc(MAX_DTB_SIZE + 1);
  big.set(small);
  const g = path.join(dir, 'big.dtb');
  writeFileSync(g, big);
  await refused(state, g, /^the blob is 16\.0 MiB; a DTB is at most 16 MiB here/, { offset: 0 });
});
