/** `reset DEV`: VFIO_DEVICE_RESET on the owner's device fd (EINVAL without a reset function). */
import { defineCommand, word } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { resetIoctl } from '../../../userspace/owner.js';
import { ownerFlag, ownerOption, ownerData, renderNotes, type OwnerData } from '../owner/shared.js';

export default defineCommand({
  name: 'reset',
  group: 'vfio',
  summary: 'VFIO_DEVICE_RESET (EINVAL without a reset function)',
  example: 'vfioctl reset fff51000.ethernet',
  args: [{ name: 'device', complete: 'device' }],
  flags: [ownerOption('owner issuing the ioctl')],
  machine: 'write',
  options: (p) => ({ device: word(p, 0), owner: ownerFlag(p) }),
  run(_rc, o: { device: string; owner: string | undefined }, { m, sys }): OwnerData {
    const dev = lookupDevice(m, o.device);
    resetIoctl(m, sys, dev, o.owner);
    return ownerData(dev, 'reset', [`${dev.name}: reset`]);
  },
  render: renderNotes,
});
