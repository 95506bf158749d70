/**
 * Behind the device fd, on in-memory machines: the register models and the reset modules'
 * register writes, region read/write/mmap checks, SET_IRQS, type1 DMA mappings, failing
 * resets, and the short-lived fd of info/regions/irqs (issue 15, issue 11.9).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseOwnYaml } from '../src/devicetree/formats/own-yaml.js';
import { boot } from '../src/base/boot.js';
import type { Machine, Device } from '../src/base/machine.js';
import { KernelError } from '../src/base/errors.js';
import { modprobe } from '../src/base/module.js';
import { sysRoot } from '../src/sysfs/tree.js';
import { vwrite } from '../src/sysfs/vfs.js';
import { bootTree, REPO } from './helpers.js';
import type { Recorder } from '../src/vfio/recorder.js';
import { vfioOpen, vfioClose, killOwner, startDevice, stopDevice, resetIoctl, advance, findOwner, withTransientFd } from '../src/userspace/owner.js';
import { regionRead, regionWrite } from '../src/vfio/rw.js';
import { setIrqs, eventfdRead, IRQ_SET } from '../src/vfio/irq.js';
import { mapDma, unmapDma, readMemory, DMA_MAP_FLAG, MAX_MAPPINGS } from '../src/vfio/dma.js';
import { mmioRead, XGMAC, XGBE, FLEXRM, hwFromNode } from '../src/userspace/registers.js';
import { TreeError } from '../src/devicetree/tree.js';

const rec: Recorder = { run: (_c, _w, fn) => fn(), record: () => undefined };
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'devicetree', 'behind-fd.yaml');

function bootFixture(): Machine {
  return boot(parseOwnYaml(readFileSync(FIXTURE, 'utf8'), FIXTURE));
}

function dev(m: Machine, name: string): Device {
  const d = m.devices.find((x) => x.name === name);
  assert.ok(d, name);
  return d;
}

/** modprobe vfio-platform (with params), then override + unbind + probe, as passthrough does */
function pass(m: Machine, names: string[], params: Record<string, string> = {}): void {
  if (!m.modules.some((x) => x.name === 'vfio_platform')) modprobe(m, 'vfio-platform', params);
  for (const n of names) {
    const d = dev(m, n);
    const w = (p: string, v: string): number => vwrite(sysRoot(m), p, v + '\n');
    w(`/sys/bus/platform/devices/${n}/driver_override`, 'vfio-platform');
    if (d.driver) w(`/sys/bus/platform/drivers/${d.driver}/unbind`, n);
    w('/sys/bus/platform/drivers_probe', n);
    assert.equal(d.driver, 'vfio-platform', `${n} bound to vfio-platform`);
  }
}

function refused(fn: () => unknown, code: string, re?: RegExp): KernelError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof KernelError, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(`${e.message} ${e.hint ?? ''}`, re);
    return e;
  }
  assert.fail(`expected ${code}`);
}

const logText = (m: Machine): string => m.log.map((l) => l.text).join('\n');
const r32 = (d: Device, off: number, region = 0): number => mmioRead(d, region, off, 4);

test('xgmac: start is the owner\'s register writes; the reset module clears INTR_ENA, ST|SR and TE|RE, as vfio_platform_calxedaxgmac.c does', () => {
  const m = bootTree('default');
  const ETH = 'fff51000.ethernet';
  pass(m, [ETH]);
  const d = dev(m, ETH);
  vfioOpen(m, rec, d, 'qemu');
  startDevice(m, rec, d, 'qemu');
  assert.equal(r32(d, XGMAC.CONTROL), XGMAC.MAC_ENABLE_TX | XGMAC.MAC_ENABLE_RX);
  assert.equal(r32(d, XGMAC.DMA_CONTROL), XGMAC.DMA_CONTROL_ST | XGMAC.DMA_CONTROL_SR);
  assert.equal(r32(d, XGMAC.DMA_INTR_ENA), 0x10040);
  assert.equal(r32(d, XGMAC.DMA_RX_BASE_ADDR), 0x100000);
  assert.equal(d.activity.running, true);
  // the level IRQ fired once and is automasked; its eventfd counted it
  assert.deepEqual(d.activity.masked, [true, false, false]);
  assert.equal(eventfdRead(findOwner(m, 'qemu')!, `${ETH}.irq0`), 1);
  refused(() => eventfdRead(findOwner(m, 'qemu')!, `${ETH}.irq0`), 'EAGAIN');
  // the DMA record is in qemu's memory
  const mem = readMemory(findOwner(m, 'qemu')!, 0x100000n, 16);
  assert.equal(Buffer.from(mem.subarray(4)).toString('latin1'), 'fff51000.eth');
  resetIoctl(m, rec, d, 'qemu');
  assert.equal(r32(d, XGMAC.DMA_INTR_ENA), 0);
  assert.equal(r32(d, XGMAC.DMA_CONTROL), 0);
  assert.equal(r32(d, XGMAC.CONTROL), 0);
  // the module does not clear DMA_STATUS: RI|NIS are still set, but nothing is enabled, so no IRQ
  assert.equal(r32(d, XGMAC.DMA_STATUS), XGMAC.DMA_STATUS_RI | XGMAC.DMA_STATUS_NIS);
  assert.equal(d.activity.running, false);
});

