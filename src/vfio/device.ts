/**
 * The VFIO device fd (drivers/vfio/vfio_main.c, vfio_platform_common.c): the first
 * open resets the device (vfio_platform_open_device), the last close resets it again
 * (vfio_platform_close_device), VFIO_DEVICE_RESET calls the same routine, and
 * VFIO_DEVICE_SET_IRQS (vfio_platform_irq.c) works on the IRQ indexes.
 */
import type { Machine, Device, Owner } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { findDriver, IRQ_TYPE_LEVEL_MASK } from '../base/machine.js';
import { moduleGet, modulePut } from '../base/module.js';
import { devWarn, printk, KERN_WARNING } from '../klog/klog.js';
import { callReset } from './reset.js';
import { resetRequired } from './platform.js';
import { irqReset, setIrqs, IRQ_SET } from './irq.js';
import { hwOf, modelOf } from '../userspace/registers.js';
import type { Recorder } from './recorder.js';

/** The module a device fd pins: vfio_platform or vfio_amba. */
function busModule(dev: Device): string {
  return dev.driver === 'vfio-amba' ? 'vfio_amba' : 'vfio_platform';
}

/** GET_DEVICE_FD needs a device bound to a VFIO driver (ENODEV otherwise). */
export function requireVfioDevice(dev: Device): asserts dev is Device & { vfio: NonNullable<Device['vfio']> } {
  if (dev.vfio) return;
  throw new KernelError('ENODEV', {
    op: 'ioctl',
    path: dev.iommuGroup === null ? '/dev/vfio' : `/dev/vfio/${dev.iommuGroup}`,
    message: `${dev.name} is not bound to a VFIO driver`,
    reason: { kind: 'not-vfio-bound', device: dev.name, bus: dev.bus, driver: dev.driver },
  });
}

export interface DeviceOpen {
  firstOpen: boolean;
  reset: boolean;
  /** a device still running as a previous owner left it: the IRQ indexes asserted or pending, its DMA */
  stale: { irqs: number[]; dmaRunning: boolean; previousOwner: string | null } | null;
}

/** vfio-amba never requires a reset; vfio-platform as its reset_required parameter says (kept at probe). */
function required(m: Machine, dev: Device): boolean {
  const drv = dev.driver === null ? undefined : findDriver(m, dev.bus, dev.driver);
  return drv ? resetRequired(m, drv) : false;
}

/** What a new owner inherits from a device nobody quiesced. */
function staleState(dev: Device): DeviceOpen['stale'] {
  const hw = hwOf(dev);
  const model = modelOf(dev);
  const irqs = dev.irqs.map((q, i) => ((q.trigger & IRQ_TYPE_LEVEL_MASK) !== 0 ? (model.asserted(hw, dev, i) ? 1 : 0) : hw.edgePending[i] ? 1 : 0));
  const running = model.running(hw, dev);
  if (!running && !irqs.some((x) => x)) return null;
  return { irqs, dmaRunning: running, previousOwner: dev.activity.programmedBy };
}

/**
 * VFIO_GROUP_GET_DEVICE_FD → vfio_platform_open_device: the first open takes the module,
 * sets up the IRQs (disabled, unmasked) and resets; a failing reset with reset_required
 * undoes it all and the open fails with the reset's error.
 */
