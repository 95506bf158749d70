/**
 * Simulated user-space VFIO owners (a VMM or DPDK-style driver): the container /
 * group / device-fd sequence of Documentation/driver-api/vfio.rst, first-open and
 * last-close reset (vfio_platform_open_device / close_device), VFIO_DEVICE_RESET,
 * and abnormal termination, where the kernel releases every fd the process held.
 */
import type { Machine, Device, Owner, IommuGroup } from '../base/machine.js';
import { findGroup } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { printk } from '../klog/klog.js';
import { isViable, viabilityReason, hasVfioNode } from '../iommu/group.js';
import { moduleGet, modulePut, isLoaded } from '../base/module.js';
import { irqInfo } from '../vfio/info.js';

/** Something that records each step (the CLI's Sys) */
export interface Recorder {
  run<T>(command: string, why: string, fn: () => T): T;
  record(command: string, why: string, result?: string): unknown;
}

export const IOVA_WINDOW = { start: '0x100000', size: '0x100000' };

export function findOwner(m: Machine, name: string): Owner | undefined {
  return m.owners.find((o) => o.name === name && o.alive);
}

function deviceGroup(m: Machine, dev: Device, path: string): IommuGroup {
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  if (!g) throw new KernelError('ENODEV', { op: 'open', path, hint: `${dev.name} has no IOMMU group` });
  return g;
}

/** vfio_platform_call_reset lives with the reset code (src/vfio/reset.ts). */
export { callReset } from '../vfio/reset.js';
import { callReset } from '../vfio/reset.js';

export interface OpenReport {
  owner: string;
  pid: number;
  group: number;
  firstOpen: boolean;
  reset: boolean;
  /** interrupts and DMA left running by a previous owner, seen by this one before it set anything up */
  stale: { irqs: number[]; dmaRunning: boolean; previousOwner: string | null } | null;
}