test('a device with no reset function keeps running after its owner dies: stale level IRQ at trigger time, DMA into the next owner\'s fresh mapping', () => {
  const m = bootFixture();
  const CLONE = '70000000.clone';
  pass(m, [CLONE], { reset_required: '0' });
  const d = dev(m, CLONE);
  vfioOpen(m, rec, d, 'vm1');
  startDevice(m, rec, d, 'vm1');
  killOwner(m, rec, 'vm1');
  assert.match(logText(m), /vfio-platform 70000000\.clone: VFIO: no reset function found!/);
  advance(m); // nobody owns the group: the DMA faults
  assert.match(logText(m), /arm-smmu fff00000\.iommu: Unhandled context fault: fsr=0x402, iova=0x001000[0-9a-f]0,/);
  const faults = d.activity.dmaFaults;
  assert.ok(faults > 0);
  const o = vfioOpen(m, rec, d, 'vm2');
  assert.deepEqual(o.stale?.irqs, [1]);
  assert.equal(o.reset, false);
  // still running, as read through vm2's fd
  assert.equal(regionRead(m, rec, d, { region: 0, offset: BigInt(XGMAC.DMA_CONTROL), width: 4, mmap: false }).value, '0x2002');
  // time passes before vm2 programs anything: the DMA lands in vm2's freshly mapped buffer
  advance(m);
  const mem = readMemory(findOwner(m, 'vm2')!, 0x100000n, 0x100);
  assert.ok(mem.some((b) => b !== 0), 'the previous owner\'s device wrote into vm2\'s memory');
  assert.equal(d.activity.dmaFaults, faults);
  // the first trigger vm2 sets fires at once: the line is still asserted
  const fired = setIrqs(m, rec, d, findOwner(m, 'vm2')!, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_EVENTFD | IRQ_SET.ACTION_TRIGGER, eventfd: 'rx' });
  assert.deepEqual(fired, [0]);
  assert.equal(findOwner(m, 'vm2')!.eventfds!['rx'], 1);
});

test('a device with a reset module is stopped after its owner dies; its next owner sees no IRQ and clean memory', () => {
  const m = bootTree('default');
  const ETH = 'fff51000.ethernet';
  pass(m, [ETH]);
  const d = dev(m, ETH);
  vfioOpen(m, rec, d, 'vm1');
  startDevice(m, rec, d, 'vm1');
  killOwner(m, rec, 'vm1');
  assert.equal(d.activity.running, false);
  advance(m);
  const o = vfioOpen(m, rec, d, 'vm2');
  assert.equal(o.stale, null);
  advance(m);
  assert.ok(readMemory(findOwner(m, 'vm2')!, 0x100000n, 0x100).every((b) => b === 0));
  const fired = setIrqs(m, rec, d, findOwner(m, 'vm2')!, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_EVENTFD | IRQ_SET.ACTION_TRIGGER, eventfd: 'rx' });
  assert.deepEqual(fired, []);
  assert.doesNotMatch(logText(m), /Unhandled context fault/);
});

