/** `unmask DEV [INDEX]`: VFIO_DEVICE_SET_IRQS ACTION_UNMASK on a level IRQ the handler automasked (cf. vfio_platform_irq.c). */
import { defineCommand, word } from '../../command.js';
import { UsageError } from '../../../base/errors.js';
import { lookupDevice } from '../../devices.js';
import { unmaskIrq } from '../../../userspace/owner.js';
import { ownerFlag, ownerOption, ownerData, renderNotes, type OwnerData } from './shared.js';

export default defineCommand({
  name: 'unmask',
  group: 'owners',
  summary: 'VFIO_DEVICE_SET_IRQS ACTION_UNMASK on a level IRQ the handler automasked',
  example: 'vfioctl unmask fff51000.ethernet 0',
  args: [
    { name: 'device', complete: 'device' },
    { name: 'index', description: 'IRQ index', required: false, default: '0', complete: 'none' },
  ],
  flags: [ownerOption('owner')],
  machine: 'write',
  options(p) {
    const index = Number(word(p, 1));
    if (!Number.isInteger(index)) throw new UsageError('IRQ index must be a number');
    return { device: word(p, 0), owner: ownerFlag(p), index };
  },
  run(_rc, o: { device: string; owner: string | undefined; index: number }, { m, sys }): OwnerData {
    const dev = lookupDevice(m, o.device);
    unmaskIrq(m, sys, dev, o.owner, o.index);
    return ownerData(dev, 'unmask', [`${dev.name}: IRQ ${o.index} unmasked`]);
  },
  render: renderNotes,
});
