/** `mem OWNER IOVA LEN`: what the owner sees in its mapped buffer (what devices wrote there by DMA). */
import { defineCommand } from '../../command.js';
import { runMem, ownerRange, asData, renderText, type OwnerRange } from './shared.js';

export default defineCommand({
  name: 'mem',
  group: 'device',
  summary: "dump the owner's mapped memory at an IOVA, hexdump -C style",
  example: 'vfioctl mem qemu 0x100000 0x40',
  args: [
    { name: 'owner', complete: 'owner' },
    { name: 'iova', complete: 'none' },
    { name: 'len', description: 'bytes (at most 0x1000)', complete: 'none' },
  ],
  machine: 'read',
  options: ownerRange, // (the third word is LEN here)
  run: (_rc, o: OwnerRange, { m }) => asData(runMem(m, o.owner, o.iova, o.size)),
  render: renderText,
});