test('region read/write: the checks and the MMIO split of vfio_platform_read/write, and the mmap refusals', () => {
  const m = bootFixture();
  const U = '72000000.unaligned';
  pass(m, [U]);
  const d = dev(m, U);
  vfioOpen(m, rec, d, 'a');
  const acc = (region: number, offset: number, width: 1 | 2 | 4 | 8, mmap = false) => ({ region, offset: BigInt(offset), width, mmap });
  // no such region, past the end
  refused(() => regionRead(m, rec, d, acc(2, 0, 4)), 'EINVAL', /region index 2 does not exist/);
  refused(() => regionRead(m, rec, d, acc(0, 0x400, 4)), 'EINVAL', /past the end/);
  refused(() => regionWrite(m, rec, d, acc(0, 0x400, 4), 1n), 'EINVAL', /past the end/);
  // short read at the end of the region; an 8-byte access at offset 2 is 2 + 4 + 2
  assert.equal(regionRead(m, rec, d, acc(0, 0x3fe, 8)).bytes, 2);
  assert.deepEqual(regionRead(m, rec, d, acc(0, 2, 8)).ops.map((x) => x.split('(')[0]), ['ioread16', 'ioread32', 'ioread16']);
  // writes: the generic block's INT_ENABLE, byte-wide
  regionWrite(m, rec, d, acc(0, 0x8, 1), 0x1n);
  assert.equal(r32(d, 0x8), 1);
  // a read-only region refuses pwrite and PROT_WRITE
  d.regions[1]!.readOnly = true;
  refused(() => regionWrite(m, rec, d, acc(1, 0, 4), 1n), 'EINVAL', /no WRITE flag/);
  refused(() => regionWrite(m, rec, d, acc(1, 0, 4, true), 1n), 'EINVAL', /PROT_WRITE/);
  assert.equal(regionRead(m, rec, d, acc(1, 0, 4, true)).bytes, 4);
  // region 0 is 0x400 bytes: no MMAP flag
  refused(() => regionRead(m, rec, d, acc(0, 0, 4, true)), 'EINVAL', /no MMAP flag/);
  // through a mapping an unaligned access is a bus error, not a split
  refused(() => regionRead(m, rec, d, acc(1, 2, 4, true)), 'EFAULT', /SIGBUS/);
  // the index may also come from the offset: region 0 + (1 << 40) is region 1
  assert.equal(regionRead(m, rec, d, { region: 0, offset: 1n << 40n, width: 4, mmap: false }).pos, '0x10000000000');
});

