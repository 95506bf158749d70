/** `sysfs cat PATH`: read(2) of an attribute, its contents as the kernel's show() gives them. */
import { defineCommand, word } from '../../command.js';

export default defineCommand({
  name: 'sysfs cat',
  group: 'inspect',
  summary: 'read an attribute',
  example: 'vfioctl sysfs cat /sys/bus/platform/devices/fff51000.ethernet/driver_override',
  args: [{ name: 'path', complete: 'sysfs' }],
  machine: 'read',
  options: (p) => ({ path: word(p, 0) }),
  run(_rc, o: { path: string }, { sys }) {
    return { path: o.path, value: sys.read(o.path, 'read the attribute') };
  },
  render: (d: { value: string }) => d.value,
});
