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
import { step, syncActivity } from './engine.js';
import { modelOf } from './registers.js';
import { mapDma, DMA_MAP_FLAG } from '../vfio/dma.js';
import { setIrqs, IRQ_SET } from '../vfio/irq.js';
import { regionWrite } from '../vfio/rw.js';

export type { Recorder } from '../vfio/recorder.js';
export { IOVA_WINDOW } from '../vfio/container.js';
export { advance } from './engine.js';

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
    containerSetIommu(rec);
    if (!owner.dma?.mappings.length) mapDma(m, rec, owner, BigInt(owner.iova.start), BigInt(owner.iova.size), DMA_MAP_FLAG.READ | DMA_MAP_FLAG.WRITE, { exec: false });
  }
  requireVfioDevice(dev); // GET_DEVICE_FD of a device on no VFIO driver: ENODEV
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
  deviceRelease(m, dev, owner.pid);
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

export interface StartReport {
  owner: Owner;
  /** IRQ indexes that fired the moment their trigger was set, before the device was programmed */
  staleFired: number[];
  writes: { name: string; offset: string; value: string }[];
}

/**
 * The owner's driver programs the device: an eventfd trigger per IRQ index
 * (VFIO_DEVICE_SET_IRQS), then the register writes of its model (DMA address, interrupt
 * enable, run bits) through pwrite on the device fd. The device runs one step at once.
 */
export function startDevice(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): StartReport {
  const owner = heldDeviceFd(m, dev, ownerName);
  const staleFired: number[] = [];
  for (let i = 0; i < dev.irqs.length; i++) {
    staleFired.push(...setIrqs(m, rec, dev, owner, { index: i, start: 0, count: 1, flags: IRQ_SET.DATA_EVENTFD | IRQ_SET.ACTION_TRIGGER, eventfd: `${dev.name}.irq${i}` }));
  }
  const writes = modelOf(dev).start(dev, BigInt(owner.iova.start));
  for (const w of writes) regionWrite(m, rec, dev, { region: w.region, offset: BigInt(w.offset), width: 4, mmap: false }, BigInt(w.value), `program ${w.name} (region ${w.region} + 0x${w.offset.toString(16)})`);
  dev.activity.programmedBy = owner.name;
  syncActivity(m, dev);
  step(m, dev);
  return { owner, staleFired, writes: writes.map((w) => ({ name: w.name, offset: '0x' + w.offset.toString(16), value: '0x' + w.value.toString(16) })) };
}

/** The owner quiesces its device: the stop writes of its model. */
export function stopDevice(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): Owner {
  const owner = heldDeviceFd(m, dev, ownerName);
  for (const w of modelOf(dev).stop(dev)) regionWrite(m, rec, dev, { region: w.region, offset: BigInt(w.offset), width: 4, mmap: false }, BigInt(w.value), `quiesce: ${w.name} (region ${w.region} + 0x${w.offset.toString(16)})`);
  syncActivity(m, dev);
  return owner;
}

export function resetIoctl(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): void {
  deviceResetIoctl(m, rec, dev, ownerName);
}

export function unmaskIrq(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined, index: number): number[] {
  return setIrqsUnmask(m, rec, dev, ownerName, index);
}

/** The owner holding a device fd on `dev` that a device-fd command acts through (EBADF when none). */
export function fdOwner(m: Machine, dev: Device, ownerName: string | undefined): Owner {
  return heldDeviceFd(m, dev, ownerName);
}

/**
 * A short-lived process that opens the device only to ask it something (info, regions,
 * irqs): the whole container/group/device sequence, then close. On a device nobody has
 * open that is a first open and a last close, each with its reset. The group must not be
 * held by another owner (EBUSY) and must be viable (EPERM), as for any open.
 */
export function withTransientFd<T>(m: Machine, rec: Recorder, dev: Device, fn: () => T): T {
  const name = `vfioctl-query`;
  vfioOpen(m, rec, dev, name);
  const owner = findOwner(m, name)!;
  try {
    return fn();
  } finally {
    rec.run('close(device); close(group); close(container)', 'the query is done: its last close resets the device again', () => releaseDevice(m, dev, owner));
  }
}