test('SET_IRQS: index/start/count checks, MASK/UNMASK only on level IRQs, ENOTTY for no action, disable, loopback, automask until the cause is cleared', () => {
  const m = bootTree('default');
  const ETH = 'fff51000.ethernet';
  const DMA = 'fff52000.dma';
  pass(m, [ETH, DMA], { reset_required: '0' });
  const e = dev(m, ETH);
  const q = dev(m, DMA);
  vfioOpen(m, rec, e, 'o');
  vfioOpen(m, rec, q, 'p');
  const o = findOwner(m, 'o')!;
  const p = findOwner(m, 'p')!;
  const T = IRQ_SET.DATA_EVENTFD | IRQ_SET.ACTION_TRIGGER;
  refused(() => setIrqs(m, rec, e, o, { index: 3, start: 0, count: 1, flags: T, eventfd: 'x' }), 'EINVAL', /does not exist/);
  refused(() => setIrqs(m, rec, e, o, { index: 0, start: 1, count: 3, flags: T, eventfd: 'x' }), 'EINVAL', /goes past/);
  refused(() => setIrqs(m, rec, e, o, { index: 0, start: 0, count: 2, flags: T, eventfd: 'x' }), 'EINVAL', /start 0 and count 1/);
  refused(() => setIrqs(m, rec, e, o, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_NONE | IRQ_SET.DATA_BOOL | IRQ_SET.ACTION_TRIGGER }), 'EINVAL', /exactly one/);
  refused(() => setIrqs(m, rec, e, o, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_NONE }), 'ENOTTY');
  refused(() => setIrqs(m, rec, e, o, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_NONE | IRQ_SET.ACTION_MASK | IRQ_SET.ACTION_UNMASK }), 'ENOTTY');
  refused(() => setIrqs(m, rec, q, p, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_NONE | IRQ_SET.ACTION_MASK }), 'EINVAL', /edge-triggered/);
  // loopback: DATA_NONE trigger fires the handler in software
  setIrqs(m, rec, q, p, { index: 0, start: 0, count: 1, flags: T, eventfd: 'ev' });
  assert.deepEqual(setIrqs(m, rec, q, p, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_NONE | IRQ_SET.ACTION_TRIGGER }), [0]);
  assert.equal(eventfdRead(p, 'ev'), 1);
  // disable (count 0, DATA_NONE): the trigger is gone
  setIrqs(m, rec, q, p, { index: 0, start: 0, count: 0, flags: IRQ_SET.DATA_NONE | IRQ_SET.ACTION_TRIGGER });
  assert.equal(q.vfio!.triggers![0], null);
  // level: automasked after it fired; unmask while still asserted fires again; after the W1C write it stays quiet
  startDevice(m, rec, e, 'o');
  assert.equal(e.activity.masked[0], true);
  const ev = `${ETH}.irq0`;
  assert.equal(eventfdRead(o, ev), 1);
  advance(m);
  refused(() => eventfdRead(o, ev), 'EAGAIN'); // masked: nothing more
  assert.deepEqual(setIrqs(m, rec, e, o, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_NONE | IRQ_SET.ACTION_UNMASK }), [0]);
  assert.equal(eventfdRead(o, ev), 1);
  regionWrite(m, rec, e, { region: 0, offset: BigInt(XGMAC.DMA_STATUS), width: 4, mmap: false }, BigInt(XGMAC.DMA_STATUS_RI | XGMAC.DMA_STATUS_NIS));
  assert.equal(r32(e, XGMAC.DMA_STATUS), 0);
  assert.deepEqual(setIrqs(m, rec, e, o, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_NONE | IRQ_SET.ACTION_UNMASK }), []);
  // MASK with DATA_BOOL 0 does nothing; with 1 it masks
  setIrqs(m, rec, e, o, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_BOOL | IRQ_SET.ACTION_MASK, bool: false });
  assert.equal(e.activity.masked[0], false);
  setIrqs(m, rec, e, o, { index: 0, start: 0, count: 1, flags: IRQ_SET.DATA_BOOL | IRQ_SET.ACTION_MASK, bool: true });
  assert.equal(e.activity.masked[0], true);
  refused(() => eventfdRead(o, 'nosuch'), 'EBADF');
});

test('MAP_DMA / UNMAP_DMA: type1\'s alignment, protection, overlap, reserved-range and entry-limit checks; v1 unmap semantics; unmapped DMA faults', () => {
  const m = bootTree('default');
  const ETH = 'fff51000.ethernet';
  pass(m, [ETH]);
  const d = dev(m, ETH);
  vfioOpen(m, rec, d, 'o');
  const o = findOwner(m, 'o')!;
  const RW = DMA_MAP_FLAG.READ | DMA_MAP_FLAG.WRITE;
  const map = (iova: bigint, size: bigint, flags = RW, exec = false) => mapDma(m, rec, o, iova, size, flags, { exec });
  assert.deepEqual(o.dma!.mappings, [{ iova: '0x100000', size: '0x100000', flags: 3 }]); // the window open maps
  refused(() => map(0x200800n, 0x1000n), 'EINVAL', /multiples/);
  refused(() => map(0x200000n, 0x800n), 'EINVAL', /multiples/);
  refused(() => map(0x200000n, 0n), 'EINVAL', /size 0/);
  refused(() => map(0x200000n, 0x1000n, 0), 'EINVAL', /no READ or WRITE/);
  refused(() => map(0x200000n, 0x1000n, RW | DMA_MAP_FLAG.EXEC), 'EINVAL', /unknown flag/);
  refused(() => map(0x1ff000n, 0x2000n), 'EEXIST', /overlaps the mapping at 0x100000/);
  refused(() => map(0x8000000n, 0x1000n), 'EINVAL', /reserves 0x8000000-0x80fffff/);
  refused(() => map(1n << 48n, 0x1000n), 'EINVAL', /48-bit/);
  refused(() => map(0xfffffffffffff000n, 0x2000n), 'EINVAL', /wraps/);
  // EXEC only under the what-if
  assert.equal(map(0x300000n, 0x1000n, RW | DMA_MAP_FLAG.EXEC, true).flags, 7);
  // unmap: alignment, v1's "a range starting inside a mapping stops there", whole mappings
  refused(() => unmapDma(m, rec, o, 0x300800n, 0x1000n), 'EINVAL');
  refused(() => unmapDma(m, rec, o, 0x300000n, 0n), 'EINVAL');
  assert.equal(unmapDma(m, rec, o, 0x180000n, 0x1000n), 0n);
  assert.equal(unmapDma(m, rec, o, 0x100000n, 0x1000n), 0x100000n); // the whole 1 MiB mapping
  assert.deepEqual(o.dma!.mappings.map((x) => x.iova), ['0x300000']);
  // the device now DMAs to an unmapped IOVA: an IOMMU fault, nothing written
  startDevice(m, rec, d, 'o');
  assert.match(logText(m), /arm-smmu fff00000\.iommu: Unhandled context fault: fsr=0x402, iova=0x00100000,/);
  assert.equal(d.activity.dmaWrites, 0);
  refused(() => readMemory(o, 0x100000n, 16), 'EFAULT');
  // a read-only mapping is no place for a device write either
  map(0x100000n, 0x1000n, DMA_MAP_FLAG.READ);
  advance(m);
  assert.equal(d.activity.dmaWrites, 0);
  // the entry limit
  for (let i = o.dma!.mappings.length; i < MAX_MAPPINGS; i++) map(0x10000000n + BigInt(i) * 0x1000n, 0x1000n);
  refused(() => map(0x20000000n, 0x1000n), 'ENOSPC');
});