export function vfioOpen(m: Machine, rec: Recorder, dev: Device, ownerName: string): OpenReport {
  if (!isLoaded(m, 'vfio')) {
    throw new KernelError('ENOENT', { op: 'open', path: '/dev/vfio/vfio', hint: 'the vfio module is not loaded; run: vfioctl modprobe vfio-platform' });
  }
  if (!dev.vfio) {
    throw new KernelError('ENODEV', {
      op: 'ioctl',
      path: dev.iommuGroup === null ? '/dev/vfio' : `/dev/vfio/${dev.iommuGroup}`,
      message: `${dev.name} is not bound to a VFIO driver`,
      hint: `bind it first: vfioctl passthrough ${dev.name}`,
    });
  }
  const g = deviceGroup(m, dev, '/dev/vfio');
  const gpath = `/dev/vfio/${g.id}`;
  let owner = findOwner(m, ownerName);
  const holder = g.owner !== null ? findOwner(m, g.owner) : undefined;
  rec.record(`open("/dev/vfio/vfio", O_RDWR) = container`, 'a container holds the IOMMU context shared by the groups it gets', 'ok');
  rec.record('ioctl(container, VFIO_GET_API_VERSION) = 0', 'user space checks it speaks VFIO_API_VERSION 0', '0');
  rec.record('ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) = 1', 'the platform IOMMU driver offers the type1 model', '1');
  if (holder && holder.name !== ownerName) {
    rec.record(`open("${gpath}", O_RDWR)`, 'the group file is exclusive: one open at a time', 'EBUSY');
    throw new KernelError('EBUSY', {
      op: 'open',
      path: gpath,
      hint: `group ${g.id} is held by owner '${holder.name}' (pid ${holder.pid}); it must close it first: vfioctl close ${dev.name} --owner ${holder.name} (or vfioctl kill ${holder.name})`,
    });
  }
  if (!hasVfioNode(m, g)) throw new KernelError('ENOENT', { op: 'open', path: gpath });
  const newOwner = !owner;
  if (!owner) {
    owner = { name: ownerName, pid: m.nextPid++, alive: true, groups: [], devices: [], iova: { ...IOVA_WINDOW } };
  }
  const hadGroup = owner.groups.includes(g.id);
  if (!hadGroup) {
    rec.record(`open("${gpath}", O_RDWR) = group`, `the group, not the device, is the unit of ownership`, 'ok');
    const viable = isViable(m, g);
    rec.record(`ioctl(group, VFIO_GROUP_GET_STATUS) → flags=0x${viable ? '1' : '0'}${viable ? ' (VIABLE)' : ''}`, 'viable = every device of the group is unbound or on a VFIO driver', viable ? '0x1' : '0x0');
    if (!viable) {
      rec.record('ioctl(group, VFIO_GROUP_SET_CONTAINER, &container)', 'claiming DMA ownership fails while a host driver uses the group', 'EPERM');
      throw new KernelError('EPERM', {
        op: 'ioctl',
        path: gpath,
        message: `VFIO_GROUP_SET_CONTAINER: Operation not permitted (group ${g.id} is not viable)`,
        hint: `${viabilityReason(m, g)}; unbind it or bind it to vfio-platform too (vfioctl passthrough DEVICE), then check with vfioctl groups`,
      });
    }
    rec.record('ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) = 0', 'attach the group: user space now owns DMA for every device in it', 'ok');
    rec.record('ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) = 0', 'give the container an IOMMU model (needed before any device fd)', 'ok');
    rec.record(`ioctl(container, VFIO_IOMMU_MAP_DMA, {iova=${owner.iova.start}, size=${owner.iova.size}, flags=READ|WRITE}) = 0`, 'map the buffer the device may DMA into', 'ok');
  }
  // the device fd
  const firstOpen = dev.vfio.openCount === 0;
  const a = dev.activity;
  const staleIrqs = a.irqsRaised.map(() => 0);
  let stale: OpenReport['stale'] = null;
  rec.record(`ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "${dev.name}") = device`, firstOpen ? 'first open of the device: the kernel resets it before handing it out' : 'already open: only the count goes up, no reset', 'ok');
  if (firstOpen) {
    moduleGet(m, dev.driver === 'vfio-amba' ? 'vfio_amba' : 'vfio_platform', `fd:${dev.name}`);
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
  if (!hadGroup) owner.groups.push(g.id);
  owner.devices.push(dev.name);
  if (newOwner) m.owners.push(owner);
  g.owner = owner.name;
  return { owner: owner.name, pid: owner.pid, group: g.id, firstOpen, reset: firstOpen && !!dev.vfio.reset, stale };
}

/** vfio_device_fops_release for one fd of `owner` on `dev`; last close resets. */
export function releaseDevice(m: Machine, dev: Device, owner: Owner): void {
  const i = owner.devices.indexOf(dev.name);
  if (i < 0 || !dev.vfio) return;
  owner.devices.splice(i, 1);
  dev.vfio.openCount--;
  if (dev.vfio.openCount === 0) {
    const reset = callReset(m, dev);
    modulePut(m, dev.driver === 'vfio-amba' ? 'vfio_amba' : 'vfio_platform', `fd:${dev.name}`);
    if (!reset && dev.activity.running) dev.activity.iova = null; // the mapping goes with the container
  }
  // the group file goes when no device of the group is held any more
  for (const gid of [...owner.groups]) {
    const g = findGroup(m, gid);
    if (!g) continue;
    if (!owner.devices.some((n) => g.devices.includes(n))) {
      owner.groups = owner.groups.filter((x) => x !== gid);
      if (g.owner === owner.name) g.owner = null;
    }
  }
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
      const g = findGroup(m, gid);
      if (g && g.owner === owner.name) g.owner = null;
    }
    m.owners = m.owners.filter((o) => o !== owner);
  });
  return { owner, released };
}

function heldBy(m: Machine, dev: Device, ownerName: string | undefined): Owner {
  const owner = ownerName ? findOwner(m, ownerName) : m.owners.find((o) => o.alive && o.devices.includes(dev.name));
  if (!owner || !owner.devices.includes(dev.name)) {
    throw new KernelError('EBADF', {
      op: 'ioctl',
      message: `no open device fd for ${dev.name}${ownerName ? ` in owner '${ownerName}'` : ''}`,
      hint: `open it first: vfioctl open ${dev.name}${ownerName ? ` --owner ${ownerName}` : ''}`,
    });
  }
  return owner;
}

