/** What the VFIO info commands share: the device must be on a VFIO driver to have a device fd. */
import { KernelError } from '../../../base/errors.js';
import type { Device, Machine } from '../../../base/machine.js';
import { fdOwner, withTransientFd } from '../../../userspace/owner.js';
import type { Sys } from '../../sys.js';
import { ownerOption } from '../owner/shared.js';

/** --owner for the info commands */
export const queryOwnerOption = ownerOption('ask through the device fd this owner holds (else a short-lived process opens and closes the device: a reset each way)');

/**
 * The info ioctls are made on a device fd (issue 11.9): through the fd an owner holds
 * (--owner), else as a short-lived process of its own — container, group open,
 * SET_CONTAINER, GET_DEVICE_FD, close — so on a device nobody has open it is a first open
 * and a last close, each with its reset.
 */
export function queryDevice<T>(m: Machine, sys: Sys, dev: Device, ownerName: string | undefined, fn: () => T): T {
  if (ownerName !== undefined) {
    fdOwner(m, dev, ownerName);
    return fn();
  }
  const holder = m.owners.find((x) => x.alive && x.devices.includes(dev.name));
  if (holder) throw new KernelError('EBUSY', { op: 'open', path: `/dev/vfio/${dev.iommuGroup}`, reason: { kind: 'query-held', device: dev.name, owner: holder.name, pid: holder.pid } });
  return withTransientFd(m, sys, dev, fn);
}

export const hexFlags = (n: number): string => '0x' + n.toString(16);

