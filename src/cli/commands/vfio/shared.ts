/** What the VFIO info commands share: the device must be on a VFIO driver to have a device fd. */
import { KernelError } from '../../../base/errors.js';
import type { Device } from '../../../base/machine.js';

export const hexFlags = (n: number): string => '0x' + n.toString(16);

/** VFIO_GROUP_GET_DEVICE_FD fails with ENODEV for a device no VFIO driver has bound */
export function requireVfio(dev: Device): void {
  if (dev.vfio) return;
  throw new KernelError('ENODEV', {
    op: 'ioctl',
    path: dev.iommuGroup === null ? '/dev/vfio' : `/dev/vfio/${dev.iommuGroup}`,
    message: `VFIO_GROUP_GET_DEVICE_FD: No such device (${dev.name} is ${dev.driver ? `bound to ${dev.driver}` : 'not bound to any driver'}, not to a VFIO driver)`,
    hint: `only a device bound to vfio-platform${dev.bus === 'amba' ? ' (vfio-amba on the AMBA bus)' : ''} has a VFIO device fd; run: vfioctl passthrough ${dev.name}`,
  });
}
