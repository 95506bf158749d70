/** `mem OWNER IOVA LEN`: what the owner sees in its mapped buffer (what devices wrote there by DMA). */
import { defineCommand, word } from '../../command.js';
import { runMem, asData, renderText } from './shared.js';

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
  options: (p): { owner: string; iova: string; len: string } => ({ owner: word(p, 0), iova: word(p, 1), len: word(p, 2) }),
  run: (_rc, o: { owner: string; iova: string; len: string }, { m }) => asData(runMem(m, o.owner, o.iova, o.len)),
  render: renderText,
});
