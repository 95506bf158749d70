/**
 * Kernel fidelity, round 2 (issue 11: 11.1 domain side, 11.3–11.7, 11.10), driven
 * through the sysfs view of an in-memory machine: errno, exact log text and order, and
 * what the machine holds afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sysRoot } from '../src/sysfs/tree.js';
import { vread, vwrite } from '../src/sysfs/vfs.js';
import { KernelError } from '../src/base/errors.js';
import { modprobe, rmmod, kstrtobool, moduleRefcount } from '../src/base/module.js';
import { boot } from '../src/base/boot.js';
import { parseOwnYaml } from '../src/devicetree/formats/own-yaml.js';
import { findDevice, findGroup } from '../src/base/machine.js';
import type { Machine } from '../src/base/machine.js';
import { callReset } from '../src/vfio/reset.js';
import { bootTree } from './helpers.js';

const ETH = 'fff51000.ethernet';
const CRYPTO = 'fff60000.crypto';
const RNG = 'fff61000.rng';
const VIDEO = 'fff90000.video';
const WDT = 'fff70000.watchdog';
const DEV = (d: string, a: string): string => `/sys/bus/platform/devices/${d}/${a}`;
const DRV = (d: string, a: string): string => `/sys/bus/platform/drivers/${d}/${a}`;
const PROBE = '/sys/bus/platform/drivers_probe';

function errno(fn: () => unknown, code: string, what = ''): KernelError {
  let got: KernelError | undefined;
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KernelError, `expected KernelError, got ${String(e)}`);
    assert.equal(e.code, code, what);
    got = e;
    return true;
  });
  return got!;
}

const texts = (m: Machine, from: number): string[] => m.log.slice(from).map((l) => l.text);
const levels = (m: Machine, from: number): number[] => m.log.slice(from).map((l) => l.level);

/** override + unbind through sysfs, vfio-platform loaded */
function prepare(m: Machine, dev: string): ReturnType<typeof sysRoot> {
  modprobe(m, 'vfio-platform');
  const root = sysRoot(m);
  vwrite(root, DEV(dev, 'driver_override'), 'vfio-platform\n');
  const d = findDevice(m, dev)!;
  if (d.driver) vwrite(root, DRV(d.driver, 'unbind'), dev + '\n');
  return root;
}

function machine(yaml: string): Machine {
  return boot(parseOwnYaml(yaml, 'test.yaml'));
}

// ---- 11.3 cache coherency ----

test('11.3 default tree: the device behind the non-coherent SMMU fails with -22 after its reset module loaded; bind EINVAL', () => {
  const m = bootTree('default');
  const root = prepare(m, VIDEO);
  const before = m.log.length;
  const e = errno(() => vwrite(root, DRV('vfio-platform', 'bind'), VIDEO + '\n'), 'EINVAL');
  assert.equal(e.reason?.kind, 'no-cache-coherency');
  assert.deepEqual(texts(m, before), [`vfio-platform ${VIDEO}: probe with driver vfio-platform failed with error -22`]);
  assert.equal(findDevice(m, VIDEO)!.driver, null);
  // 11.1: request_module loaded the reset module during the failed probe, and it stays
  assert.ok(m.modules.some((x) => x.name === 'vfio_platform_acmevpu'));
  // drivers_probe swallows the probe error
  assert.equal(vwrite(root, PROBE, VIDEO + '\n'), VIDEO.length + 1);
  assert.equal(findDevice(m, VIDEO)!.driver, null);
});

test('11.3 default tree: devices behind the dma-coherent SMMU bind', () => {
  const m = bootTree('default');
  const root = prepare(m, ETH);
  vwrite(root, PROBE, ETH + '\n');
  assert.equal(findDevice(m, ETH)!.driver, 'vfio-platform');
});

const SMMU_TREE = (smmuCoherent: boolean, devCoherent: boolean, compat = '"arm,mmu-500"'): string => `vfioctl: 1
resets:
  - compatible: acme,x
    module: vfio-platform-acmex
tree:
  "#address-cells": 1
  "#size-cells": 1
  iommu@1000:
    $label: smmu
    compatible: [${compat}]
    reg: [0x1000, 0x1000]
    "#iommu-cells": 1
${smmuCoherent ? '    dma-coherent: true\n' : ''}  x@2000:
    compatible: acme,x
    reg: [0x2000, 0x1000]
    iommus: ["&smmu", 1]
${devCoherent ? '    dma-coherent: true\n' : ''}`;

