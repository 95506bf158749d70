/** `read DEV REGION OFFSET`: pread(2) on the owner's device fd at (index << 40) + offset (cf. vfio_platform_read). */
import { defineCommand } from '../../command.js';
import { rwTarget, runRead, asData, renderText, RW_FLAGS, type RwTarget } from './shared.js';

export default defineCommand({
  name: 'read',
  group: 'device',
  summary: 'pread on the device fd at (index << 40) + offset: a register read',
  example: 'vfioctl read fff51000.ethernet 0 0xf18\nvfioctl read fff51000.ethernet 0 0x0 --width 8 --mmap',
  args: [
    { name: 'device', complete: 'device' },
    { name: 'region', description: 'region index', complete: 'none' },
    { name: 'offset', description: 'offset in the region (0x hex or decimal)', complete: 'none' },
  ],
  flags: RW_FLAGS,
  machine: 'read',
  options: rwTarget,
  run: (_rc, o: RwTarget, { m, sys }) => asData(runRead(m, sys, o.device, o.access, o.owner)),
  render: renderText,
});
