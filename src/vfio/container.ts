/**
 * The VFIO container /dev/vfio/vfio (drivers/vfio/container.c) and the type1 IOMMU
 * backend it is given with VFIO_SET_IOMMU (drivers/vfio/vfio_iommu_type1.c).
 */
import type { Machine } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { isLoaded } from '../base/module.js';
import type { Recorder } from './recorder.js';

/** The IOVA window a simulated owner maps for its device's DMA. */
export const IOVA_WINDOW = { start: '0x100000', size: '0x100000' };

/** open("/dev/vfio/vfio"): the misc device exists while the vfio module is loaded. */
export function containerOpen(m: Machine, rec: Recorder): void {
  if (!isLoaded(m, 'vfio')) {
    throw new KernelError('ENOENT', { op: 'open', path: '/dev/vfio/vfio', hint: 'the vfio module is not loaded', reason: { kind: 'vfio-not-loaded' } });
  }
  rec.record(`open("/dev/vfio/vfio", O_RDWR) = container`, 'a container holds the IOMMU context shared by the groups it gets', 'ok');
  rec.record('ioctl(container, VFIO_GET_API_VERSION) = 0', 'user space checks it speaks VFIO_API_VERSION 0', '0');
  rec.record('ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) = 1', 'the platform IOMMU driver offers the type1 model', '1');
}

/** VFIO_SET_IOMMU and the owner's first mapping, once its first group is attached. */
export function containerSetIommu(rec: Recorder, iova: { start: string; size: string }): void {
  rec.record('ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) = 0', 'give the container an IOMMU model (needed before any device fd)', 'ok');
  rec.record(`ioctl(container, VFIO_IOMMU_MAP_DMA, {iova=${iova.start}, size=${iova.size}, flags=READ|WRITE}) = 0`, 'map the buffer the device may DMA into', 'ok');
}