test('11.3 per IOMMU driver: arm-smmu needs a coherent walk or a coherent device; smmu-v3 only its own node; ipmmu never', () => {
  const cases: [string, boolean, boolean, boolean][] = [
    ['"arm,mmu-500"', false, false, false],
    ['"arm,mmu-500"', true, false, true],
    ['"arm,mmu-500"', false, true, true],
    ['"arm,smmu-v3"', false, true, false],
    ['"arm,smmu-v3"', true, false, true],
    ['"renesas,ipmmu-r8a7795", "renesas,ipmmu-vmsa"', true, true, false],
  ];
  for (const [compat, smmu, dev, binds] of cases) {
    const m = machine(SMMU_TREE(smmu, dev, compat));
    const root = prepare(m, '2000.x');
    vwrite(root, PROBE, '2000.x\n');
    assert.equal(findDevice(m, '2000.x')!.driver, binds ? 'vfio-platform' : null, `${compat} smmu=${smmu} dev=${dev}`);
  }
});

test('11.3 dma-coherent on a parent bus counts (of_dma_is_coherent walks up); dma-noncoherent stops the walk', () => {
  const tree = (child: string): string => `vfioctl: 1
resets:
  - compatible: acme,x
    module: vfio-platform-acmex
tree:
  "#address-cells": 1
  "#size-cells": 1
  iommu@1000:
    $label: smmu
    compatible: ["arm,mmu-500"]
    reg: [0x1000, 0x1000]
    "#iommu-cells": 1
  soc:
    compatible: simple-bus
    "#address-cells": 1
    "#size-cells": 1
    ranges: true
    dma-coherent: true
    x@2000:
      compatible: acme,x
      reg: [0x2000, 0x1000]
      iommus: ["&smmu", 1]
${child}`;
  const m = machine(tree(''));
  assert.equal(findDevice(m, '2000.x')!.dmaCoherent, true);
  const n = machine(tree('      dma-noncoherent: true\n'));
  assert.equal(findDevice(n, '2000.x')!.dmaCoherent, undefined);
});

// ---- 11.4 host driver into a group user space owns ----

test('11.4 a host driver into an owned group: dma_configure refuses before probe, nothing logged; bind EBUSY, drivers_probe EINVAL', () => {
  const m = bootTree('default');
  const root = prepare(m, CRYPTO);
  vwrite(root, DEV(RNG, 'driver_override'), 'vfio-platform\n');
  vwrite(root, DRV('acme-rng', 'unbind'), RNG + '\n');
  vwrite(root, PROBE, CRYPTO + '\n');
  assert.equal(findDevice(m, CRYPTO)!.driver, 'vfio-platform');
  findGroup(m, findDevice(m, CRYPTO)!.iommuGroup!)!.owner = 'app'; // user space owns the group
  vwrite(root, DEV(RNG, 'driver_override'), '\n');
  const before = m.log.length;
  const b = errno(() => vwrite(root, DRV('acme-rng', 'bind'), RNG + '\n'), 'EBUSY');
  assert.equal(b.reason?.kind, 'group-owned');
  const p = errno(() => vwrite(root, PROBE, RNG + '\n'), 'EINVAL');
  assert.equal(p.reason?.kind, 'group-owned');
  assert.deepEqual(texts(m, before), [], 'the refusal comes before the driver probe: nothing logged');
  assert.equal(findDevice(m, RNG)!.driver, null);
  // modprobe/driver registration leaves the device unbound and succeeds
});

// ---- 11.5 deprecation lines ----

test('11.5 reset deprecation: dev_err_once after VFIO: reset, once per module load', () => {
  const m = bootTree('default');
  const root = prepare(m, ETH);
  vwrite(root, PROBE, ETH + '\n');
  const dev = findDevice(m, ETH)!;
  const before = m.log.length;
  callReset(m, dev);
  callReset(m, dev);
  assert.deepEqual(texts(m, before), [
    `vfio-platform ${ETH}: VFIO: reset`,
    `vfio-platform ${ETH}: DEPRECATION: VFIO Calxeda xgmac platform reset is deprecated and will be removed in a future kernel release`,
    `vfio-platform ${ETH}: VFIO: reset`,
  ]);
  assert.deepEqual(levels(m, before), [6, 3, 6]);
});