test('resets that fail: reset_required fails the open with the kernel\'s line and errno; XGBE warns and returns 0; FlexRM returns -ETIMEDOUT', () => {
  const m = bootFixture();
  const ETH = '71000000.ethernet'; // vfioctl,fault = "reset-fails" in the tree
  const XG = 'e0700000.xgbe';
  const FR = '67000000.flexrm';
  pass(m, [ETH, XG, FR]);
  const e = dev(m, ETH);
  assert.deepEqual(e.faults, ['reset-fails']);
  const refcnt = (): number => m.modules.find((x) => x.name === 'vfio_platform')!.holders.length;
  const before = refcnt();
  refused(() => vfioOpen(m, rec, e, 'qemu'), 'ENOMEM');
  assert.match(logText(m), /vfio-platform 71000000\.ethernet: reset driver is required and reset call failed in open \(-12\) $/m);
  assert.equal(e.vfio!.openCount, 0);
  assert.equal(findOwner(m, 'qemu'), undefined);
  assert.equal(refcnt(), before, 'the module reference is given back');
  // XGBE: a PHY that stays in reset and a MAC that never leaves SW reset: two warnings, rc 0, and the MAC still runs
  const x = dev(m, XG);
  vfioOpen(m, rec, x, 'a');
  startDevice(m, rec, x, 'a');
  x.faults = ['phy-timeout', 'mac-reset-fails'];
  resetIoctl(m, rec, x, 'a');
  const t = logText(m);
  assert.match(t, /vfio-platform e0700000\.xgbe: vfio_platform_amdxgbe_reset: XGBE PHY reset timeout\n.*vfio-platform e0700000\.xgbe: vfio_platform_amdxgbe_reset: MAC SW reset failed/);
  assert.equal(r32(x, XGBE.DMA_MR), 1);
  assert.equal(x.activity.running, true, 'the MAC was not reset');
  // the PCS side of the reset went through the select register: AN disabled, AN interrupts masked
  delete x.faults;
  resetIoctl(m, rec, x, 'a');
  assert.equal(x.activity.running, false);
  assert.equal(r32(x, XGBE.MAC_VR), 0x101a);
  // FlexRM: the flush handshake times out on every ring; VFIO_DEVICE_RESET returns -ETIMEDOUT
  const f = dev(m, FR);
  vfioOpen(m, rec, f, 'b');
  startDevice(m, rec, f, 'b');
  assert.equal(r32(f, FLEXRM.RING_VER + FLEXRM.RING_REGS_SIZE * 3), FLEXRM.RING_VER_MAGIC);
  f.faults = ['ring-timeout'];
  refused(() => resetIoctl(m, rec, f, 'b'), 'ETIMEDOUT');
  for (let r = 0; r < 4; r++) assert.match(logText(m), new RegExp(`vfio-platform 67000000\\.flexrm: FlexRM ring${r} shutdown error -110`));
  assert.equal(f.activity.running, false, 'the ring was deactivated before the flush timed out');
  // the last close with the failing reset: the WARN and the release line; the device goes back all the same
  vfioClose(m, rec, f, 'b');
  assert.match(logText(m), /WARNING: CPU: 0 PID: \d+ at drivers\/vfio\/platform\/vfio_platform_common\.c vfio_platform_close_device/);
  assert.match(logText(m), /reset driver is required and reset call failed in release \(-110\) $/m);
  assert.equal(f.vfio!.openCount, 0);
});

