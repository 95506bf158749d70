/**
 * bin/vfioctl's start-up path: --version without loading the bundle, the bundle compiled
 * with the code cache npm run build wrote (accepted by this Node), the same output with or
 * without that cache, and commander's child_process not loaded for a plain command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, run } from './helpers.js';

const BIN = path.join(REPO, 'bin', 'vfioctl');
const require = createRequire(import.meta.url);

test('--version: the package version, from the bin and from main()', async () => {
  const version = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, version + '\n');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-ver-'));
  try {
    assert.equal((await run(path.join(dir, 's.json'), '--version')).stdout, version + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundle is compiled with its code cache, and gives the same output without it', () => {
  const { loadBundle, BUNDLE } = require(BIN) as { loadBundle(b?: string): { script: { cachedDataRejected?: boolean } | null }; BUNDLE: string };
  assert.ok(existsSync(BUNDLE + '.cache'), 'npm run build writes the code cache');
  assert.equal(loadBundle().script?.cachedDataRejected, false, 'this Node accepts the cache');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-cache-'));
  try {
    const state = path.join(dir, 'state.json');
    const env = { ...process.env, NO_COLOR: '1', VFIOCTL_STATE: state };
    const go = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8', env });
    assert.equal(go('-q', 'load', 'default').status, 0);
    const withCache = go('status', '--json');
    // the same bundle without a cache: copy it where no .cache sits beside it
    const bare = path.join(REPO, 'dist', 'src', 'cli', `vfioctl-nocache-${process.pid}.cjs`);
    copyFileSync(BUNDLE, bare);
    try {
      const r = spawnSync(process.execPath, ['-e', `process.argv = [process.argv[0], 'vfioctl', 'status', '--json']; require(${JSON.stringify(BIN)}).loadBundle(${JSON.stringify(bare)}).exports.run()`], { encoding: 'utf8', env });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, withCache.stdout);
    } finally {
      rmSync(bare, { force: true });
    }
    // a plain command does not load child_process (commander requires it for subcommand executables)
    const probe = spawnSync(process.execPath, ['-e', `const m=require(${JSON.stringify(BIN)}).loadBundle().exports; process.argv=[process.argv[0], 'vfioctl', 'status', '--json']; m.run().then(()=>{ process.stderr.write(String(process.moduleLoadList.some((x)=>/child_process/.test(x)))); });`], { encoding: 'utf8', env });
    assert.equal(probe.stderr.trim().split('\n').pop(), 'false', probe.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