test('11.5 vfio-amba deprecation: err level, once per module load', () => {
  const m = machine(`vfioctl: 1
tree:
  "#address-cells": 1
  "#size-cells": 1
  iommu@1000:
    $label: smmu
    compatible: ["arm,mmu-401"]
    reg: [0x1000, 0x1000]
    "#iommu-cells": 1
    dma-coherent: true
  dma@2000:
    compatible: ["arm,pl330", "arm,primecell"]
    reg: [0x2000, 0x1000]
    iommus: ["&smmu", 1]
  dma@3000:
    compatible: ["arm,pl330", "arm,primecell"]
    reg: [0x3000, 0x1000]
    iommus: ["&smmu", 2]
`);
  modprobe(m, 'vfio-amba');
  const root = sysRoot(m);
  const before = m.log.length;
  for (const d of ['2000.dma', '3000.dma']) {
    vwrite(root, `/sys/bus/amba/devices/${d}/driver_override`, 'vfio-amba\n');
    vwrite(root, `/sys/bus/amba/drivers/dma-pl330/unbind`, d + '\n');
    vwrite(root, '/sys/bus/amba/drivers_probe', d + '\n');
    assert.equal(findDevice(m, d)!.driver, 'vfio-amba');
  }
  const dep = m.log.slice(before).filter((l) => l.text.includes('DEPRECATION'));
  assert.deepEqual(dep.map((l) => [l.level, l.text]), [[3, 'vfio-amba 2000.dma: DEPRECATION: vfio-amba is deprecated and will be removed in a future kernel release']]);
});

// ---- 11.6 uevent writes ----

test('11.6 uevent: actions with optional UUID and KEY=VALUE succeed; unknown, empty or bad arguments are EINVAL with both lines', () => {
  const m = bootTree('default');
  const root = sysRoot(m);
  const p = DEV('fff52000.dma', 'uevent');
  for (const ok of ['add\n', 'change', 'remove\n', 'bind', 'change 0123abcd-0000-4000-8000-00000000abcd\n', 'add 0123abcd-0000-4000-8000-00000000abcd A=1 KEY2=val\n']) {
    const before = m.log.length;
    assert.equal(vwrite(root, p, ok), ok.length, JSON.stringify(ok));
    assert.deepEqual(texts(m, before), []);
  }
  const cases: [string, string][] = [
    ['bogus\n', 'unknown uevent action string'],
    ['\n', 'unknown uevent action string'],
    ['add nouuid\n', 'incorrect uevent action arguments'],
    ['add 0123abcd-0000-4000-8000-00000000abcd A=\n', 'incorrect uevent action arguments'],
    ['add 0123abcd-0000-4000-8000-00000000abcd A-B=1\n', 'incorrect uevent action arguments'],
  ];
  for (const [bad, msg] of cases) {
    const before = m.log.length;
    errno(() => vwrite(root, p, bad), 'EINVAL', JSON.stringify(bad));
    assert.deepEqual(texts(m, before), [
      `synth uevent: /devices/platform/soc/fff52000.dma: ${msg}`,
      'acme-dma fff52000.dma: uevent: failed to send synthetic uevent: -22',
    ], JSON.stringify(bad));
    assert.deepEqual(levels(m, before), [4, 3]);
  }
  // a driver's or the bus's uevent: the warning only
  const before = m.log.length;
  errno(() => vwrite(root, DRV('acme-dma', 'uevent'), 'x\n'), 'EINVAL');
  errno(() => vwrite(root, '/sys/bus/platform/uevent', 'x\n'), 'EINVAL');
  assert.deepEqual(texts(m, before), ['synth uevent: /bus/platform/drivers/acme-dma: unknown uevent action string', 'synth uevent: /bus/platform: unknown uevent action string']);
});

// ---- 11.7 module parameters and graph ----

test('11.7 kstrtobool', () => {
  for (const v of ['1', 'y', 'Y', 'yes', 't', 'true', 'e', 'on', 'ON', null]) assert.equal(kstrtobool(v), 'Y', String(v));
  for (const v of ['0', 'n', 'N', 'no', 'f', 'false', 'd', 'off', 'OF']) assert.equal(kstrtobool(v), 'N', v);
  for (const v of ['', 'maybe', 'o', 'ox', '2', ' 1']) assert.equal(kstrtobool(v), null, v);
});

