/** `start DEV`: the owner programs the device to run: DMA into its IOVA window, IRQs raised. */
import { defineCommand, word } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { startDevice } from '../../../userspace/owner.js';
import { ownerFlag, ownerOption, ownerData, renderNotes, type OwnerData } from './shared.js';

export default defineCommand({
  name: 'start',
  group: 'owners',
  summary: 'the owner programs the device to run: DMA into its IOVA window, IRQs',
  example: 'vfioctl start fff51000.ethernet',
  args: [{ name: 'device', complete: 'device' }],
  flags: [ownerOption('owner programming it')],
  machine: 'write',
  options: (p) => ({ device: word(p, 0), owner: ownerFlag(p) }),
  run(_rc, o: { device: string; owner: string | undefined }, { m, sys }): OwnerData {
    const dev = lookupDevice(m, o.device);
    const r = startDevice(m, sys, dev, o.owner);
    const ow = r.owner;
    const notes: string[] = [];
    if (r.staleFired.length) notes.push(`STALE: IRQ ${r.staleFired.join(', ')} fired the moment '${ow.name}' set its trigger, before it programmed the device (an interrupt left asserted or pending by a device nobody reset)`);
    notes.push(`${dev.name}: running for '${ow.name}': DMA into iova ${ow.iova.start}, IRQs firing`);
    return ownerData(dev, 'start', notes, { staleFired: r.staleFired, writes: r.writes });
  },
  render: renderNotes,
});
