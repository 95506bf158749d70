/**
 * Kernel fidelity round 2 through the commands (in-process main()): the errno, exit
 * status, JSON error line and kernel lines a user sees, and what the machine holds
 * afterwards (read back with status --json / sysfs cat).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { run, ok, booted } from './helpers.js';

const made: string[] = [];
after(() => {
  for (const s of made) rmSync(path.dirname(s), { recursive: true, force: true });
});

async function machine(): Promise<string> {
  const s = await booted();
  made.push(s);
  return s;
}

interface ErrorDoc {
  code: string;
  errno: number;
  message: string;
  path?: string;
  hint?: string;
  dmesg?: string[];
}

async function refused(s: string, code: string, ...argv: string[]): Promise<ErrorDoc> {
  const r = await run(s, '--json', ...argv);
  assert.equal(r.code, 1, `${argv.join(' ')}: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const e = (JSON.parse(r.stderr.trim().split('\n').pop()!) as { error: ErrorDoc }).error;
  assert.equal(e.code, code, r.stderr);
  return e;
}

async function device(s: string, name: string): Promise<{ driver: string | null; driverOverride: string | null; iommuGroup: number | null }> {
  const all = JSON.parse(await ok(s, '--json', 'status')) as { devices: { name: string; driver: string | null; driverOverride: string | null; iommuGroup: number | null }[] };
  return all.devices.find((d) => d.name === name)!;
}

test('bind of the device behind the non-coherent SMMU: EINVAL (22), the -22 line, a coherency hint; the device stays unbound', async () => {
  const s = await machine();
  await ok(s, '-q', 'modprobe', 'vfio-platform');
  await ok(s, '-q', 'override', 'fff90000.video', 'vfio-platform');
  await ok(s, '-q', 'unbind', 'fff90000.video');
  const e = await refused(s, 'EINVAL', 'bind', 'fff90000.video');
  assert.equal(e.errno, 22);
  assert.equal(e.path, '/sys/bus/platform/drivers/vfio-platform/bind');
  assert.deepEqual(e.dmesg, ['vfio-platform fff90000.video: probe with driver vfio-platform failed with error -22']);
  assert.match(e.hint ?? '', /cannot enforce cache-coherent DMA \(IOMMU_CACHE\).*dma-coherent/);
  const d = await device(s, 'fff90000.video');
  assert.equal(d.driver, null);
  assert.equal(d.driverOverride, 'vfio-platform');
});

test('probe of a host driver into a group user space owns: EINVAL, nothing logged, the hint names the owner and the way out', async () => {
  const s = await machine();
  await ok(s, '-q', 'modprobe', 'vfio-platform', 'reset_required=0');
  await ok(s, '-q', 'passthrough', 'fff60000.crypto');
  await ok(s, '-q', 'passthrough', 'fff61000.rng');
  await ok(s, '-q', 'open', 'fff60000.crypto', '--owner', 'app');
  await ok(s, '-q', 'override', 'fff61000.rng', '--clear');
  await ok(s, '-q', 'unbind', 'fff61000.rng');
  const p = await refused(s, 'EINVAL', 'probe', 'fff61000.rng');
  assert.equal(p.dmesg, undefined, 'dma_configure refuses before the probe: no kernel line');
  assert.match(p.hint ?? '', /IOMMU group 2 is owned by user space \(app\).*vfioctl close fff60000\.crypto --owner app/);
  const b = await refused(s, 'EBUSY', 'bind', 'fff61000.rng', '--driver', 'acme-rng');
  assert.equal(b.errno, 16);
  assert.equal((await device(s, 'fff61000.rng')).driver, null);
  await ok(s, '-q', 'close', 'fff60000.crypto', '--owner', 'app');
  await ok(s, '-q', 'probe', 'fff61000.rng');
  assert.equal((await device(s, 'fff61000.rng')).driver, 'acme-rng');
});

test('sysfs write of a bad uevent: EINVAL with the two kernel lines; a good one succeeds silently', async () => {
  const s = await machine();
  const p = '/sys/bus/platform/devices/fff52000.dma/uevent';
  const e = await refused(s, 'EINVAL', 'sysfs', 'write', p, 'frobnicate');
  assert.deepEqual(e.dmesg, [
    'synth uevent: /devices/platform/soc/fff52000.dma: unknown uevent action string',
    'acme-dma fff52000.dma: uevent: failed to send synthetic uevent: -22',
  ]);
  const r = await run(s, '--json', 'sysfs', 'write', p, 'change 12345678-1234-1234-1234-123456789abc SEQ=1');
  assert.equal(r.code, 0, r.stderr);
});

test('modprobe with a bare boolean; lsmod counts holders; refcnt and holders in /sys/module; group type store', async () => {
  const s = await machine();
  await ok(s, '-q', 'modprobe', 'vfio-platform', 'reset_required');
  assert.equal(await ok(s, 'sysfs', 'cat', '/sys/module/vfio_platform/parameters/reset_required'), 'Y\n');
  const ls = JSON.parse(await ok(s, '--json', 'lsmod')) as { modules: { name: string; usedBy: string[]; refcount: number }[] };
  const vfio = ls.modules.find((x) => x.name === 'vfio')!;
  assert.equal(vfio.refcount, 3);
  assert.deepEqual([...vfio.usedBy].sort(), ['vfio_iommu_type1', 'vfio_platform', 'vfio_platform_base']);
  assert.equal(await ok(s, 'sysfs', 'cat', '/sys/module/vfio/refcnt'), '3\n');
  await ok(s, '-q', 'rmmod', 'vfio_iommu_type1');
  const t = '/sys/kernel/iommu_groups/0/type';
  const e = await refused(s, 'EPERM', 'sysfs', 'write', t, 'identity');
  assert.equal(e.errno, 1);
  await ok(s, 'sysfs', 'write', t, 'DMA-FQ');
  assert.equal(await ok(s, 'sysfs', 'cat', t), 'DMA-FQ\n');
});
