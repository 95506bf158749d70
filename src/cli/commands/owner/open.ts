/** `open DEV [--owner NAME]`: a user-space program opens container, group and device fd (cf. drivers/vfio/group.c, vfio_main.c first open). */
import { defineCommand, word } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { vfioOpen } from '../../../userspace/owner.js';
import { ownerFlag, ownerOption, ownerData, renderNotes, type OwnerData } from './shared.js';

export default defineCommand({
  name: 'open',
  group: 'owners',
  summary: 'a user-space owner opens the group and device: the container/group/device-fd ioctl sequence',
  example: 'vfioctl open fff51000.ethernet --owner qemu',
  args: [{ name: 'device', complete: 'device' }],
  flags: [ownerOption('name of the simulated user-space program', 'vfio-user')],
  machine: 'write',
  options: (p) => ({ device: word(p, 0), owner: ownerFlag(p) ?? 'vfio-user' }),
  run(_rc, o: { device: string; owner: string }, { m, sys }): OwnerData {
    const dev = lookupDevice(m, o.device);
    const r = vfioOpen(m, sys, dev, o.owner);
    const notes = [`${dev.name}: opened by '${r.owner}' (pid ${r.pid}) through /dev/vfio/${r.group}${r.firstOpen ? (r.reset ? '; first open: device reset' : '; first open: NO reset function, device not reset') : '; already open: no reset'}`];
    if (r.stale) {
      const live = r.stale.irqs.flatMap((x, i) => (x ? [i] : []));
      notes.push(`STALE: the device was still ${r.stale.dmaRunning ? 'running' : 'signalling'}${r.stale.previousOwner ? ` as '${r.stale.previousOwner}' left it` : ''}: ${live.length ? `IRQ ${live.join(', ')} asserted or pending, firing the moment '${r.owner}' sets a trigger, before it has programmed anything` : 'no IRQ asserted'}${r.stale.dmaRunning ? ', and its DMA goes on into whatever is mapped at its address' : ''}`);
    }
    return ownerData(dev, 'open', notes, { ...r });
  },
  render: renderNotes,
});