test('11.7 modprobe: bare boolean, soft dependency, holders and refcnt; a bad parameter keeps the dependencies loaded', () => {
  const m = bootTree('default');
  const inserted = modprobe(m, 'vfio-platform', { reset_required: 'off' });
  assert.deepEqual(inserted, ['vfio', 'vfio_iommu_type1', 'vfio_platform_base', 'vfio_platform']);
  const root = sysRoot(m);
  assert.equal(vread(root, '/sys/module/vfio_platform/parameters/reset_required'), 'N\n');
  assert.equal(vread(root, '/sys/module/vfio/refcnt'), '3\n');
  assert.equal(vread(root, '/sys/module/vfio_iommu_type1/refcnt'), '0\n');
  assert.deepEqual(m.modules.find((x) => x.name === 'vfio')!.holders.sort(), ['vfio_iommu_type1', 'vfio_platform', 'vfio_platform_base']);
  rmmod(m, 'vfio_iommu_type1'); // soft dependency: nothing pins it
  assert.equal(vread(root, '/sys/module/vfio/refcnt'), '2\n');

  const n = bootTree('default');
  const before = n.log.length;
  assert.throws(() => modprobe(n, 'vfio-platform', { reset_required: 'maybe' }), /could not insert 'vfio_platform'/);
  assert.deepEqual(n.modules.map((x) => x.name), ['vfio', 'vfio_iommu_type1', 'vfio_platform_base']);
  assert.deepEqual(texts(n, before), ['VFIO - User Level meta-driver version: 0.3', "vfio_platform: `maybe' invalid for parameter `reset_required'"]);
  const k = bootTree('default');
  modprobe(k, 'vfio-platform', { reset_required: null });
  assert.equal(k.modules.find((x) => x.name === 'vfio_platform')!.params['reset_required'], 'Y');
});

test('11.7 refcnt counts open VFIO fds from the owners; vfio enable_unsafe_noiommu_mode is a writable parameter', () => {
  const m = bootTree('default');
  const root = prepare(m, ETH);
  vwrite(root, PROBE, ETH + '\n');
  m.owners.push({ name: 'vm', pid: 1, alive: true, groups: [0], devices: [ETH], iova: { start: '0x0', size: '0x1000' } });
  assert.equal(moduleRefcount(m, 'vfio'), 3 + 3, 'container, group and device fds');
  assert.equal(moduleRefcount(m, 'vfio_iommu_type1'), 1, 'the container with SET_IOMMU');
  assert.equal(vread(root, '/sys/module/vfio/parameters/enable_unsafe_noiommu_mode'), 'N\n');
  vwrite(root, '/sys/module/vfio/parameters/enable_unsafe_noiommu_mode', '1\n');
  assert.equal(vread(root, '/sys/module/vfio/parameters/enable_unsafe_noiommu_mode'), 'Y\n');
  errno(() => vwrite(root, '/sys/module/vfio/parameters/enable_unsafe_noiommu_mode', 'maybe\n'), 'EINVAL');
  errno(() => vwrite(root, '/sys/module/vfio_platform/parameters/reset_required', '0\n'), 'EACCES');
});

// ---- 11.10 ----

test('11.10 group type: DMA -> DMA-FQ always; other changes EPERM while a kernel driver is bound or user space owns it', () => {
  const m = bootTree('default');
  const root = sysRoot(m);
  const t = '/sys/kernel/iommu_groups/0/type';
  errno(() => vwrite(root, t, 'identity\n'), 'EPERM', 'calxedaxgmac is bound');
  errno(() => vwrite(root, t, 'bogus\n'), 'EINVAL');
  assert.equal(vwrite(root, t, 'DMA-FQ\n'), 7);
  assert.equal(vread(root, t), 'DMA-FQ\n');
  vwrite(root, DRV('calxedaxgmac', 'unbind'), ETH + '\n');
  vwrite(root, t, 'identity\n');
  assert.equal(vread(root, t), 'identity\n');
  vwrite(root, t, 'auto');
  assert.equal(vread(root, t), 'DMA\n');
  findGroup(m, 0)!.owner = 'vm';
  errno(() => vwrite(root, t, 'identity\n'), 'EPERM', 'owned by user space');
  vwrite(root, t, 'DMA-FQ\n');
});

test('11.10 OF_ALIAS_n in uevent from /aliases, in /aliases order', () => {
  const m = machine(`vfioctl: 1
tree:
  "#address-cells": 1
  "#size-cells": 1
  aliases:
    serial0: "/uart@2000"
    ethernet: "/uart@2000"
    console1: "/uart@2000"
    other0: "/nosuch@1"
  uart@2000:
    compatible: ns16550a
    reg: [0x2000, 0x100]
`);
  const u = vread(sysRoot(m), '/sys/bus/platform/devices/2000.uart/uevent');
  assert.match(u, /OF_COMPATIBLE_N=1\nOF_ALIAS_0=serial0\nOF_ALIAS_1=console1\nMODALIAS=/);
});

