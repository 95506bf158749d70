/**
 * Every command, in the order `vfioctl --help` lists them. Each module's default export is
 * its definition (src/cli/command.ts); only the one the command line names is loaded.
 * A new command: write src/cli/commands/<group>/<verb>.ts ending in
 * `export default defineCommand({ … })` and add its line here.
 */
import type { CommandEntry } from '../command.js';

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'status', load: () => import('./inspect/status.js') },
  { name: 'sysfs cat', load: () => import('./sysfs/cat.js') },
  { name: 'sysfs write', load: () => import('./sysfs/write.js') },
  { name: 'sysfs ls', load: () => import('./sysfs/ls.js') },
  { name: 'override', load: () => import('./bind/override.js') },
  { name: 'bind', load: () => import('./bind/bind.js') },
  { name: 'modprobe', load: () => import('./vfio/modprobe.js') },
  { name: 'rmmod', load: () => import('./vfio/rmmod.js') },
  { name: 'lsmod', load: () => import('./vfio/lsmod.js') },
  { name: 'read', load: () => import('./device/read.js') },
  { name: 'write', load: () => import('./device/write.js') },
  { name: 'irq', load: () => import('./device/irq.js') },
  { name: 'map', load: () => import('./device/map.js') },
  { name: 'unmap', load: () => import('./device/unmap.js') },
  { name: 'mem', load: () => import('./device/mem.js') },
  { name: 'fault', load: () => import('./device/fault.js') },
  { name: 'run', load: () => import('./fuse/run.js') },
  { name: 'mount', load: () => import('./fuse/mount.js') },
  { name: 'umount', load: () => import('./fuse/umount.js') },
  { name: '__kmod', load: () => import('./fuse/kmod.js') },
];
