/**
 * src/state/run-child.ts, which runs flock(1) for the lock: through the runtime's own
 * synchronous spawn, and through node:child_process where that is not to be used
 * (--pending-deprecation would print a warning for process.binding). Both give the exit
 * status, a signal, "could not start", and pass our fd down as the child's fd 3.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runWithFd, usesRuntimeSpawn } from '../src/state/run-child.js';
import { REPO } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-child-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('runWithFd: exit status, signal, a program that is not there, and fd 3 is ours', () => {
  assert.equal(usesRuntimeSpawn(), true, 'this Node offers its synchronous spawn');
  const f = path.join(dir, 'out');
  const fd = openSync(f, 'w');
  try {
    assert.deepEqual(runWithFd('sh', ['-c', 'echo via-fd3 >&3; exit 3'], fd, 5000), { status: 3, signal: null, failed: false });
    assert.deepEqual(runWithFd('sh', ['-c', 'kill -TERM $$'], fd, 5000), { status: null, signal: 'SIGTERM', failed: false });
    assert.equal(runWithFd('vfioctl-no-such-program', [], fd, 5000).failed, true);
    const slow = runWithFd('sleep', ['5'], fd, 200);
    assert.equal(slow.status, null, 'killed at the timeout');
  } finally {
    closeSync(fd);
  }
  assert.equal(readFileSync(f, 'utf8'), 'via-fd3\n');
});

test('with --pending-deprecation the lock goes through node:child_process: the command works and nothing is printed about process.binding', () => {
  const state = path.join(dir, 'state.json');
  const run = (...a: string[]) =>
    spawnSync(process.execPath, ['--pending-deprecation', path.join(REPO, 'bin', 'vfioctl'), '--state', state, ...a], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(run('-q', 'load', 'default').status, 0);
  const r = run('override', 'fff52000.dma', 'vfio-platform');
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /DeprecationWarning|process\.binding/);
  assert.match(readFileSync(state, 'utf8'), /"driverOverride":"vfio-platform"/);
});
