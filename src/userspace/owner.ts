/**
 * Simulated user-space VFIO owners (a VMM or DPDK-style driver): the processes that
 * make the container / group / device-fd calls of Documentation/driver-api/vfio.rst,
 * close them, or die abnormally, when the kernel releases every fd the process held.
 * The kernel side of each call lives in src/vfio/ (container, group, device, reset).
 */
import type { Machine, Device, Owner } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { containerOpen, containerSetIommu, IOVA_WINDOW } from '../vfio/container.js';
import { deviceGroup, groupOpen, groupSetContainer, groupRelease, findLiveOwner } from '../vfio/group.js';
import { deviceOpen, deviceRelease, requireVfioDevice, heldDeviceFd, deviceResetIoctl, unmaskIrq as setIrqsUnmask } from '../vfio/device.js';
import type { Recorder } from '../vfio/recorder.js';
import { runFor } from './activity.js';

export type { Recorder } from '../vfio/recorder.js';
export { IOVA_WINDOW } from '../vfio/container.js';
export { advance } from './activity.js';

export function findOwner(m: Machine, name: string): Owner | undefined {
  return findLiveOwner(m, name);
}

export interface OpenReport {
  owner: string;
  pid: number;
  group: number;
  firstOpen: boolean;
  reset: boolean;
  /** interrupts and DMA left running by a previous owner, seen by this one before it set anything up */
  stale: { irqs: number[]; dmaRunning: boolean; previousOwner: string | null } | null;
}

/** The owner process opens the container, the group, attaches it, sets the IOMMU, gets the device fd. */
export function vfioOpen(m: Machine, rec: Recorder, dev: Device, ownerName: string): OpenReport {
  containerOpen(m, rec);
  requireVfioDevice(dev);
  const g = deviceGroup(m, dev, '/dev/vfio');
  let owner = findOwner(m, ownerName);
  const hadGroup = owner?.groups.includes(g.id) ?? false;
  if (!hadGroup) groupOpen(m, rec, g, ownerName, dev.name);
  const newOwner = !owner;
  if (!owner) {
    owner = { name: ownerName, pid: m.nextPid++, alive: true, groups: [], devices: [], iova: { ...IOVA_WINDOW } };
  }
  if (!hadGroup) {
    groupSetContainer(m, rec, g);
    containerSetIommu(rec, owner.iova);
  }
  const r = deviceOpen(m, rec, dev);
  if (!hadGroup) owner.groups.push(g.id);
  owner.devices.push(dev.name);
  if (newOwner) m.owners.push(owner);
  g.owner = owner.name;
  return { owner: owner.name, pid: owner.pid, group: g.id, ...r };
}

/** close(device) of one fd of `owner` on `dev`; then the group file if nothing of it is held. */
export function releaseDevice(m: Machine, dev: Device, owner: Owner): void {
  const i = owner.devices.indexOf(dev.name);
  if (i < 0 || !dev.vfio) return;
  owner.devices.splice(i, 1);
  deviceRelease(m, dev);
  groupRelease(m, owner);
  if (owner.devices.length === 0 && owner.groups.length === 0) m.owners = m.owners.filter((o) => o !== owner);
}

export function vfioClose(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): Owner {
  const owner = ownerName ? findOwner(m, ownerName) : m.owners.find((o) => o.alive && o.devices.includes(dev.name));
  if (!owner || !owner.devices.includes(dev.name)) {
    throw new KernelError('EBADF', {
      op: 'exec',
      message: `${ownerName ? `owner '${ownerName}'` : 'no owner'} holds no device fd for ${dev.name}`,
      hint: `owners: ${m.owners.map((o) => `${o.name} (${o.devices.join(', ')})`).join('; ') || 'none'}`,
    });
  }
  const last = dev.vfio!.openCount === 1;
  rec.run('close(device)', last ? 'last close: the kernel resets the device and frees its IRQs and regions' : 'not the last fd: nothing else happens', () => releaseDevice(m, dev, owner));
  return owner;
}

/** Abnormal termination: do_exit closes every fd; the release path is the same as close. */
export function killOwner(m: Machine, rec: Recorder, name: string): { owner: Owner; released: string[] } {
  const owner = findOwner(m, name);
  if (!owner) {
    throw new KernelError('ENOENT', {
      op: 'exec',
      path: name,
      message: `kill: no owner named '${name}' (no such process)`,
      hint: `owners: ${m.owners.map((o) => o.name).join(', ') || 'none'}`,
    });
  }
  const released = [...owner.devices];
  rec.run(`kill -9 ${owner.pid}   # ${owner.name}`, 'the process dies; the kernel closes its device, group and container fds', () => {
    owner.alive = false;
    for (const d of released) {
      const dev = m.devices.find((x) => x.name === d);
      if (dev) releaseDevice(m, dev, owner);
    }
    for (const gid of owner.groups) {
      const g = m.groups.find((x) => x.id === gid);
      if (g && g.owner === owner.name) g.owner = null;
    }
    m.owners = m.owners.filter((o) => o !== owner);
  });
  return { owner, released };
}

/** The owner programs the device: DMA into its mapped window, interrupts enabled. */
export function startDevice(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): Owner {
  const owner = heldDeviceFd(m, dev, ownerName);
  rec.record(`ioctl(device, VFIO_DEVICE_SET_IRQS, {index=0.., ACTION_TRIGGER|DATA_EVENTFD})`, 'wire each IRQ index to an eventfd', 'ok');
  rec.record(`pwrite(device, <start bits>, region 0 @ 0x0)`, `program the device through its MMIO region: DMA into iova ${owner.iova.start}`, 'ok');
  dev.activity.running = true;
  dev.activity.iova = { ...owner.iova };
  dev.activity.programmedBy = owner.name;
  runFor(m, dev, 1);
  return owner;
}

export function stopDevice(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): Owner {
  const owner = heldDeviceFd(m, dev, ownerName);
  rec.record(`pwrite(device, <stop bits>, region 0 @ 0x0)`, 'the owner quiesces its device before it lets go: the clean way', 'ok');
  dev.activity.running = false;
  return owner;
}

export function resetIoctl(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): void {
  deviceResetIoctl(m, rec, dev, ownerName);
}

export function unmaskIrq(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined, index: number): void {
  setIrqsUnmask(m, rec, dev, ownerName, index);
}
