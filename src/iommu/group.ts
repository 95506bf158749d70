/**
 * IOMMU groups, cf. drivers/iommu/iommu.c: numbers are the lowest free id from 0,
 * members get an `iommu_group` link, and a group is viable for user space when no
 * kernel driver holds DMA-API ownership (every member unbound or on a driver with
 * driver_managed_dma, i.e. a VFIO driver). cf. iommu_device_use_default_domain.
 */
import type { Machine, IommuGroup, Device } from '../base/machine.js';
import { findDevice, findDriver } from '../base/machine.js';
import { printk, KERN_INFO } from '../klog/klog.js';

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
