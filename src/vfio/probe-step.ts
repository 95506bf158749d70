/**
 * Which check of vfio-platform's probe refused a device last (in this process): the
 * facts the driver core's refusal reason is built from. A leaf module, so the driver
 * core can read it without loading the driver.
 */
import type { Device } from '../base/machine.js';

/** In the kernel's order: compat, reset, then vfio_register_group_dev (no IOMMU group; IOMMU cannot enforce IOMMU_CACHE). */
export type VfioProbeStep = 'compat' | 'reset' | 'iommu-group' | 'cache-coherency';

const lastStep = new WeakMap<Device, VfioProbeStep>();

export function lastVfioProbeStep(dev: Device): VfioProbeStep | undefined {
  return lastStep.get(dev);
}

export function setVfioProbeStep(dev: Device, step: VfioProbeStep | null): void {
  if (step === null) lastStep.delete(dev);
  else lastStep.set(dev, step);
}
