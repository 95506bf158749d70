/**
 * Issue 14.7, the bounds themselves (src/devicetree/formats/dts.ts): a computed
 * `#include MACRO` is not followed by the include check, so it reaches cpp; a FIFO then
 * blocks cc1 and `/dev/zero` grows it. The time limit must stop the first (killing the
 * whole process group: no cpp or cc1 is left running, which a kill of cpp alone leaves)
 * and the memory limit the second, each with a message that names the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readTreeFile } from '../src/devicetree/formats/read.js';
import { TreeError } from '../src/devicetree/tree.js';

const HAVE_TOOLS = spawnSync('dtc', ['--version']).status === 0 && spawnSync('cpp', ['--version']).status === 0;
const HAVE_MKFIFO = spawnSync('mkfifo', ['--version']).status === 0;

async function treeError(p: Promise<unknown>): Promise<TreeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TreeError) return e;
    throw e;
  }
  assert.fail('expected a TreeError');
}

/** Processes (not zombies) whose command line names `dir`. */
function livingWith(dir: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes(dir) && !l.trim().startsWith('Z') && !l.includes('ps -eo'));
}

async function gone(dir: string): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const left = livingWith(dir);
    if (left.length === 0) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
  return livingWith(dir);
}

test('a computed #include of a FIFO: stopped by the time limit, the whole group killed', async (t) => {
  if (!HAVE_TOOLS) return t.skip('dtc or cpp is not on PATH');
  if (!HAVE_MKFIFO) return t.skip('mkfifo is not on PATH');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-dtslim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('mkfifo', [path.join(dir, 'pipe.h')]);
  const f = path.join(dir, 'board.dts');
  writeFileSync(f, '/dts-v1/;\n#define F "pipe.h"\n#include F\n/ { compatible = "x"; };\n');
  const t0 = Date.now();
  const e = await treeError(readTreeFile(f, { toolLimits: { timeoutMs: 1500 } }));
  const took = Date.now() - t0;
  assert.match(e.message, /^cpp did not finish within 1\.5 s, the limit for preprocessing and compiling a \.dts/);
  assert.deepEqual(e.loc, { file: f });
  assert.ok(took >= 1400 && took < 8000, `took ${took} ms`);
  assert.deepEqual(await gone(dir), [], 'no cpp, cc1 or dtc of this compile is left');
});

test('a computed #include of /dev/zero: stopped by the memory limit', async (t) => {
  if (!HAVE_TOOLS) return t.skip('dtc or cpp is not on PATH');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-dtslim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'board.dts');
  writeFileSync(f, '/dts-v1/;\n#define Z "/dev/zero"\n#include Z\n/ { compatible = "x"; };\n');
  const e = await treeError(readTreeFile(f, { toolLimits: { memoryKiB: 256 * 1024, timeoutMs: 60_000 } }));
  assert.match(e.message, /^cpp ran out of memory within 256 MiB, the limit for a \.dts/);
  assert.deepEqual(await gone(dir), []);
});

test('within the limits a .dts with includes still compiles', async (t) => {
  if (!HAVE_TOOLS) return t.skip('dtc or cpp is not on PATH');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-dtslim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'soc.dtsi'), '/ {\n  model = "m";\n};\n');
  writeFileSync(path.join(dir, 'consts.h'), '#define ADDR 0x1000\n');
  const f = path.join(dir, 'board.dts');
  writeFileSync(f, '/dts-v1/;\n#include "consts.h"\n#include "soc.dtsi"\n/ { compatible = "x"; dev@1000 { compatible = "y"; reg = <ADDR 4>; }; };\n');
  const tree = await readTreeFile(f, { toolLimits: { memoryKiB: 512 * 1024, timeoutMs: 30_000 } });
  assert.deepEqual(tree.root.children.map((c) => c.name), ['dev@1000']);
  assert.deepEqual(await gone(dir), []);
});
