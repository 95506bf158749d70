/** `write DEV REGION OFFSET VALUE`: pwrite(2) on the owner's device fd (cf. vfio_platform_write): a register write. */
import { defineCommand, word } from '../../command.js';
import { accessOf, runWrite, parseNum, asData, renderText, type RwOpts } from './shared.js';
import { RW_FLAGS } from './read.js';
import type { Access } from '../../../vfio/rw.js';

interface WriteOptions {
  device: string;
  access: Access;
  value: bigint;
  owner: string | undefined;
}

export default defineCommand({
  name: 'write',
  group: 'device',
  summary: 'pwrite on the device fd: a register write the owner makes',
  example: 'vfioctl write fff51000.ethernet 0 0xf14 0x10040   # clear RI|NIS (write 1 to clear)',
  args: [
    { name: 'device', complete: 'device' },
    { name: 'region', description: 'region index', complete: 'none' },
    { name: 'offset', description: 'offset in the region', complete: 'none' },
    { name: 'value', description: 'value (0x hex or decimal)', complete: 'none' },
  ],
  flags: RW_FLAGS,
  machine: 'write',
  options(p): WriteOptions {
    const f = p.flags as RwOpts;
    return { device: word(p, 0), access: accessOf(word(p, 1), word(p, 2), f), value: parseNum('VALUE', word(p, 3)), owner: f.owner };
  },
  run: (_rc, o: WriteOptions, { m, sys }) => asData(runWrite(m, sys, o.device, o.access, o.value, o.owner)),
  render: renderText,
});
