/** `rmmod MODULE`: unload a module; refused while it is in use (cf. kernel/module delete_module). */
import { defineCommand, word } from '../../command.js';
import { rmmod, canonicalModuleName } from '../../../base/module.js';

export interface RmmodData {
  module: string;
  unbound: string[];
}

export default defineCommand({
  name: 'rmmod',
  group: 'vfio',
  summary: 'unload a module (refused while in use)',
  example: 'vfioctl rmmod vfio-platform',
  args: [{ name: 'module', complete: 'loaded-module' }],
  machine: 'write',
  options: (p) => ({ module: word(p, 0) }),
  run(_rc, o: { module: string }, { m, sys }): RmmodData {
    const mod = canonicalModuleName(o.module);
    const unbound = m.devices.filter((d) => d.driver && m.drivers.some((x) => x.name === d.driver && x.module === mod));
    sys.run(`rmmod ${mod}`, 'unload the module; unregistering its driver unbinds every device it drives', () => rmmod(m, o.module));
    return { module: mod, unbound: unbound.map((d) => d.name) };
  },
  render: (d: RmmodData) => `removed ${d.module}` + (d.unbound.length ? `; unbound ${d.unbound.join(', ')}` : '') + '\n',
});
