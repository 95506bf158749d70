/** `stop DEV`: the owner quiesces its device before letting go (the clean way). */
import { defineCommand, word } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { stopDevice } from '../../../userspace/owner.js';
import { ownerFlag, ownerOption, ownerData, renderNotes, type OwnerData } from './shared.js';

export default defineCommand({
  name: 'stop',
  group: 'owners',
  summary: 'the owner quiesces the device',
  example: 'vfioctl stop fff51000.ethernet',
  args: [{ name: 'device', complete: 'device' }],
  flags: [ownerOption('owner quiescing it')],
  machine: 'write',
  options: (p) => ({ device: word(p, 0), owner: ownerFlag(p) }),
  run(_rc, o: { device: string; owner: string | undefined }, { m, sys }): OwnerData {
    const dev = lookupDevice(m, o.device);
    const ow = stopDevice(m, sys, dev, o.owner);
    return ownerData(dev, 'stop', [`${dev.name}: quiesced by '${ow.name}'`]);
  },
  render: renderNotes,
});
