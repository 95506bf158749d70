/**
 * IOMMU groups, cf. drivers/iommu/iommu.c: numbers are the lowest free id from 0,
 * members get an `iommu_group` link, and a group is viable for user space when no
 * kernel driver holds DMA-API ownership (every member unbound or on a driver with
 * driver_managed_dma, i.e. a VFIO driver). cf. iommu_device_use_default_domain,
 * iommu_group_store_type, iommu_get_group_resv_regions.
 */
import type { Machine, IommuGroup, Device } from '../base/machine.js';
import { findDevice, findDriver, findGroup } from '../base/machine.js';
import type { ErrnoName } from '../base/errno.js';
import { KernelError } from '../base/errors.js';
import { printk, KERN_INFO } from '../klog/klog.js';
import { iommuDriverOf } from './drivers.js';

export function allocGroup(m: Machine, iommu: string | null = null): IommuGroup {
  // groups are kept sorted by id: the lowest free id is the first gap, or the end
  let id = m.groups.length;
  const last = m.groups[m.groups.length - 1];
  if (last && last.id !== m.groups.length - 1) {
    id = m.groups.findIndex((g, i) => g.id !== i);
  }
  const g: IommuGroup = { id, devices: [], owner: null, type: 'DMA', iommu };
  m.groups.splice(id, 0, g);
  return g;
}

export function addDeviceToGroup(m: Machine, g: IommuGroup, dev: Device): void {
  g.devices.push(dev.name);
  dev.iommuGroup = g.id;
  printk(m, KERN_INFO, `${dev.driver ?? dev.bus} ${dev.name}: Adding to iommu group ${g.id}`);
}

/** iommu_group_remove_device: the link goes; an empty group is released (its id is free again). */
export function removeDeviceFromGroup(m: Machine, g: IommuGroup, dev: Device): void {
  printk(m, KERN_INFO, `${dev.driver ?? dev.bus} ${dev.name}: Removing from iommu group ${g.id}`);
  g.devices = g.devices.filter((n) => n !== dev.name);
  dev.iommuGroup = null;
  if (g.devices.length === 0) m.groups = m.groups.filter((x) => x !== g);
}

/** Members bound to a driver that uses the kernel DMA API (not driver_managed_dma). */
export function kernelDmaOwners(m: Machine, g: IommuGroup): Device[] {
  const out: Device[] = [];
  for (const name of g.devices) {
    const d = findDevice(m, name);
    if (!d || d.driver === null) continue;
    const drv = findDriver(m, d.bus, d.driver);
    if (!drv || drv.kind !== 'vfio') out.push(d);
  }
  return out;
}

export function isViable(m: Machine, g: IommuGroup): boolean {
  return kernelDmaOwners(m, g).length === 0;
}

/** Why a group is not viable, in one line, or null when it is. */
export function viabilityReason(m: Machine, g: IommuGroup): string | null {
  const owners = kernelDmaOwners(m, g);
  if (owners.length === 0) return null;
  return owners.map((d) => `${d.name} is bound to host driver ${d.driver}`).join('; ');
}

/** /dev/vfio/<N> exists while the vfio module is loaded and at least one member is bound to a VFIO driver. */
export function hasVfioNode(m: Machine, g: IommuGroup): boolean {
  return m.modules.some((x) => x.name === 'vfio') && g.devices.some((n) => findDevice(m, n)?.vfio != null);
}

/**
 * iommu_device_use_default_domain, called by the bus's dma_configure before a kernel
 * DMA-API driver probes: EBUSY while user space owns the group (a VFIO container is
 * attached); otherwise the driver joins the group's default domain.
 */
export function iommuDeviceUseDefaultDomain(m: Machine, dev: Device): ErrnoName | null {
  if (dev.iommuGroup === null) return null;
  const g = findGroup(m, dev.iommuGroup);
  return g && g.owner !== null ? 'EBUSY' : null;
}

/** owner_cnt of the group: kernel DMA-API drivers bound to members, or 1 while user space owns it. */
function ownerCount(m: Machine, g: IommuGroup): number {
  return g.owner !== null ? 1 : kernelDmaOwners(m, g).length;
}

/** The default domain type of a new group: the IOMMU driver's def_domain_type, else DMA (strict, arm64's default). */
export function defaultDomainType(m: Machine, iommu: string | null): string {
  return iommuDriverOf(m, iommu).defDomainType ?? 'DMA';
}

/** What a group's `type` store accepts (sysfs_streq: one trailing newline allowed). */
const REQUEST_TYPES: Record<string, string | null> = { identity: 'identity', DMA: 'DMA', 'DMA-FQ': 'DMA-FQ', auto: null };

/**
 * iommu_group_store_type: DMA → DMA-FQ is always allowed (a flush queue is added to
 * the live domain); any other change is EPERM while owner_cnt is set (a kernel DMA
 * driver bound to a member, or user space owning the group) or the group is empty;
 * an IOMMU driver that forces one type refuses the others with EINVAL.
 */
export function iommuGroupStoreType(m: Machine, g: IommuGroup, buf: string): number {
  const nul = buf.indexOf('\0');
  const s = nul >= 0 ? buf.slice(0, nul) : buf;
  const v = s.endsWith('\n') ? s.slice(0, -1) : s;
  if (!Object.hasOwn(REQUEST_TYPES, v)) throw new KernelError('EINVAL', { hint: 'the type takes identity, DMA, DMA-FQ or auto' });
  const req = REQUEST_TYPES[v]!;
  if (g.iommu === null) throw new KernelError('EINVAL', { hint: `IOMMU group ${g.id} has no default domain` });
  if (req === 'DMA-FQ' && g.type === 'DMA') {
    g.type = 'DMA-FQ';
    return buf.length;
  }
  if (g.devices.length === 0 || ownerCount(m, g) > 0) {
    throw new KernelError('EPERM', {
      hint: g.owner !== null
        ? `IOMMU group ${g.id} is owned by user space (${g.owner}): its domain type cannot change until it is released`
        : `a kernel driver is bound in IOMMU group ${g.id} (${kernelDmaOwners(m, g).map((d) => `${d.name}: ${d.driver}`).join(', ')}): the domain type changes only while no kernel driver uses it`,
    });
  }
  const forced = iommuDriverOf(m, g.iommu).defDomainType;
  const want = req ?? forced ?? 'DMA';
  if (forced && want !== forced) throw new KernelError('EINVAL', { hint: `the ${iommuDriverOf(m, g.iommu).name} IOMMU gives its groups only ${forced} domains` });
  g.type = want;
  return buf.length;
}

/** `reserved_regions`: `0x%016llx 0x%016llx <type>` lines (start, inclusive end), from the IOMMU driver's get_resv_regions. */
export function reservedRegions(m: Machine, g: IommuGroup): string {
  return iommuDriverOf(m, g.iommu).reservedRegions.map((r) => `0x${r.start.toString(16).padStart(16, '0')} 0x${r.end.toString(16).padStart(16, '0')} ${r.type}\n`).join('');
}

/** True when the group's IOMMU and device can enforce IOMMU_CACHE for `dev` (device_iommu_capable). */
export function deviceCacheCoherent(m: Machine, dev: Device): boolean {
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  if (!g) return false;
  return iommuDriverOf(m, g.iommu).cacheCoherency(dev);
}

/** Which IOMMU driver serves `dev`'s group, and its node, for messages. */
export function deviceIommu(m: Machine, dev: Device): { driver: string; node: string | null } {
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  const d = iommuDriverOf(m, g?.iommu ?? null);
  return { driver: d.name, node: g?.iommu ?? null };
}