test('reset-fails with reset_required=0: the open succeeds and the device is handed out unreset', () => {
  const m = bootFixture();
  const ETH = '71000000.ethernet';
  pass(m, [ETH], { reset_required: '0' });
  const r = vfioOpen(m, rec, dev(m, ETH), 'q');
  assert.equal(r.reset, false);
  assert.doesNotMatch(logText(m), /reset call failed/);
});

test('stop is the owner\'s quiescing writes: a read shows the engine stopped', () => {
  const m = bootFixture();
  const CLONE = '70000000.clone';
  pass(m, [CLONE], { reset_required: '0' });
  const d = dev(m, CLONE);
  vfioOpen(m, rec, d, 'a');
  startDevice(m, rec, d, 'a');
  stopDevice(m, rec, d, 'a');
  assert.equal(r32(d, XGMAC.CONTROL), 0);
  assert.equal(d.activity.running, false);
});

test('11.9: a short-lived fd for info is a first open and a last close; EBUSY while held, EPERM when not viable, ENOENT without /dev/vfio/N, ENODEV off VFIO', () => {
  const m = bootTree('default');
  const ETH = 'fff51000.ethernet';
  pass(m, [ETH, 'fff60000.crypto'], { reset_required: '0' });
  const n = m.log.length;
  withTransientFd(m, rec, dev(m, ETH), () => 0);
  const lines = m.log.slice(n).map((l) => l.text).filter((t) => t.includes('VFIO: reset'));
  assert.equal(lines.length, 2);
  assert.equal(m.owners.length, 0, 'the query process is gone');
  assert.equal(dev(m, ETH).vfio!.openCount, 0);
  vfioOpen(m, rec, dev(m, ETH), 'qemu');
  refused(() => withTransientFd(m, rec, dev(m, ETH), () => 0), 'EBUSY');
  refused(() => withTransientFd(m, rec, dev(m, 'fff60000.crypto'), () => 0), 'EPERM', /fff61000\.rng is bound to host driver acme-rng/);
  refused(() => withTransientFd(m, rec, dev(m, 'fff52000.dma'), () => 0), 'ENOENT');
  // group 2 has a node (crypto is on vfio-platform), but rng is on its host driver: GET_DEVICE_FD → ENODEV after EPERM would… so unbind rng first
  vwrite(sysRoot(m), '/sys/bus/platform/drivers/acme-rng/unbind', 'fff61000.rng\n');
  refused(() => withTransientFd(m, rec, dev(m, 'fff61000.rng'), () => 0), 'ENODEV');
  refused(() => withTransientFd(m, rec, dev(m, 'fff70000.watchdog'), () => 0), 'ENODEV', /no IOMMU group/);
});

test('tree properties: vfioctl,registers picks a model, vfioctl,fault injects faults; bad values are tree errors', () => {
  const m = bootFixture();
  assert.equal(dev(m, '70000000.clone').registerModel, 'xgmac');
  const node = { name: 'x@0', parent: null, children: [], properties: [{ name: 'vfioctl,registers', value: new TextEncoder().encode('dma330\0') }] };
  assert.throws(() => hwFromNode(node, 'f.yaml'), (e: unknown) => e instanceof TreeError && /must be one of generic, xgmac, amd-xgbe, flexrm/.test(e.message));
  const node2 = { name: 'x@0', parent: null, children: [], properties: [{ name: 'vfioctl,fault', value: new TextEncoder().encode('reset-fails\0melts\0') }] };
  assert.throws(() => hwFromNode(node2, 'f.yaml'), (e: unknown) => e instanceof TreeError && /not "melts"/.test(e.message));
});
