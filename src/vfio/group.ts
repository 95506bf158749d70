/**
 * The VFIO group file /dev/vfio/<N> (drivers/vfio/group.c): its exclusive open,
 * VFIO_GROUP_GET_STATUS and VFIO_GROUP_SET_CONTAINER, which claims DMA ownership
 * of the whole group (iommu_group_claim_dma_owner) and so fails while a kernel
 * driver uses any member.
 */
import type { Machine, Device, Owner, IommuGroup } from '../base/machine.js';
import { findGroup } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { isViable, viabilityReason, hasVfioNode } from '../iommu/group.js';
import type { Recorder } from './recorder.js';

export function findLiveOwner(m: Machine, name: string): Owner | undefined {
  return m.owners.find((o) => o.name === name && o.alive);
}

/** The device's IOMMU group, or ENODEV (a device with no group has no /dev/vfio node). */
export function deviceGroup(m: Machine, dev: Device, path: string): IommuGroup {
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  if (!g) throw new KernelError('ENODEV', { op: 'open', path, hint: `${dev.name} has no IOMMU group` });
  return g;
}

/** vfio_group_fops_open: one open at a time (EBUSY), and the node must exist (ENOENT). */
export function groupOpen(m: Machine, rec: Recorder, g: IommuGroup, ownerName: string, device: string): void {
  const gpath = `/dev/vfio/${g.id}`;
  const holder = g.owner !== null ? findLiveOwner(m, g.owner) : undefined;
  if (holder && holder.name !== ownerName) {
    rec.record(`open("${gpath}", O_RDWR)`, 'the group file is exclusive: one open at a time', 'EBUSY');
    throw new KernelError('EBUSY', {
      op: 'open',
      path: gpath,
      hint: `group ${g.id} is held by owner '${holder.name}' (pid ${holder.pid})`,
      reason: { kind: 'group-held', group: g.id, owner: holder.name, pid: holder.pid, device },
    });
  }
  if (!hasVfioNode(m, g)) throw new KernelError('ENOENT', { op: 'open', path: gpath });
}

/** VFIO_GROUP_GET_STATUS then VFIO_GROUP_SET_CONTAINER: EPERM while the group is not viable. */
export function groupSetContainer(m: Machine, rec: Recorder, g: IommuGroup): void {
  const gpath = `/dev/vfio/${g.id}`;
  rec.record(`open("${gpath}", O_RDWR) = group`, `the group, not the device, is the unit of ownership`, 'ok');
  const viable = isViable(m, g);
  rec.record(`ioctl(group, VFIO_GROUP_GET_STATUS) → flags=0x${viable ? '1' : '0'}${viable ? ' (VIABLE)' : ''}`, 'viable = every device of the group is unbound or on a VFIO driver', viable ? '0x1' : '0x0');
  if (!viable) {
    rec.record('ioctl(group, VFIO_GROUP_SET_CONTAINER, &container)', 'claiming DMA ownership fails while a host driver uses the group', 'EPERM');
    const why = viabilityReason(m, g) ?? '';
    throw new KernelError('EPERM', {
      op: 'ioctl',
      path: gpath,
      message: `VFIO_GROUP_SET_CONTAINER: Operation not permitted (group ${g.id} is not viable)`,
      hint: why,
      reason: { kind: 'group-not-viable', group: g.id, why },
    });
  }
  rec.record('ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) = 0', 'attach the group: user space now owns DMA for every device in it', 'ok');
}

/** The group fd closes once no device of the group is held by `owner` any more. */
export function groupRelease(m: Machine, owner: Owner): void {
  for (const gid of [...owner.groups]) {
    const g = findGroup(m, gid);
    if (!g) continue;
    if (!owner.devices.some((n) => g.devices.includes(n))) {
      owner.groups = owner.groups.filter((x) => x !== gid);
      if (g.owner === owner.name) g.owner = null;
    }
  }
}
