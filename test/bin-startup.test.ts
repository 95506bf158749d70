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
import { generatedMachine, removeTempDirs } from './proc-helpers.js';

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

test('stdout on a full device: one error line, exit 74, and the change saved', { skip: existsSync('/dev/full') ? false : '/dev/full is missing' }, async () => {
  const { openSync, closeSync } = await import('node:fs');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-full-'));
  try {
    const state = path.join(dir, 'state.json');
    const env = { ...process.env, NO_COLOR: '1', VFIOCTL_STATE: state };
    assert.equal(spawnSync(process.execPath, [BIN, '-q', 'load', 'default'], { env }).status, 0);
    const full = openSync('/dev/full', 'w');
    try {
      for (const argv of [['override', 'fff52000.dma', 'vfio-platform'], ['--json', 'status'], ['--help']]) {
        const r = spawnSync(process.execPath, [BIN, ...argv], { env, encoding: 'utf8', stdio: ['ignore', full, 'pipe'] });
        assert.equal(r.status, 74, `${argv.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, 'vfioctl: cannot write to standard output: ENOSPC (write): no space left on device; the command itself ran, and what it changed was saved\n');
      }
    } finally {
      closeSync(full);
    }
    const doc = JSON.parse(readFileSync(state, 'utf8')) as unknown;
    assert.ok(JSON.stringify(doc).includes('vfio-platform'), 'the override was saved');
    const r = spawnSync(process.execPath, [BIN, 'list-overrides'], { env, encoding: 'utf8' });
    assert.equal(r.stdout, 'fff52000.dma vfio-platform\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stdout a non-blocking pipe read slowly: every byte of a large document arrives (write(2) waits on EAGAIN), exit 0', { skip: spawnSync('perl', ['-e', '1']).status === 0 ? false : 'perl is not installed' }, async () => {
  const { openSync, closeSync, readSync, constants: C } = await import('node:fs');
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-nbpipe-'));
  try {
    // a machine whose status document is several times what a pipe holds (64 KiB)
    const state = await generatedMachine(400);
    const env = { ...process.env, NO_COLOR: '1', VFIOCTL_STATE: state };
    const whole = spawnSync(process.execPath, [BIN, '--json', 'status'], { env, encoding: 'utf8', maxBuffer: 1 << 26 }).stdout;
    assert.ok(whole.length > 4 * 65536, `${whole.length} bytes`);
    // a FIFO opened non-blocking on both ends; the runtime makes a child's stdio blocking when
    // it starts it, so perl sets O_NONBLOCK on the shared open file again and execs vfioctl
    const fifo = path.join(dir, 'out');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const r = openSync(fifo, C.O_RDONLY | C.O_NONBLOCK);
    const w = openSync(fifo, C.O_WRONLY | C.O_NONBLOCK);
    const nonblock = 'my $f = fcntl(STDOUT, F_GETFL, 0) or die; fcntl(STDOUT, F_SETFL, $f | O_NONBLOCK) or die; exec @ARGV or die';
    const child = spawn('perl', ['-MFcntl', '-e', nonblock, process.execPath, BIN, '--json', 'status'], { env, stdio: ['ignore', w, 'pipe'] });
    closeSync(w);
    let err = '';
    child.stderr!.on('data', (s: Buffer) => (err += s.toString()));
    let done = false;
    const exited = new Promise<number | null>((res) => child.on('close', (code) => ((done = true), res(code))));
    const buf = Buffer.alloc(4096);
    const got: Buffer[] = [];
    await new Promise((res) => setTimeout(res, 500)); // the pipe fills: the writer meets EAGAIN
    for (;;) {
      let n: number;
      try {
        n = readSync(r, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        if (done) break;
        await new Promise((res) => setTimeout(res, 2));
        continue;
      }
      if (n === 0) break;
      got.push(Buffer.from(buf.subarray(0, n)));
    }
    closeSync(r);
    assert.equal(await exited, 0, err);
    assert.equal(err, '');
    assert.equal(Buffer.concat(got).toString('utf8'), whole);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    removeTempDirs();
  }
});