test('11.10 PAMU groups: identity, no reserved regions; /dev/vfio/N and vfio-dev/vfioN majors differ; legacy VFIO: prefix', () => {
  const p = bootTree('p4080');
  const g = p.groups[0]!;
  assert.equal(g.type, 'identity');
  const root = sysRoot(p);
  assert.equal(vread(root, `/sys/kernel/iommu_groups/${g.id}/reserved_regions`), '');
  errno(() => vwrite(root, `/sys/kernel/iommu_groups/${g.id}/type`, 'DMA\n'), findDevice(p, g.devices[0]!)!.driver ? 'EPERM' : 'EINVAL');

  const m = bootTree('default');
  const r = prepare(m, ETH);
  vwrite(r, PROBE, ETH + '\n');
  const r2 = sysRoot(m);
  assert.equal(vread(r2, DEV(ETH, 'vfio-dev/vfio0/dev')), '510:0\n');
  assert.notEqual(vread(r2, DEV(ETH, 'vfio-dev/vfio0/dev')).split(':')[0], '511');

  const l = boot(parseOwnYaml(SMMU_TREE(true, false).replace('compatible: acme,x\n    reg: [0x2000', 'compatible: acme,x\n    reg: [0x2000'), 'x.yaml'), { legacyMessages: true });
  modprobe(l, 'vfio-platform');
  const lr = sysRoot(l);
  vwrite(lr, DEV('1000.iommu', 'driver_override'), 'vfio-platform\n');
  vwrite(lr, DRV('arm-smmu', 'unbind'), '1000.iommu\n');
  const before = l.log.length;
  vwrite(lr, PROBE, '1000.iommu\n');
  assert.deepEqual(texts(l, before), [
    'vfio-platform 1000.iommu: VFIO: No reset function found for device 1000.iommu',
    'vfio-platform: probe of 1000.iommu failed with error -2',
  ]);
});

test('11.1 a refused store keeps the kernel side effects: log lines, request_module, clock', () => {
  const m = bootTree('default');
  const root = prepare(m, WDT);
  const clock = m.clockUs;
  const before = m.log.length;
  errno(() => vwrite(root, DRV('vfio-platform', 'bind'), WDT + '\n'), 'EINVAL');
  assert.deepEqual(texts(m, before), [`vfio-platform ${WDT}: probe with driver vfio-platform failed with error -22`]);
  assert.ok(m.modules.some((x) => x.name === 'vfio_platform_acmewdt'), 'the reset module request_module loaded stays');
  assert.ok(m.clockUs > clock);
  assert.equal(findDevice(m, WDT)!.driver, null, 'only the store effect is missing');
  assert.equal(findDevice(m, WDT)!.driverOverride, 'vfio-platform');
});

test('11.7 enable_unsafe_noiommu_mode=1: a device with no IOMMU group gets a vfio-noiommu group, the taint line, /dev/vfio/noiommu-N; it goes on unbind', () => {
  const m = bootTree('default');
  modprobe(m, 'vfio', { enable_unsafe_noiommu_mode: '1' });
  const root = prepare(m, WDT);
  const before = m.log.length;
  vwrite(root, PROBE, WDT + '\n');
  const d = findDevice(m, WDT)!;
  assert.equal(d.driver, 'vfio-platform');
  const g = findGroup(m, d.iommuGroup!)!;
  assert.equal(g.id, 7, 'the lowest free group number');
  assert.deepEqual(texts(m, before), [
    `vfio-platform ${WDT}: Adding to iommu group 7`,
    `vfio-platform ${WDT}: Adding kernel taint for vfio-noiommu group on device`,
  ]);
  const r = sysRoot(m);
  assert.equal(vread(r, '/sys/kernel/iommu_groups/7/name'), 'vfio-noiommu\n');
  assert.equal(vread(r, '/sys/kernel/iommu_groups/7/reserved_regions'), '');
  assert.ok(r.lookup('dev') && vread(r, DEV(WDT, 'driver_override')));
  assert.equal((r.lookup('dev') as { lookup(n: string): { lookup(n: string): unknown } }).lookup('vfio').lookup('noiommu-7') !== undefined, true);
  vwrite(r, DRV('vfio-platform', 'unbind'), WDT + '\n');
  assert.equal(findDevice(m, WDT)!.iommuGroup, null);
  assert.equal(findGroup(m, 7), undefined);
  assert.equal(m.log.at(-1)!.text, `vfio-platform ${WDT}: Removing from iommu group 7`);
});
