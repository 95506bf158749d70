/**
 * Every command, and nothing else: the ordered list of definitions. Each module's default
 * export is its definition (src/cli/command.ts); only the one the command line names is
 * loaded. The folders are the help groups (inspect, sysfs, bind, vfio, owner, device, fuse,
 * machine, teach). `vfioctl --help` lists the commands of a group in this order, and the
 * groups in the order their first command appears here; completion offers them in this
 * order. A new command: write src/cli/commands/<group>/<verb>.ts ending in
 * `export default defineCommand({ … })` and add its line here.
 */
import type { CommandEntry } from '../command.js';

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'status', load: () => import('./inspect/status.js') },
  { name: 'list', load: () => import('./inspect/list.js') },
  { name: 'list-overrides', load: () => import('./inspect/list-overrides.js') },
  { name: 'show', load: () => import('./inspect/show.js') },
  { name: 'groups', load: () => import('./inspect/groups.js') },
  { name: 'dmesg', load: () => import('./inspect/dmesg.js') },
  { name: 'sysfs cat', load: () => import('./sysfs/cat.js') },
  { name: 'sysfs write', load: () => import('./sysfs/write.js') },
  { name: 'sysfs ls', load: () => import('./sysfs/ls.js') },
  { name: 'override', load: () => import('./bind/override.js') },
  { name: 'unbind', load: () => import('./bind/unbind.js') },
  { name: 'bind', load: () => import('./bind/bind.js') },
  { name: 'probe', load: () => import('./bind/probe.js') },
  { name: 'passthrough', load: () => import('./bind/passthrough.js') },
  { name: 'restore', load: () => import('./bind/restore.js') },
  { name: 'modprobe', load: () => import('./vfio/modprobe.js') },
  { name: 'rmmod', load: () => import('./vfio/rmmod.js') },
  { name: 'lsmod', load: () => import('./vfio/lsmod.js') },
  { name: 'info', load: () => import('./vfio/info.js') },
  { name: 'regions', load: () => import('./vfio/regions.js') },
  { name: 'irqs', load: () => import('./vfio/irqs.js') },
  { name: 'reset', load: () => import('./vfio/reset.js') },
  { name: 'open', load: () => import('./owner/open.js') },
  { name: 'close', load: () => import('./owner/close.js') },
  { name: 'kill', load: () => import('./owner/kill.js') },
  { name: 'start', load: () => import('./owner/start.js') },
  { name: 'stop', load: () => import('./owner/stop.js') },
  { name: 'unmask', load: () => import('./owner/unmask.js') },
  { name: 'policy', load: () => import('./vfio/policy.js') },
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
  { name: 'load', load: () => import('./machine/load.js') },
  { name: 'lesson', load: () => import('./teach/lesson.js') },
  { name: 'demo', load: () => import('./teach/demo.js') },
  { name: 'export', load: () => import('./teach/export.js') },
  { name: 'graph', load: () => import('./teach/graph.js') },
  { name: 'completion', load: () => import('./teach/completion.js') },
  { name: '__complete', load: () => import('./teach/complete.js') },
];
