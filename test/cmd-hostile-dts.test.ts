/**
 * Issue 14.7, through `vfioctl load`: a `.dts` whose `#include` or `/include/` names a
 * file that is not a regular file (`/dev/zero`, a FIFO, a directory, a link to one) is
 * refused before cpp or dtc start, at the directive's file:line:column, exit 3, state
 * untouched — also when the directive sits in an included file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { okRun, run, stateBytes } from './helpers.js';
import { loadRefused, type TreeErrorDoc } from './refuse.js';

const HAVE_TOOLS = spawnSync('dtc', ['--version']).status === 0 && spawnSync('cpp', ['--version']).status === 0;
const HAVE_MKFIFO = spawnSync('mkfifo', ['--version']).status === 0;


async function refusedAt(state: string, file: string, message: RegExp, where: { file: string; line: number; column: number }): Promise<void> {
  const t0 = Date.now();
  const { e } = await loadRefused(state, file, message);
  assert.ok(Date.now() - t0 < 10_000, 'refused at once, not after a timeout');
  assert.deepEqual({ file: e.file, line: e.line, column: e.column }, where);
}

test('.dts includes that are not regular files are refused where they are named', async (t) => {
  if (!HAVE_TOOLS) return t.skip('dtc or cpp is not on PATH');
  if (!HAVE_MKFIFO) return t.skip('mkfifo is not on PATH');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-dtsinc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const state = path.join(dir, 'state.json');
  await okRun(state, '-q', 'load', 'default');
  execFileSync('mkfifo', [path.join(dir, 'pipe.dtsi')]);
  symlinkSync('/dev/zero', path.join(dir, 'zero.dtsi'));
  mkdirSync(path.join(dir, 'inc', 'sub'), { recursive: true });
  const body = '/ {\n  compatible = "x";\n};\n';
  const cases: [string, string, RegExp, number, number][] = [
    ['zero', '/dts-v1/;\n#include "/dev/zero"\n', /#include "\/dev\/zero": \/dev\/zero is a character device; an included file must be a regular file/, 2, 1],
    ['fifo', '/dts-v1/;\n\n  #include "pipe.dtsi"\n', /#include "pipe\.dtsi": .*pipe\.dtsi is a FIFO \(named pipe\)/, 3, 3],
    ['link', '/dts-v1/;\n/include/ "zero.dtsi"\n', /\/include\/ "zero\.dtsi": .*zero\.dtsi is a character device/, 2, 1],
    ['dtcdev', '/dts-v1/;\n/ { };\n  /include/ "/dev/zero"\n', /\/include\/ "\/dev\/zero": \/dev\/zero is a character device/, 3, 3],
    ['dir', '/dts-v1/;\n#include <sub>\n', /#include <sub>: .*sub is a directory/, 2, 1],
  ];
  for (const [name, head, msg, line, column] of cases) {
    const f = path.join(dir, `${name}.dts`);
    writeFileSync(f, head + body);
    const args = name === 'dir' ? ['-I', path.join(dir, 'inc')] : [];
    const before = stateBytes(state);
    if (args.length > 0) {
      const r = await run(state, '--json', 'load', f, ...args);
      assert.equal(r.code, 3, r.stderr);
      const e = (JSON.parse(r.stderr) as { error: TreeErrorDoc }).error;
      assert.match(e.message, msg);
      assert.deepEqual({ file: e.file, line: e.line, column: e.column }, { file: f, line, column });
      assert.deepEqual(stateBytes(state), before);
    } else await refusedAt(state, f, msg, { file: f, line, column });
  }
  // one level down: board.dts includes soc.dtsi, which includes the FIFO
  writeFileSync(path.join(dir, 'soc.dtsi'), '/ {\n  model = "m";\n};\n#include "pipe.dtsi"\n');
  const board = path.join(dir, 'board.dts');
  writeFileSync(board, '/dts-v1/;\n#include "soc.dtsi"\n' + body);
  await refusedAt(state, board, /#include "pipe\.dtsi": .* is a FIFO/, { file: path.join(dir, 'soc.dtsi'), line: 4, column: 1 });
});

test('a tree file that is a FIFO or a device is refused at once (exit 3), never read or waited on', async (t) => {
  if (!HAVE_MKFIFO) return t.skip('mkfifo is not on PATH');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-dtsinc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const state = path.join(dir, 'state.json');
  await okRun(state, '-q', 'load', 'default');
  const fifo = path.join(dir, 'board.yaml');
  execFileSync('mkfifo', [fifo]);
  for (const [file, kind] of [[fifo, 'a FIFO \\(named pipe\\)'], ['/dev/zero', 'a character device'], ['/dev/null', 'a character device']] as const) {
    const before = stateBytes(state);
    const t0 = Date.now();
    const r = await run(state, '--json', 'load', file);
    assert.ok(Date.now() - t0 < 5000, 'refused at once');
    assert.equal(r.code, 3, r.stderr);
    const e = (JSON.parse(r.stderr) as { error: TreeErrorDoc }).error;
    assert.equal(e.file, file);
    assert.match(e.message, new RegExp(`^is ${kind}, not a regular file`));
    assert.deepEqual(stateBytes(state), before);
  }
});
