/**
 * vfio-platform / vfio-amba probe and remove, cf. drivers/vfio/platform/vfio_platform.c,
 * vfio_amba.c, vfio_platform_common.c (vfio_platform_init_common) and
 * drivers/vfio/vfio_main.c (__vfio_register_dev). Loading this code registers both
 * drivers' operations with the driver core (platform_driver_register / amba_driver_register).
 */
import type { Machine, Device, Driver } from '../base/machine.js';
import { findGroup } from '../base/machine.js';
import type { ErrnoName } from '../base/errno.js';
import { devErr, devWarn } from '../klog/klog.js';
import { moduleParam, moduleGet, modulePut } from '../base/module.js';
import { registerDriverOps } from '../base/driver.js';
import { deviceCacheCoherent, allocGroup, addDeviceToGroup, removeDeviceFromGroup } from '../iommu/group.js';
import { getReset, devErrOnce } from './reset.js';
import { setVfioProbeStep, type VfioProbeStep } from './probe-step.js';

export const VFIO_DEVICE_FLAGS_RESET = 0x1;
export const VFIO_DEVICE_FLAGS_PLATFORM = 0x4;
export const VFIO_DEVICE_FLAGS_AMBA = 0x8;

/** The module whose code a VFIO driver is (vfio_platform.ko, vfio_amba.ko). */
export function vfioDriverModule(drv: Pick<Driver, 'name'>): string {
  return drv.name === 'vfio-amba' ? 'vfio_amba' : 'vfio_platform';
}

export function resetRequired(m: Machine, drv: Driver): boolean {
  if (drv.name === 'vfio-amba') return false;
  const v = moduleParam(m, 'vfio_platform', 'reset_required');
  return v === undefined || v === 'Y';
}

function fail(dev: Device, step: VfioProbeStep, errno: ErrnoName): ErrnoName {
  setVfioProbeStep(dev, step);
  return errno;
}

/** vfio_platform_probe / vfio_amba_probe → vfio_platform_init_common → vfio_register_group_dev */
export function vfioProbe(m: Machine, dev: Device, drv: Driver): ErrnoName | null {
  const compat = dev.of.compatible[0];
  if (drv.name === 'vfio-amba') {
    devErrOnce(m, 'vfio_amba', dev, 'DEPRECATION: vfio-amba is deprecated and will be removed in a future kernel release');
  }
  if (compat === undefined && !dev.acpiRst) {
    devErr(m, dev, `VFIO: Cannot retrieve compat for ${dev.name}`);
    return fail(dev, 'compat', 'EINVAL');
  }
  const reset = getReset(m, dev, compat ?? '');
  if (!reset && resetRequired(m, drv)) {
    devErr(m, dev, `VFIO: No reset function found for device ${dev.name}`);
    return fail(dev, 'reset', 'ENOENT');
  }
  // vfio_group_find_or_alloc: with enable_unsafe_noiommu_mode a device with no IOMMU
  // group gets a fake one, and the kernel is tainted
  let noiommu = false;
  if (dev.iommuGroup === null && moduleParam(m, 'vfio', 'enable_unsafe_noiommu_mode') === 'Y') {
    const g = allocGroup(m, null);
    g.name = 'vfio-noiommu';
    g.type = 'unknown'; // no default domain
    addDeviceToGroup(m, g, dev);
    devWarn(m, dev, 'Adding kernel taint for vfio-noiommu group on device');
    noiommu = true;
  }
  // vfio_register_group_dev: the device must be in an IOMMU group (v5.x dev_err'ed it) …
  if (dev.iommuGroup === null || !findGroup(m, dev.iommuGroup)) {
    if (m.options.legacyMessages) devErr(m, dev, `VFIO: No IOMMU group for device ${dev.name}`);
    return fail(dev, 'iommu-group', 'EINVAL');
  }
  // … whose IOMMU can enforce IOMMU_CACHE (__vfio_register_dev; silent, the core logs -22)
  if (!noiommu && !deviceCacheCoherent(m, dev)) return fail(dev, 'cache-coherency', 'EINVAL');
  setVfioProbeStep(dev, null);
  if (reset?.kind === 'module') moduleGet(m, reset.module, `vfio:${dev.name}`);
  const base = dev.bus === 'amba' ? VFIO_DEVICE_FLAGS_AMBA : VFIO_DEVICE_FLAGS_PLATFORM;
  dev.vfio = { index: lowestFreeVfioIndex(m), reset, openCount: 0, flags: base | (reset ? VFIO_DEVICE_FLAGS_RESET : 0) };
  return null;
}

/** vfio_platform_remove: the caller has made sure no fd is open. */
export function vfioRemove(m: Machine, dev: Device): void {
  const r = dev.vfio?.reset;
  if (r?.kind === 'module') modulePut(m, r.module, `vfio:${dev.name}`);
  dev.vfio = null;
  // a noiommu group goes with its device (vfio_device_remove_group → iommu_group_remove_device)
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  if (g?.name === 'vfio-noiommu') removeDeviceFromGroup(m, g, dev);
}

/** vfio_alloc_device's ida: the lowest index no VFIO device uses. */
function lowestFreeVfioIndex(m: Machine): number {
  const used = new Set<number>();
  for (const d of m.devices) if (d.vfio) used.add(d.vfio.index);
  let i = 0;
  while (used.has(i)) i++;
  return i;
}

const VFIO_OPS = { probe: vfioProbe, remove: (m: Machine, dev: Device) => vfioRemove(m, dev) };
registerDriverOps('vfio-platform', VFIO_OPS);
registerDriverOps('vfio-amba', VFIO_OPS);
