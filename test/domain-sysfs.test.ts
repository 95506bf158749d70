/**
 * The simulated kernel, driven through its sysfs view only (sysRoot + vread/vwrite):
 * kernel-semantics §1.6 and §12 checklist items 1–8, 11, 12.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sysRoot } from '../src/sysfs/tree.js';
import { vread, vwrite, vlist, resolve } from '../src/sysfs/vfs.js';
import { KernelError } from '../src/base/errors.js';
import { modprobe } from '../src/base/module.js';
import { deviceInfo, regionInfo, irqInfo } from '../src/vfio/info.js';
import { findDevice, findGroup } from '../src/base/machine.js';
import { isViable } from '../src/iommu/group.js';
import { makeBusId } from '../src/devicetree/of/populate.js';
import type { Machine } from '../src/base/machine.js';
import type { VDir } from '../src/sysfs/vfs.js';
import { bootTree, readTree, nodeAt } from './helpers.js';

const ETH = 'fff51000.ethernet';
const DMA = 'fff52000.dma';
const DEV = (d: string, a: string): string => `/sys/bus/platform/devices/${d}/${a}`;
const DRV = (d: string, a: string): string => `/sys/bus/platform/drivers/${d}/${a}`;
const PROBE = '/sys/bus/platform/drivers_probe';

function fresh(): { m: Machine; root: VDir } {
  const m = bootTree('default');
  return { m, root: sysRoot(m) };
}

function errno(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KernelError, `expected KernelError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

function driverOf(root: VDir, dev: string): string | null {
  try {
    const n = resolve(root, `/sys/bus/platform/devices/${dev}/driver`, false).node;
    assert.equal(n.kind, 'link');
    return n.kind === 'link' ? n.target.split('/').pop()! : null;
  } catch (e) {
    if (e instanceof KernelError && e.code === 'ENOENT') return null;
    throw e;
  }
}

function hasEntry(root: VDir, dir: string, name: string): boolean {
  return vlist(root, dir).some((e) => e.name === name);
}

// ---- §1.6 driver_override ----

test('driver_override reads "(null)\\n" on a fresh device', () => {
  const { root } = fresh();
  assert.equal(vread(root, DEV(ETH, 'driver_override')), '(null)\n');
});

test('driver_override: "vfio-platform\\n" sets it, "\\n" clears it, "" changes nothing', () => {
  const { root } = fresh();
  const p = DEV(ETH, 'driver_override');
  assert.equal(vwrite(root, p, 'vfio-platform\n'), 14);
  assert.equal(vread(root, p), 'vfio-platform\n');
  assert.equal(vwrite(root, p, ''), 0);
  assert.equal(vread(root, p), 'vfio-platform\n', 'a zero-length write never reaches the store');
  assert.equal(vwrite(root, p, '\n'), 1);
  assert.equal(vread(root, p), '(null)\n');
});

test('driver_override: 4095-byte write is EINVAL, 4094 bytes is accepted', () => {
  const { root } = fresh();
  const p = DEV(ETH, 'driver_override');
  errno(() => vwrite(root, p, 'x'.repeat(4095)), 'EINVAL');
  errno(() => vwrite(root, p, 'x'.repeat(5000)), 'EINVAL');
  assert.equal(vread(root, p), '(null)\n');
  assert.equal(vwrite(root, p, 'y'.repeat(4094)), 4094);
  assert.equal(vread(root, p), 'y'.repeat(4094) + '\n');
});

test('driver_override: text after the first newline is dropped; trailing space kept', () => {
  const { root } = fresh();
  const p = DEV(ETH, 'driver_override');
  assert.equal(vwrite(root, p, 'vfio-platform\nrest\n'), 19);
  assert.equal(vread(root, p), 'vfio-platform\n');
  vwrite(root, p, 'vfio-platform \n');
  assert.equal(vread(root, p), 'vfio-platform \n');
  // embedded NUL ends the C string
  vwrite(root, p, 'none\0junk');
  assert.equal(vread(root, p), 'none\n');
});

test('driver_override: no validation of the name, never changes the driver link', () => {
  const { m, root } = fresh();
  const p = DEV(ETH, 'driver_override');
  assert.equal(driverOf(root, ETH), 'calxedaxgmac');
  vwrite(root, p, 'vfio-platform\n');
  assert.equal(driverOf(root, ETH), 'calxedaxgmac');
  vwrite(root, p, 'no-such-driver\n');
  assert.equal(findDevice(m, ETH)!.driver, 'calxedaxgmac');
  vwrite(root, p, '\n');
  assert.equal(driverOf(root, ETH), 'calxedaxgmac');
});

// ---- §1.5 / §12.4–6 bind, unbind, drivers_probe ----

test('bind when already bound (same or other driver) -> EBUSY', () => {
  const { m, root } = fresh();
  errno(() => vwrite(root, DRV('calxedaxgmac', 'bind'), ETH + '\n'), 'EBUSY');
  modprobe(m, 'vfio-platform');
  vwrite(root, DEV(ETH, 'driver_override'), 'vfio-platform\n');
  // override names vfio-platform, device still bound to calxedaxgmac: match ok, then EBUSY
  errno(() => vwrite(root, DRV('vfio-platform', 'bind'), ETH + '\n'), 'EBUSY');
  assert.equal(driverOf(root, ETH), 'calxedaxgmac');
});

test('bind of an unknown name -> ENODEV; trailing space -> ENODEV; one newline accepted', () => {
  const { root } = fresh();
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  errno(() => vwrite(root, DRV('calxedaxgmac', 'bind'), 'nosuch.dev\n'), 'ENODEV');
  errno(() => vwrite(root, DRV('calxedaxgmac', 'bind'), ETH + ' \n'), 'ENODEV');
  errno(() => vwrite(root, DRV('calxedaxgmac', 'bind'), ETH + '\n\n'), 'ENODEV');
  assert.equal(vwrite(root, DRV('calxedaxgmac', 'bind'), ETH), ETH.length, 'no newline is fine');
  assert.equal(driverOf(root, ETH), 'calxedaxgmac');
});

test('bind with driver_override naming another driver -> ENODEV', () => {
  const { root } = fresh();
  vwrite(root, DEV(ETH, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  errno(() => vwrite(root, DRV('calxedaxgmac', 'bind'), ETH + '\n'), 'ENODEV');
  assert.equal(driverOf(root, ETH), null);
});

test('bind of a host driver that does not match the device -> ENODEV', () => {
  const { root } = fresh();
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  errno(() => vwrite(root, DRV('acme-dma', 'bind'), ETH + '\n'), 'ENODEV');
});

test('bind of vfio-platform without the override -> ENODEV', () => {
  const { m, root } = fresh();
  modprobe(m, 'vfio-platform');
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  errno(() => vwrite(root, DRV('vfio-platform', 'bind'), ETH + '\n'), 'ENODEV');
});

test('unbind from a driver the device is not bound to -> ENODEV; unbound device -> ENODEV', () => {
  const { root } = fresh();
  errno(() => vwrite(root, DRV('acme-dma', 'unbind'), ETH + '\n'), 'ENODEV');
  errno(() => vwrite(root, DRV('calxedaxgmac', 'unbind'), 'nosuch.dev\n'), 'ENODEV');
  assert.equal(driverOf(root, ETH), 'calxedaxgmac');
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  assert.equal(driverOf(root, ETH), null);
  assert.ok(!hasEntry(root, '/sys/bus/platform/drivers/calxedaxgmac', ETH));
  errno(() => vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n'), 'ENODEV');
  errno(() => vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + ' '), 'ENODEV');
});

test('the canonical sequence binds xgmac to vfio-platform; driver dir lists it', () => {
  const { m, root } = fresh();
  modprobe(m, 'vfio-platform');
  vwrite(root, DEV(ETH, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DEV(ETH, 'driver/unbind'), ETH + '\n');
  assert.equal(vwrite(root, PROBE, ETH + '\n'), ETH.length + 1);
  assert.equal(driverOf(root, ETH), 'vfio-platform');
  assert.ok(hasEntry(root, '/sys/bus/platform/drivers/vfio-platform', ETH));
  // drivers_probe of a bound device is a successful no-op
  assert.equal(vwrite(root, PROBE, ETH + '\n'), ETH.length + 1);
  assert.equal(driverOf(root, ETH), 'vfio-platform');
});

test('drivers_probe succeeds when vfio-platform probe fails (dma, no reset); bind returns ENOENT', () => {
  const { m, root } = fresh();
  modprobe(m, 'vfio-platform');
  vwrite(root, DEV(DMA, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('acme-dma', 'unbind'), DMA + '\n');
  const before = m.log.length;
  assert.equal(vwrite(root, PROBE, DMA + '\n'), DMA.length + 1);
  assert.equal(driverOf(root, DMA), null, 'driver link stays absent');
  const log = m.log.slice(before).map((l) => l.text);
  assert.ok(log.some((l) => l.includes(`VFIO: No reset function found for device ${DMA}`)), log.join('\n'));
  assert.ok(log.some((l) => l === `vfio-platform ${DMA}: probe with driver vfio-platform failed with error -2`), log.join('\n'));
  errno(() => vwrite(root, DRV('vfio-platform', 'bind'), DMA + '\n'), 'ENOENT');
  assert.equal(driverOf(root, DMA), null);
  errno(() => vwrite(root, PROBE, 'nosuch.dev\n'), 'ENODEV');
});

test('reading write-only files -> EACCES; writing modalias -> EACCES; writing new_id creates a file -> EACCES, reading it ENOENT', () => {
  const { root } = fresh();
  errno(() => vread(root, PROBE), 'EACCES');
  errno(() => vread(root, DRV('calxedaxgmac', 'bind')), 'EACCES');
  errno(() => vread(root, DRV('calxedaxgmac', 'unbind')), 'EACCES');
  errno(() => vwrite(root, DEV(ETH, 'modalias'), 'x\n'), 'EACCES');
  errno(() => vwrite(root, DRV('calxedaxgmac', 'new_id'), 'calxeda,hb-xgmac\n'), 'EACCES');
  errno(() => vread(root, DRV('calxedaxgmac', 'new_id')), 'ENOENT');
});

test('drivers_autoprobe: "0" turns it off, anything else (even "\\n") on', () => {
  const { root } = fresh();
  const p = '/sys/bus/platform/drivers_autoprobe';
  assert.equal(vread(root, p), '1\n');
  assert.equal(vwrite(root, p, '0\n'), 2);
  assert.equal(vread(root, p), '0\n');
  vwrite(root, p, '\n');
  assert.equal(vread(root, p), '1\n');
  vwrite(root, p, '0junk');
  assert.equal(vread(root, p), '0\n');
  vwrite(root, p, 'no\n');
  assert.equal(vread(root, p), '1\n');
});

test('autoprobe off: modprobe vfio-platform does not grab an overridden unbound device; drivers_probe does', () => {
  const { m, root } = fresh();
  vwrite(root, '/sys/bus/platform/drivers_autoprobe', '0\n');
  vwrite(root, DEV(ETH, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  modprobe(m, 'vfio-platform');
  assert.equal(driverOf(root, ETH), null);
  vwrite(root, PROBE, ETH + '\n');
  assert.equal(driverOf(root, ETH), 'vfio-platform');
});

test('autoprobe on: modprobe vfio-platform attaches an unbound device whose override names it', () => {
  const { m, root } = fresh();
  vwrite(root, DEV(ETH, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  modprobe(m, 'vfio-platform');
  assert.equal(driverOf(root, ETH), 'vfio-platform');
});

// ---- §1.3 modalias, uevent, iommu groups ----

test('modalias and uevent of fff51000.ethernet', () => {
  const { m, root } = fresh();
  assert.equal(vread(root, DEV(ETH, 'modalias')), 'of:NethernetT(null)Ccalxeda,hb-xgmac\n');
  assert.equal(
    vread(root, DEV(ETH, 'uevent')),
    'DRIVER=calxedaxgmac\nOF_NAME=ethernet\nOF_FULLNAME=/soc/ethernet@fff51000\nOF_COMPATIBLE_0=calxeda,hb-xgmac\nOF_COMPATIBLE_N=1\nMODALIAS=of:NethernetT(null)Ccalxeda,hb-xgmac\n',
  );
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  assert.ok(!vread(root, DEV(ETH, 'uevent')).includes('DRIVER='), 'no DRIVER= while unbound');
  void m;
});

test('iommu_groups/N/devices links and the device iommu_group link', () => {
  const { root } = fresh();
  const g2 = vlist(root, '/sys/kernel/iommu_groups/2/devices');
  assert.deepEqual(g2.map((e) => e.name), ['fff60000.crypto', 'fff61000.rng']);
  for (const e of g2) assert.equal(e.type, 'l');
  const link = resolve(root, DEV(ETH, 'iommu_group'), false).node;
  assert.deepEqual(link, { kind: 'link', target: '/sys/kernel/iommu_groups/0' });
  assert.ok(!hasEntry(root, '/sys/bus/platform/devices/fff70000.watchdog', 'iommu_group'), 'watchdog has no group');
  // the group link resolves back to the same device
  assert.equal(vread(root, '/sys/kernel/iommu_groups/0/devices/fff51000.ethernet/modalias'), 'of:NethernetT(null)Ccalxeda,hb-xgmac\n');
});

// ---- §3 / §12.12 naming ----

test('makeBusId: p4080 dma@101300 -> ffe101300.dma; soc/gpio-keys -> soc:gpio-keys', () => {
  const p4080 = readTree('p4080');
  const soc = p4080.root.children.find((c) => c.name.startsWith('soc'))!;
  const dma = soc.children.find((c) => c.name === 'dma@101300') ?? (() => {
    // the dma node may sit one level deeper (dma controller container)
    for (const c of soc.children) for (const d of c.children) if (d.name === 'dma@101300') return d;
    throw new Error('no dma@101300 in p4080');
  })();
  assert.equal(makeBusId(dma), 'ffe101300.dma');
  const def = readTree('default');
  assert.equal(makeBusId(nodeAt(def, '/soc/gpio-keys')), 'soc:gpio-keys');
  assert.equal(makeBusId(nodeAt(def, '/soc/ethernet@fff51000')), ETH);
  const m = bootTree('default');
  assert.ok(findDevice(m, 'soc:gpio-keys'));
});

// ---- §5 / §12.8 VFIO info ----

test('vfio info for xgmac: flags 0x5, regions 0x7 at index<<40, level IRQs 0x7', () => {
  const { m, root } = fresh();
  modprobe(m, 'vfio-platform');
  vwrite(root, DEV(ETH, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  vwrite(root, DRV('vfio-platform', 'bind'), ETH + '\n');
  const dev = findDevice(m, ETH)!;
  const info = deviceInfo(dev);
  assert.equal(info.flags, 0x5);
  assert.deepEqual(info.flagNames, ['RESET', 'PLATFORM']);
  assert.equal(info.numRegions, 1);
  assert.equal(info.numIrqs, 3);
  const r = regionInfo(dev);
  assert.equal(r[0]!.flags, 0x7);
  assert.equal(r[0]!.offset, '0x0');
  assert.equal(r[0]!.size, '0x1000');
  const q = irqInfo(dev);
  assert.deepEqual(q.map((x) => x.flags), [0x7, 0x7, 0x7]);
  assert.deepEqual(q.map((x) => x.count), [1, 1, 1]);
  assert.ok(hasEntry(root, `/sys/bus/platform/devices/${ETH}`, 'vfio-dev'));
  assert.ok(hasEntry(root, '/dev/vfio', '0'));
});

test('vfio info for dma with reset_required=0: 0x4, region 0x3 (size 0x400), edge IRQs 0x1', () => {
  const { m, root } = fresh();
  modprobe(m, 'vfio-platform', { reset_required: '0' });
  assert.match(vread(root, '/sys/module/vfio_platform/parameters/reset_required'), /^(N|0)\n$/);
  vwrite(root, DEV(DMA, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('acme-dma', 'unbind'), DMA + '\n');
  vwrite(root, DRV('vfio-platform', 'bind'), DMA + '\n');
  assert.equal(driverOf(root, DMA), 'vfio-platform');
  const dev = findDevice(m, DMA)!;
  assert.equal(deviceInfo(dev).flags, 0x4);
  const r = regionInfo(dev);
  assert.equal(r.length, 1);
  assert.equal(r[0]!.size, '0x400');
  assert.equal(r[0]!.flags, 0x3);
  assert.deepEqual(irqInfo(dev).map((x) => x.flags), [0x1, 0x1]);
});

test('watchdog has no IOMMU group: bind to vfio-platform -> EINVAL', () => {
  const { m, root } = fresh();
  modprobe(m, 'vfio-platform', { reset_required: '0' });
  const W = 'fff70000.watchdog';
  vwrite(root, DEV(W, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('acme-wdt', 'unbind'), W + '\n');
  errno(() => vwrite(root, DRV('vfio-platform', 'bind'), W + '\n'), 'EINVAL');
  assert.equal(vwrite(root, PROBE, W + '\n'), W.length + 1, 'drivers_probe still succeeds');
  assert.equal(driverOf(root, W), null);
});

// ---- §12.11 viability ----

test('group 2 (crypto + rng) viable only when both leave their host drivers', () => {
  const { m, root } = fresh();
  const g = findGroup(m, 2)!;
  assert.deepEqual(g.devices, ['fff60000.crypto', 'fff61000.rng']);
  assert.equal(isViable(m, g), false);
  modprobe(m, 'vfio-platform', { reset_required: '0' });
  vwrite(root, DEV('fff60000.crypto', 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('acme-crypto', 'unbind'), 'fff60000.crypto\n');
  vwrite(root, PROBE, 'fff60000.crypto\n');
  assert.equal(driverOf(root, 'fff60000.crypto'), 'vfio-platform');
  assert.equal(isViable(m, g), false, 'rng still on acme-rng');
  assert.ok(hasEntry(root, '/dev/vfio', '2'), 'the group node exists once a member is on vfio-platform, viable or not');
  vwrite(root, DRV('acme-rng', 'unbind'), 'fff61000.rng\n');
  assert.equal(isViable(m, g), true, 'an unbound member keeps the group viable');
  assert.ok(hasEntry(root, '/dev/vfio', '2'));
});
