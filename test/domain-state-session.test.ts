/**
 * The session API (src/state/session.ts) without the CLI, as a second front end (the
 * FUSE server) calls it: lock → read → run → write; a KernelError saves the kernel's side
 * effects, any other error saves nothing; the replace form; the read cache; the state size
 * cap on writing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withState, replaceState, type SessionOptions } from '../src/state/session.js';
import { readState, STATE_MAX_BYTES } from '../src/state/state-file.js';
import { KernelError, StateError, UsageError } from '../src/base/errors.js';
import { printk, KERN_INFO } from '../src/klog/klog.js';
import { bootTree } from './helpers.js';
import { tempDir, removeTempDirs } from './proc-helpers.js';

after(removeTempDirs);

function options(p: string, notes: string[] = []): SessionOptions {
  return { path: p, lockTimeoutMs: 1000, boot: () => bootTree('default'), note: (t) => void notes.push(t), beforeWrite: (m) => void (m.clockUs += 1_000_000) };
}
const fresh = (): string => path.join(tempDir('vfioctl-session-'), 'state.json');

test('first use boots and saves the machine, with a note; read mode then reads it without writing', async () => {
  const p = fresh();
  const notes: string[] = [];
  const model = await withState(options(p, notes), 'read', (m) => m.model);
  assert.equal(model, 'vfioctl default machine');
  assert.match(notes.join('\n'), /no state file at .*; booted the bundled default machine/);
  const bytes = readFileSync(p);
  await withState(options(p), 'read', (m) => void (m.model = 'changed in read mode'));
  assert.deepEqual(readFileSync(p), bytes, 'read mode wrote');
  assert.deepEqual(readdirSync(path.dirname(p)), ['state.json'], 'a lock or temp file was left');
});

test('write mode: saved on success; a KernelError saves the side effects; usage and other errors save nothing; dryRun saves nothing', async () => {
  const p = fresh();
  await replaceState(options(p), bootTree('default'), { force: false });
  await withState(options(p), 'write', (m) => void (m.devices[0]!.driverOverride = 'vfio-platform'));
  assert.equal(readState(p)!.devices[0]!.driverOverride, 'vfio-platform');

  const before = readState(p)!;
  await assert.rejects(
    withState(options(p), 'write', (m) => {
      printk(m, KERN_INFO, 'a line the kernel logged before refusing');
      throw new KernelError('EINVAL');
    }),
    KernelError,
  );
  const after1 = readState(p)!;
  assert.equal(after1.log.at(-1)!.text, 'a line the kernel logged before refusing');
  assert.ok(after1.clockUs > before.clockUs);

  const bytes = readFileSync(p);
  for (const e of [new UsageError('bad'), new StateError(p, 'x'), new TypeError('a bug')]) {
    await assert.rejects(
      withState(options(p), 'write', (m) => {
        printk(m, KERN_INFO, 'not kept');
        throw e;
      }),
    );
    assert.deepEqual(readFileSync(p), bytes, `${e.name} saved something`);
  }
  await assert.rejects(withState({ ...options(p), dryRun: true }, 'write', () => { throw new KernelError('EBUSY'); }), KernelError);
  await withState({ ...options(p), dryRun: true }, 'write', (m) => void (m.model = 'dry'));
  assert.deepEqual(readFileSync(p), bytes, 'dryRun saved');
});

test('replaceState: check() may refuse; an unusable file is refused unless force, which moves it aside', async () => {
  const p = fresh();
  writeFileSync(p, 'garbage');
  await assert.rejects(replaceState(options(p), bootTree('default'), { force: false }), StateError);
  assert.equal(readFileSync(p, 'utf8'), 'garbage');
  const r = await replaceState(options(p), bootTree('default'), { force: true });
  assert.ok(r.movedAside && readFileSync(r.movedAside, 'utf8') === 'garbage');
  assert.ok(r.unusable instanceof StateError);
  await assert.rejects(replaceState(options(p), bootTree('highbank'), { force: false, check: () => { throw new KernelError('EBUSY'); } }), KernelError);
  assert.equal(readState(p)!.model, 'vfioctl default machine');
});

test('a machine over the state size cap is not written: StateError naming the limit, the old state kept', async () => {
  const p = fresh();
  await replaceState(options(p), bootTree('default'), { force: false });
  const bytes = readFileSync(p);
  const big = bootTree('default');
  big.model = 'x'.repeat(STATE_MAX_BYTES);
  await assert.rejects(replaceState(options(p), big, { force: false }), (e: unknown) => e instanceof StateError && /too big to keep: its state would take 16\.0 MiB, over the limit of 16\.0 MiB \(README "Limits on input"\)/.test(e.message));
  assert.deepEqual(readFileSync(p), bytes);
  assert.ok(!readdirSync(path.dirname(p)).some((f) => f.includes('.tmp.')));
});

test('read cache: the same file gives the same machine object; a write gives a new one', async () => {
  const p = fresh();
  await replaceState(options(p), bootTree('default'), { force: false });
  const o = { ...options(p), cache: true };
  const a = await withState(o, 'read', (m) => m);
  const b = await withState(o, 'read', (m) => m);
  assert.equal(a, b, 'not cached');
  await withState(options(p), 'write', (m) => void (m.devices[0]!.driverOverride = 'x'));
  const c = await withState(o, 'read', (m) => m);
  assert.notEqual(c, a);
  assert.equal(c.devices[0]!.driverOverride, 'x');
  assert.ok(existsSync(p));
});
