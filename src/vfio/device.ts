/**
 * The VFIO device fd (drivers/vfio/vfio_main.c, vfio_platform_common.c): the first
 * open resets the device (vfio_platform_open_device), the last close resets it again
 * (vfio_platform_close_device), VFIO_DEVICE_RESET calls the same routine, and
 * VFIO_DEVICE_SET_IRQS (vfio_platform_irq.c) works on the IRQ indexes.
 */
import type { Machine, Device, Owner } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { moduleGet, modulePut } from '../base/module.js';
import { irqInfo } from './info.js';
import { callReset } from './reset.js';
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
  /** interrupts and DMA left running by a previous owner, seen by this one before it set anything up */
  stale: { irqs: number[]; dmaRunning: boolean; previousOwner: string | null } | null;
}

/** VFIO_GROUP_GET_DEVICE_FD → vfio_device_open: the first open takes the module and resets. */
export function deviceOpen(m: Machine, rec: Recorder, dev: Device): DeviceOpen {
  requireVfioDevice(dev);
  const firstOpen = dev.vfio.openCount === 0;
  const a = dev.activity;
  const staleIrqs = a.irqsRaised.map(() => 0);
  let stale: DeviceOpen['stale'] = null;
  rec.record(`ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "${dev.name}") = device`, firstOpen ? 'first open of the device: the kernel resets it before handing it out' : 'already open: only the count goes up, no reset', 'ok');
  if (firstOpen) {
    moduleGet(m, busModule(dev), `fd:${dev.name}`);
    const didReset = callReset(m, dev);
    if (!didReset && a.running) {
      // nothing quiesced the device: its interrupts reach the new owner's handlers at once
      irqInfo(dev).forEach((q, i) => {
        staleIrqs[i] = q.level ? 1 : 3;
        a.irqsRaised[i] = (a.irqsRaised[i] ?? 0) + staleIrqs[i]!;
        if (q.level) a.masked[i] = true;
      });
      stale = { irqs: staleIrqs, dmaRunning: true, previousOwner: a.programmedBy };
    }
  }
  dev.vfio.openCount++;
  return { firstOpen, reset: firstOpen && !!dev.vfio.reset, stale };
}

/** vfio_device_fops_release: the last close resets and drops the module reference. */
export function deviceRelease(m: Machine, dev: Device): void {
  if (!dev.vfio) return;
  dev.vfio.openCount--;
  if (dev.vfio.openCount === 0) {
    const reset = callReset(m, dev);
    modulePut(m, busModule(dev), `fd:${dev.name}`);
    if (!reset && dev.activity.running) dev.activity.iova = null; // the mapping goes with the container
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
    if (!callReset(m, dev)) throw new KernelError('EINVAL', { op: 'ioctl', message: 'VFIO_DEVICE_RESET: Invalid argument', hint: `${dev.name} has no reset function (its VFIO info lacks the RESET flag 0x1)` });
  });
}

/** VFIO_DEVICE_SET_IRQS ACTION_UNMASK|DATA_NONE on one index. */
export function unmaskIrq(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined, index: number): void {
  heldDeviceFd(m, dev, ownerName);
  const info = irqInfo(dev);
  const q = info[index];
  rec.run(`ioctl(device, VFIO_DEVICE_SET_IRQS, {index=${index}, start=0, count=1, flags=DATA_NONE|ACTION_UNMASK})`, 'a level IRQ stays masked after it fired until user space unmasks it', () => {
    if (!q) throw new KernelError('EINVAL', { op: 'ioctl', message: 'VFIO_DEVICE_SET_IRQS: Invalid argument', hint: `IRQ index ${index} does not exist (num_irqs ${info.length})` });
    if (!q.level) throw new KernelError('EINVAL', { op: 'ioctl', message: 'VFIO_DEVICE_SET_IRQS: Invalid argument', hint: `IRQ index ${index} is edge-triggered: only level IRQs are MASKABLE` });
    dev.activity.masked[index] = false;
  });
}
