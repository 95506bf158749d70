/**
 * Issue 14.8 with the real bin/vfioctl: export against a target that changes while it is
 * written. A directory of the export swapped for a symbolic link (or moved away) mid-export
 * must not let a single file be written outside the target: the export either finishes
 * (into the directories it made) or stops with exit 1 (EBUSY/ELOOP) — never exit 70 —
 * and leaves neither its lock nor its staging directory behind. Two concurrent
 * `export --force` runs: each exits 0 or 1 with EBUSY, the target holds one whole export.
 * A read-only target is EROFS, exit 1. A killed export's lock and staging directory are
 * recognised and removed by the next export.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, start, vfioctl, tempDir, removeTempDirs, killChildren, generatedMachine, deadPid, type Exit } from './proc-helpers.js';
import { LOCK, STAGING_PREFIX } from '../src/cli/commands/teach/export-writer.js';

after(() => {
  killChildren();
  removeTempDirs();
});

/** Every entry below `dir` (links not followed). */
function count(dir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      n++;
      const p = path.join(d, name);
      if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return n;
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

/** The exit of an export: 0, or 1 with one JSON error line naming an errno; never 70. */
function exitOk(r: { code: number | null; stderr: string }, allowed: string[]): string | null {
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  if (r.code === 0) return null;
  const e = (JSON.parse(r.stderr.trim().split('\n').pop()!) as { error: { code: string; message: string } }).error;
  assert.ok(allowed.includes(e.code), `${e.code}: ${e.message}`);
  return e.code;
}

/**
 * `export` of a 3000-device machine into a fresh top/out, with `swap(target, outside)`
 * tried on every tick while it runs until it says it has swapped something; the export's
 * result, once it has ended.
 */
async function exportWhile(swap: (target: string, outside: string) => boolean): Promise<{ r: Exit; target: string; outside: string }> {
  const state = await generatedMachine(3000);
  const top = tempDir('vfioctl-expsafe-');
  const target = path.join(top, 'out');
  const outside = path.join(top, 'outside');
  mkdirSync(outside);
  const run = start(process.execPath, [BIN, '--state', state, '--json', 'export', target]);
  let exited = false;
  void run.done.then(() => (exited = true));
  let swapped = false;
  while (!exited && !swapped) {
    swapped = swap(target, outside);
    await tick();
  }
  const r = await run.done;
  assert.ok(swapped, 'the swap happened while the export ran');
  return { r, target, outside };
}

for (const victim of ['sys', 'sys/devices', 'sys/devices/platform/soc', 'sys/bus/platform/devices']) {
  test(`a directory swapped for a symbolic link mid-export (${victim}): nothing is written outside the target`, { timeout: 120_000 }, async () => {
    const { r, target, outside } = await exportWhile((target, outside) => {
      // wherever the export is writing: its staging directory, or the target itself
      const staging = existsSync(target) ? readdirSync(target).find((n) => n.startsWith(STAGING_PREFIX)) : undefined;
      const p = [staging ? path.join(target, staging, victim) : null, path.join(target, victim)].find((x) => x !== null && existsSync(x) && !lstatSync(x).isSymbolicLink());
      if (!p) return false;
      try {
        renameSync(p, `${p}.aside`);
        symlinkSync(outside, p);
        return true;
      } catch {
        return false; // the export moved on meanwhile: look again
      }
    });
    exitOk(r, ['EBUSY', 'ELOOP']);
    assert.deepEqual(readdirSync(outside), [], 'nothing was written outside the target');
    // the lock is gone, or (when the swap landed where the cleanup could not verify its way
    // back into the target, so it removed nothing) it names a holder that no longer runs,
    // which the next export takes for stale
    const lock = path.join(target, LOCK);
    if (existsSync(lock)) {
      const h = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number };
      assert.throws(() => process.kill(h.pid, 0), /ESRCH/, 'a lock left behind names a dead holder');
    } else if (r.code === 1) assert.deepEqual(readdirSync(target).filter((n) => n.startsWith(STAGING_PREFIX)), [], 'the staging directory is gone');
  });
}