/** The owner programs the device: DMA into its mapped window, interrupts enabled. */
export function startDevice(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): Owner {
  const owner = heldBy(m, dev, ownerName);
  rec.record(`ioctl(device, VFIO_DEVICE_SET_IRQS, {index=0.., ACTION_TRIGGER|DATA_EVENTFD})`, 'wire each IRQ index to an eventfd', 'ok');
  rec.record(`pwrite(device, <start bits>, region 0 @ 0x0)`, `program the device through its MMIO region: DMA into iova ${owner.iova.start}`, 'ok');
  dev.activity.running = true;
  dev.activity.iova = { ...owner.iova };
  dev.activity.programmedBy = owner.name;
  runFor(m, dev, 1);
  return owner;
}

export function stopDevice(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): Owner {
  const owner = heldBy(m, dev, ownerName);
  rec.record(`pwrite(device, <stop bits>, region 0 @ 0x0)`, 'the owner quiesces its device before it lets go: the clean way', 'ok');
  dev.activity.running = false;
  return owner;
}

export function resetIoctl(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined): void {
  heldBy(m, dev, ownerName);
  rec.run('ioctl(device, VFIO_DEVICE_RESET)', 'ask the kernel to reset the device through its reset function', () => {
    if (!callReset(m, dev)) throw new KernelError('EINVAL', { op: 'ioctl', message: 'VFIO_DEVICE_RESET: Invalid argument', hint: `${dev.name} has no reset function (its VFIO info lacks the RESET flag 0x1)` });
  });
}

export function unmaskIrq(m: Machine, rec: Recorder, dev: Device, ownerName: string | undefined, index: number): void {
  heldBy(m, dev, ownerName);
  const info = irqInfo(dev);
  const q = info[index];
  rec.run(`ioctl(device, VFIO_DEVICE_SET_IRQS, {index=${index}, start=0, count=1, flags=DATA_NONE|ACTION_UNMASK})`, 'a level IRQ stays masked after it fired until user space unmasks it', () => {
    if (!q) throw new KernelError('EINVAL', { op: 'ioctl', message: 'VFIO_DEVICE_SET_IRQS: Invalid argument', hint: `IRQ index ${index} does not exist (num_irqs ${info.length})` });
    if (!q.level) throw new KernelError('EINVAL', { op: 'ioctl', message: 'VFIO_DEVICE_SET_IRQS: Invalid argument', hint: `IRQ index ${index} is edge-triggered: only level IRQs are MASKABLE` });
    dev.activity.masked[index] = false;
  });
}

/**
 * Time passes (one command): running devices do DMA and raise IRQs. With a live owner
 * the DMA lands in its window; with none (its owner died and nothing reset the device)
 * every DMA hits an unmapped IOVA and the IOMMU reports a fault.
 */
export function advance(m: Machine): void {
  for (const dev of m.devices) if (dev.activity.running) runFor(m, dev, 1);
}

function runFor(m: Machine, dev: Device, steps: number): void {
  const a = dev.activity;
  const info = irqInfo(dev);
  const owned = m.owners.some((o) => o.alive && o.devices.includes(dev.name));
  for (let s = 0; s < steps; s++) {
    if (owned && a.iova) a.dmaWrites += 16;
    else {
      a.dmaFaults += 1;
      iommuFault(m, dev, a.iova?.start ?? IOVA_WINDOW.start);
    }
    info.forEach((q, i) => {
      if (q.level) {
        if (!a.masked[i]) {
          a.irqsRaised[i] = (a.irqsRaised[i] ?? 0) + 1;
          a.masked[i] = true; // automasked until UNMASK
        }
      } else a.irqsRaised[i] = (a.irqsRaised[i] ?? 0) + 4;
    });
  }
}

function iommuFault(m: Machine, dev: Device, iova: string): void {
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  const iommu = g?.iommu ? m.devices.find((d) => d.of.fullName === g.iommu) : undefined;
  const who = iommu ? `${iommu.driver ?? iommu.bus} ${iommu.name}` : 'iommu';
  const addr = `0x${BigInt(iova).toString(16).padStart(8, '0')}`;
  if (iommu?.driver === 'arm-smmu') printk(m, 3, `${who}: Unhandled context fault: fsr=0x402, iova=${addr}, fsynr=0x1, cbfrsynra=0x${(g?.id ?? 0).toString(16)}, cb=${g?.id ?? 0}`);
  else printk(m, 3, `${who}: Unhandled fault: iova ${addr} from ${dev.name} (DMA write to an unmapped address)`);
}

