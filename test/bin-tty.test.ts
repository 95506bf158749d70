/**
 * The real bin/vfioctl on a terminal (a pseudo-terminal made by script(1) of util-linux):
 * colour on, a refusal coloured with its exit status, and a demo whose spinner (ora) runs.
 * These load chalk and ora, which are ES modules: the bundle requires them from CommonJS
 * copies beside it (scripts/build-bin.mjs), since a script compiled from its code cache
 * can import() nothing (this was an "internal error" on every terminal before).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './helpers.js';

const BIN = path.join(REPO, 'bin', 'vfioctl');
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = hasScript ? false : 'script(1) (util-linux/bsdutils) is not installed';
const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-tty-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
/** CMD on a pseudo-terminal of 100 columns: its exit status and everything it printed */
function onTerminal(...argv: string[]): { status: number | null; out: string } {
  const state = path.join(dir, 'state.json');
  const cmd = `stty cols 100; exec ${q(process.execPath)} ${q(BIN)} --state ${q(state)} ${argv.map(q).join(' ')}`;
  const env: Record<string, string | undefined> = { ...process.env, TERM: 'xterm' };
  delete env['NO_COLOR'];
  delete env['VFIOCTL_STATE'];
  delete env['CI']; // ora shows no spinner when CI is set (is-interactive), as in .ci/run
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('on a terminal: status in colour, a refusal in colour with exit 1, and no warning or internal error', { skip }, () => {
  const s = onTerminal('status');
  assert.equal(s.status, 0, s.out);
  assert.match(s.out, /\x1b\[1mvfioctl default machine\x1b\[22m/);
  const r = onTerminal('bind', 'nosuch');
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /\x1b\[31mvfioctl: \x1b\[39m\/sys\/bus\/platform\/devices\/nosuch: open error: No such file or directory \(ENOENT\)/);
  const plain = onTerminal('--no-color', 'status');
  assert.doesNotMatch(plain.out, /\x1b\[/, '--no-color on a terminal');
  for (const x of [s, r, plain]) assert.doesNotMatch(x.out, /internal error|ExperimentalWarning|dynamic import/);
});

test('on a terminal: a demo runs to its end with its spinner', { skip }, () => {
  const d = onTerminal('demo', 'passthrough', '--pace', '20');
  assert.equal(d.status, 0, d.out);
  assert.match(d.out, /That is the whole sequence/);
  assert.match(d.out, /\x1b\[\?25l/, 'the spinner hid the cursor (ora ran)');
  assert.doesNotMatch(d.out, /internal error|ExperimentalWarning/);
});