export function deviceOpen(m: Machine, rec: Recorder, dev: Device): DeviceOpen {
  requireVfioDevice(dev);
  const firstOpen = dev.vfio.openCount === 0;
  let stale: DeviceOpen['stale'] = null;
  let reset = false;
  if (firstOpen) {
    moduleGet(m, busModule(dev), `fd:${dev.name}`);
    irqReset(dev);
    const r = callReset(m, dev);
    if (r.rc !== 0 && r.ran && required(m, dev)) {
      devWarn(m, dev, `reset driver is required and reset call failed in open (${r.rc}) ${r.extra}`);
      irqReset(dev);
      modulePut(m, busModule(dev), `fd:${dev.name}`);
      rec.record(`ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "${dev.name}")`, 'first open: the reset failed and vfio-platform requires one, so the device is not handed out', r.errno ?? 'EIO');
      throw new KernelError(r.errno ?? 'EIO', {
        op: 'ioctl',
        path: dev.iommuGroup === null ? '/dev/vfio' : `/dev/vfio/${dev.iommuGroup}`,
        message: `VFIO_GROUP_GET_DEVICE_FD: reset of ${dev.name} failed (${r.rc})`,
        reason: { kind: 'reset-failed-open', device: dev.name, rc: r.rc, faults: dev.faults ?? [] },
      });
    }
    reset = r.ran && r.rc === 0;
    stale = staleState(dev);
  }
  rec.record(`ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "${dev.name}") = device`, firstOpen ? 'first open of the device: the kernel resets it before handing it out' : 'already open: only the count goes up, no reset', 'ok');
  dev.vfio.openCount++;
  return { firstOpen, reset, stale };
}

/** vfio_device_fops_release → vfio_platform_close_device: the last close resets, frees the IRQs, drops the module. */
export function deviceRelease(m: Machine, dev: Device, pid: number): void {
  if (!dev.vfio) return;
  dev.vfio.openCount--;
  if (dev.vfio.openCount === 0) {
    const r = callReset(m, dev);
    if (r.rc !== 0 && r.ran && required(m, dev)) {
      printk(m, KERN_WARNING, `WARNING: CPU: 0 PID: ${pid} at drivers/vfio/platform/vfio_platform_common.c vfio_platform_close_device [vfio_platform_base]`);
      devWarn(m, dev, `reset driver is required and reset call failed in release (${r.rc}) ${r.extra}`);
    }
    irqReset(dev);
    modulePut(m, busModule(dev), `fd:${dev.name}`);
  }
}

/** An ioctl on the device fd of `owner`, which must hold one (EBADF otherwise). */
export function heldDeviceFd(m: Machine, dev: Device, ownerName: string | undefined): Owner {
  const owner = ownerName ? m.owners.find((o) => o.name === ownerName && o.alive) : m.owners.find((o) => o.alive && o.devices.includes(dev.name));
  if (!owner || !owner.devices.includes(dev.name)) {
    throw new KernelError('EBADF', {
      op: 'ioctl',
      message: `no open device fd for ${dev.name}${ownerName ? ` in owner '${ownerName}'` : ''}`,
      reason: { kind: 'no-device-fd', device: dev.name, owner: ownerName ?? null },
    });
  }
  return owner;
}

/** VFIO_DEVICE_RESET: the reset routine, EINVAL without one. */
export function deviceResetIoctl(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): void {
  heldDeviceFd(m, dev, ownerName);
  rec.run('ioctl(device, VFIO_DEVICE_RESET)', 'ask the kernel to reset the device through its reset function', () => {
    const r = callReset(m, dev);
    if (!r.ran) throw new KernelError('EINVAL', { op: 'ioctl', message: 'VFIO_DEVICE_RESET: Invalid argument', hint: `${dev.name} has no reset function (its VFIO info lacks the RESET flag 0x1)` });
    if (r.rc !== 0) {
      throw new KernelError(r.errno ?? 'EIO', { op: 'ioctl', message: `VFIO_DEVICE_RESET: the reset function of ${dev.name} failed (${r.rc})`, reason: { kind: 'reset-failed', device: dev.name, rc: r.rc, faults: dev.faults ?? [] } });
    }
  });
}

/** VFIO_DEVICE_SET_IRQS ACTION_UNMASK|DATA_NONE on one index. */
export function unmaskIrq(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined, index: number): number[] {
  const owner = heldDeviceFd(m, dev, ownerName);
  return setIrqs(m, rec, dev, owner, { index, start: 0, count: 1, flags: IRQ_SET.DATA_NONE | IRQ_SET.ACTION_UNMASK });
}
