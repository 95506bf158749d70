/** `lsmod`: loaded modules, their users and parameters (/proc/modules, /sys/module/NAME/parameters). */
import { defineCommand } from '../../command.js';
import { table } from '../../output.js';
import { moduleHolders, moduleRefcount } from '../../../base/module.js';

export interface LsmodData {
  modules: { name: string; usedBy: string[]; refcount: number; params: Record<string, string> }[];
}

export default defineCommand({
  name: 'lsmod',
  group: 'vfio',
  summary: 'loaded modules, their users and parameters',
  example: 'vfioctl lsmod',
  machine: 'read',
  options: () => ({}),
  run(_rc, _o, { m, sys }): LsmodData {
    sys.record('lsmod', 'loaded modules and who uses them (/proc/modules)');
    for (const x of m.modules) if (Object.keys(x.params).length) sys.record(`grep -H . /sys/module/${x.name}/parameters/*`, `the parameters ${x.name} was loaded with`);
    const modules = [...m.modules].reverse().map((x) => {
      return { name: x.name, usedBy: moduleHolders(m, x.name), refcount: moduleRefcount(m, x.name), params: x.params };
    });
    return { modules };
  },
  render({ modules: mods }: LsmodData) {
    return mods.length
      ? table([['Module', 'Used by'], ...mods.map((x) => [x.name, `${x.refcount}${x.usedBy.length ? ' ' + x.usedBy.join(',') : ''}`])]) +
          mods.filter((x) => Object.keys(x.params).length).map((x) => `${x.name} parameters: ${Object.entries(x.params).map(([k, v]) => `${k}=${v}`).join(' ')}\n`).join('')
      : 'no modules loaded (vfio-platform is a module: vfioctl modprobe vfio-platform)\n';
  },
});
