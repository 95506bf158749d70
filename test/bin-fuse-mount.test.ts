/** `vfioctl mount DIR` / `umount DIR`: the simulated /sys at a directory, daemonized or in the foreground. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, readlinkSync, existsSync } from 'node:fs';
import path from 'node:path';
import { vfioctl, start, tempDir, removeTempDirs, killChildren } from './proc-helpers.js';
import { fuseSkip, fuseMountCount } from './fuse-helpers.js';

const mounted: string[] = [];
after(async () => {
  for (const d of mounted) await start('umount', ['-l', d]).done;
  killChildren();
  removeTempDirs();
});

const skip = fuseSkip();

async function machine(): Promise<{ dir: string; state: string }> {
  const dir = tempDir('vfioctl-fuse-');
  const state = path.join(dir, 'state.json');
  const r = await vfioctl(state, ['-q', 'load', 'default']);
  assert.equal(r.code, 0, r.stderr);
  return { dir, state };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('mount DIR daemonizes and reports its pid; reads and writes go to the machine; umount ends the server', { skip }, async () => {
  const { dir, state } = await machine();
  const mnt = path.join(dir, 'sys');
  mkdirSync(mnt);
  const before = fuseMountCount(dir);
  const r = await vfioctl(state, ['--json', 'mount', mnt]);
  assert.equal(r.code, 0, r.stderr);
  mounted.push(mnt);
  const { pid } = JSON.parse(r.stdout) as { pid: number };
  assert.ok(alive(pid));
  assert.equal(fuseMountCount(dir), before + 1);
  const dev = path.join(mnt, 'bus/platform/devices/fff51000.ethernet');
  assert.equal(readFileSync(path.join(dev, 'driver_override'), 'utf8'), '(null)\n');
  assert.equal(readlinkSync(path.join(dev, 'driver')), '../../../../bus/platform/drivers/calxedaxgmac');
  writeFileSync(path.join(dev, 'driver_override'), 'vfio-platform\n');
  // a change made by another vfioctl command is seen at once (no cache)
  const o = await vfioctl(state, ['-q', 'override', 'fff51000.ethernet', 'none']);
  assert.equal(o.code, 0, o.stderr);
  assert.equal(readFileSync(path.join(dev, 'driver_override'), 'utf8'), 'none\n');
  assert.throws(() => writeFileSync(path.join(mnt, 'bus/platform/drivers_probe'), 'nosuch\n'), { code: 'ENODEV' });
  assert.throws(() => readFileSync(path.join(mnt, 'bus/platform/drivers_probe')), { code: 'EACCES' });
  const u = await vfioctl(state, ['umount', mnt]);
  assert.equal(u.code, 0, u.stderr);
  mounted.pop();
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((res) => setTimeout(res, 50));
  assert.ok(!alive(pid), 'the server ends after umount');
  assert.equal(fuseMountCount(dir), before);
  const show = JSON.parse((await vfioctl(state, ['show', 'fff51000.ethernet', '--json'])).stdout) as { driverOverride: string };
  assert.equal(show.driverOverride, 'none');
});

test('mount --foreground serves until unmounted', { skip }, async () => {
  const { dir, state } = await machine();
  const mnt = path.join(dir, 'fg');
  mkdirSync(mnt);
  const fg = start(process.execPath, [path.join(process.cwd(), 'bin', 'vfioctl'), '--state', state, 'mount', '--foreground', mnt]);
  mounted.push(mnt);
  for (let i = 0; i < 200 && !existsSync(path.join(mnt, 'bus')); i++) await new Promise((res) => setTimeout(res, 50));
  assert.equal(readFileSync(path.join(mnt, 'bus/platform/drivers_autoprobe'), 'utf8'), '1\n');
  const u = await vfioctl(state, ['umount', mnt]);
  assert.equal(u.code, 0, u.stderr);
  mounted.pop();
  const e = await fg.done;
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stderr, /serving .* at .* \(pid \d+\)/);
});

test('mount refuses a non-empty directory, /sys outside a namespace; umount refuses what is not ours', { skip }, async () => {
  const { dir, state } = await machine();
  const before = fuseMountCount(dir);
  const full = await vfioctl(state, ['mount', dir]);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /is not empty: mount over an empty directory/);
  const sys = await vfioctl(state, ['mount', '/sys']);
  assert.equal(sys.code, 1);
  assert.match(sys.stderr, /refusing to mount over \/sys outside a private mount namespace/);
  const missing = await vfioctl(state, ['mount', path.join(dir, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
  const u = await vfioctl(state, ['umount', dir]);
  assert.equal(u.code, 1);
  assert.match(u.stderr, /is not a vfioctl mount/);
  assert.equal(fuseMountCount(dir), before);
});
