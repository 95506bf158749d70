/** `read DEV REGION OFFSET`: pread(2) on the owner's device fd at (index << 40) + offset (cf. vfio_platform_read). */
import { defineCommand, word } from '../../command.js';
import { accessOf, runRead, asData, renderText, type RwOpts } from './shared.js';
import type { Access } from '../../../vfio/rw.js';

export const RW_FLAGS = [
  { flags: '--width <bytes>', description: 'access size: 1, 2, 4 or 8 bytes (default 4)', choices: ['1', '2', '4', '8'] },
  { flags: '--owner <name>', description: 'owner whose device fd is used (default: the one holding it)', complete: 'owner' as const },
  { flags: '--mmap', description: 'through an mmap of the region instead of pread/pwrite (needs the MMAP flag)' },
];

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
  options(p): { device: string; access: Access; owner: string | undefined } {
    const f = p.flags as RwOpts;
    return { device: word(p, 0), access: accessOf(word(p, 1), word(p, 2), f), owner: f.owner };
  },
  run: (_rc, o: { device: string; access: Access; owner: string | undefined }, { m, sys }) => asData(runRead(m, sys, o.device, o.access, o.owner)),
  render: renderText,
});