test('the target itself swapped for a symbolic link mid-export: nothing is written outside it', { timeout: 120_000 }, async () => {
  const { r, outside } = await exportWhile((target, outside) => {
    if (!(existsSync(path.join(target, 'sys')) || (existsSync(target) && readdirSync(target).some((n) => n.startsWith(STAGING_PREFIX))))) return false;
    renameSync(target, `${target}.moved`);
    symlinkSync(outside, target);
    return true;
  });
  exitOk(r, ['EBUSY', 'ELOOP']);
  assert.deepEqual(readdirSync(outside), [], 'nothing was written through the new link');
});

test('two concurrent export --force runs: each exits 0 or EBUSY, and the target holds one whole export', { timeout: 120_000 }, async () => {
  const state = await generatedMachine(1000);
  const top = tempDir('vfioctl-expsafe-');
  const target = path.join(top, 'out');
  const first = await vfioctl(state, ['-q', 'export', target]);
  assert.equal(first.code, 0, first.stderr);
  const whole = count(target);
  for (let round = 0; round < 3; round++) {
    const rs = await Promise.all([0, 1, 2].map(() => vfioctl(state, ['--json', 'export', '--force', target])));
    const codes = rs.map((r) => exitOk(r, ['EBUSY']));
    assert.ok(codes.includes(null), `at least one export finished: ${rs.map((r) => r.stderr).join('\n')}`);
    for (const r of rs) if (r.code === 1) assert.match(r.stderr, /another vfioctl export is writing to/);
    assert.equal(count(target), whole, 'one whole export, nothing left of the others');
  }
});

test('a killed export leaves a lock and a staging directory that the next export recognises and removes', { timeout: 120_000 }, async () => {
  const state = await generatedMachine(10);
  const top = tempDir('vfioctl-expsafe-');
  const target = path.join(top, 'out');
  const first = await vfioctl(state, ['-q', 'export', target]);
  assert.equal(first.code, 0, first.stderr);
  // what a kill -9 leaves: the lock of a dead process and a marked staging directory
  const pidns = spawnSync('readlink', ['/proc/self/ns/pid'], { encoding: 'utf8' }).stdout.trim();
  const boot = existsSync('/proc/sys/kernel/random/boot_id') ? spawnSync('cat', ['/proc/sys/kernel/random/boot_id'], { encoding: 'utf8' }).stdout.trim() : '';
  writeFileSync(path.join(target, LOCK), JSON.stringify({ pid: await deadPid(), pidns, boot }) + '\n');
  mkdirSync(path.join(target, `${STAGING_PREFIX}abc123`, 'sys'), { recursive: true });
  writeFileSync(path.join(target, `${STAGING_PREFIX}abc123`, '.vfioctl-staging'), '');
  const again = await vfioctl(state, ['-q', 'export', '--force', target]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(readdirSync(target).sort(), ['.vfioctl-export', 'dev', 'sys']);
  // a live holder (or one in another PID namespace) is not broken
  writeFileSync(path.join(target, LOCK), JSON.stringify({ pid: process.pid, pidns, boot }) + '\n');
  const busy = await vfioctl(state, ['--json', 'export', '--force', target]);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /"code":"EBUSY".*another vfioctl export is writing to .* \(pid \d+\)/);
  writeFileSync(path.join(target, LOCK), JSON.stringify({ pid: await deadPid(), pidns: 'pid:[1]', boot }) + '\n');
  const otherNs = await vfioctl(state, ['--json', 'export', '--force', target]);
  assert.equal(otherNs.code, 1, 'a lock from another PID namespace is never taken for stale');
});

test('a read-only target is EROFS, exit 1', { timeout: 60_000 }, async (t) => {
  const probe = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o ro tmpfs /mnt'], { encoding: 'utf8' });
  if (probe.status !== 0) return t.skip(`cannot mount a read-only tmpfs in a private mount namespace here (${(probe.stderr || 'unshare failed').trim()})`);
  const state = await generatedMachine(10);
  const dir = tempDir('vfioctl-expsafe-');
  mkdirSync(path.join(dir, 'ro'));
  for (const target of [path.join(dir, 'ro'), path.join(dir, 'ro', 'new')]) {
    const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o ro tmpfs "$1" && exec "$2" "$3" --state "$4" --json export "$5"', 'sh',
      path.join(dir, 'ro'), process.execPath, BIN, state, target], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    const e = (JSON.parse(r.stderr.trim()) as { error: { code: string; message: string; hint?: string } }).error;
    assert.equal(e.code, 'EROFS');
    assert.match(e.message, /Read-only file system/);
    assert.match(e.hint ?? '', /writable file system/);
  }
});
