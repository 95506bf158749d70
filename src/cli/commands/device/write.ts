/** `write DEV REGION OFFSET VALUE`: pwrite(2) on the owner's device fd (cf. vfio_platform_write): a register write. */
import { defineCommand, word } from '../../command.js';
import { rwTarget, runWrite, parseNum, asData, renderText, RW_FLAGS, type RwTarget } from './shared.js';

interface WriteOptions extends RwTarget {
  value: bigint;
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
  options: (p): WriteOptions => ({ ...rwTarget(p), value: parseNum('VALUE', word(p, 3)) }),
  run: (_rc, o: WriteOptions, { m, sys }) => asData(runWrite(m, sys, o.device, o.access, o.value, o.owner)),
  render: renderText,
});
