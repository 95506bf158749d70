/** `close DEV [--owner NAME]`: the owner closes its device fd; the last close resets the device (cf. vfio_main.c vfio_device_last_close). */
import { defineCommand, word } from '../../command.js';
import { KernelError } from '../../../base/errors.js';
import { lookupDevice } from '../../devices.js';
import { vfioClose } from '../../../userspace/owner.js';
import { ownerFlag, ownerOption, ownerData, renderNotes, type OwnerData } from './shared.js';

export default defineCommand({
  name: 'close',
  group: 'owners',
  summary: 'the owner closes the device fd (reset on last close)',
  example: 'vfioctl close fff51000.ethernet',
  args: [{ name: 'device', complete: 'device' }],
  flags: [ownerOption('owner closing it (default: the one holding it)')],
  machine: 'write',
  options: (p) => ({ device: word(p, 0), owner: ownerFlag(p) }),
  run(_rc, o: { device: string; owner: string | undefined }, { m, sys }): OwnerData {
    const dev = lookupDevice(m, o.device);
    const holders = m.owners.filter((x) => x.alive && x.devices.includes(dev.name));
    if (holders.length === 0) {
      // close(2) on an fd nobody has: say it plainly (the kernel would answer EBADF)
      throw new KernelError('EBADF', {
        op: 'exec',
        message: `${dev.name} is not open: no program holds a device fd for it, so there is nothing to close`,
        hint: m.owners.some((x) => x.alive && x.devices.length) ? `open devices: ${m.owners.filter((x) => x.alive).flatMap((x) => x.devices.map((d) => `${d} (by '${x.name}')`)).join(', ')}` : 'no device is open',
      });
    }
    if (o.owner !== undefined && !holders.some((x) => x.name === o.owner)) {
      throw new KernelError('EBADF', {
        op: 'exec',
        message: `'${o.owner}' does not hold ${dev.name} open; ${holders.map((x) => `'${x.name}'`).join(', ')} does`,
        hint: `close it as its holder: vfioctl close ${dev.name} --owner ${holders[0]!.name}`,
      });
    }
    const ow = vfioClose(m, sys, dev, o.owner);
    return ownerData(dev, 'close', [`${dev.name}: closed by '${ow.name}'${dev.vfio?.openCount ? ` (${dev.vfio.openCount} fd(s) still open)` : ''}`]);
  },
  render: renderNotes,
});
