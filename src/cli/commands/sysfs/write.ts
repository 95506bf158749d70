/** `sysfs write PATH VALUE [-n]`: write(2) on an attribute, as `echo VALUE > PATH` does. */
import { defineCommand, word } from '../../command.js';

export interface SysfsWriteOptions {
  path: string;
  value: string;
  /** append a newline, as echo does (not with -n) */
  newline: boolean;
}

export default defineCommand({
  name: 'sysfs write',
  group: 'inspect',
  summary: 'write like echo (a newline is appended unless -n)',
  example:
    'vfioctl sysfs write /sys/bus/platform/devices/fff51000.ethernet/driver_override vfio-platform\n' +
    'vfioctl sysfs write /sys/bus/platform/devices/fff51000.ethernet/driver_override ""   # clears it\n' +
    'vfioctl sysfs write -n /sys/bus/platform/devices/fff51000.ethernet/driver_override ""   # does nothing',
  args: [
    { name: 'path', complete: 'sysfs' },
    { name: 'value', complete: 'none' },
  ],
  flags: [{ flags: '-n', description: 'no trailing newline (echo -n)' }],
  machine: 'write',
  options(p): SysfsWriteOptions {
    return { path: word(p, 0), value: word(p, 1), newline: p.flags['n'] !== true };
  },
  run(_rc, o: SysfsWriteOptions, { sys }) {
    const written = sys.write(o.path, o.value, 'write the attribute', { newline: o.newline });
    return { path: o.path, written };
  },
  // echo prints nothing; the kernel lines follow
  render: () => '',
});
