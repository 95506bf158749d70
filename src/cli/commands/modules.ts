/** modprobe, rmmod, lsmod */
import type { Out } from '../main.js';
import { withMachine } from '../session.js';
import { modprobe, rmmod, findModuleInfo, isLoaded, canonicalModuleName, moduleRefcount, moduleHolders, parseModuleArgs } from '../../base/module.js';
import { UsageError } from '../../base/errors.js';
import { table, kernelLines } from '../output.js';
import { logSince } from '../../klog/klog.js';

export function parseParams(params: readonly string[]): Record<string, string | null> {
  for (const p of params) {
    if (p === '' || p.startsWith('=')) throw new UsageError(`bad module parameter "${p}"`, 'write parameters as name=value or a bare name (a boolean set to true), e.g. reset_required=0');
  }
  return parseModuleArgs(params);
}

export async function modprobeCmd(o: Out, mod: string, params: string[]): Promise<void> {
  const args = parseParams(params);
  await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
    const before = m.log.length;
    const info = findModuleInfo(m, mod);
    const already = info !== undefined && isLoaded(m, info.name);
    const unboundBefore = new Set(m.devices.filter((d) => !d.driver).map((d) => d.name));
    const inserted = sys.run(`modprobe ${[mod, ...params].join(' ')}`, 'load the module; it registers its driver, and autoprobe binds devices whose driver_override names it', () => modprobe(m, mod, args));
    const notes: string[] = [];
    if (already) {
      notes.push(`${info?.name ?? canonicalModuleName(mod)} is already loaded: nothing changed${params.length ? ' (its parameters are not changed either: rmmod it first to load it with new ones)' : ''}`);
    } else notes.push(`loaded ${inserted.join(', ')}`);
    for (const d of m.devices) {
      if (d.driver && unboundBefore.has(d.name)) notes.push(`${d.name}: bound to ${d.driver} (autoprobe: its driver_override names the new driver)`);
    }
    const dmesg = logSince(m, before);
    o.emit({ module: mod, inserted, alreadyLoaded: already, dmesg }, notes.map((n) => n + '\n').join('') + kernelLines(dmesg), sys.steps);
  });
}

export async function rmmodCmd(o: Out, mod: string): Promise<void> {
  await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
    const unbound = m.devices.filter((d) => d.driver && m.drivers.some((x) => x.name === d.driver && x.module === canonicalModuleName(mod)));
    sys.run(`rmmod ${canonicalModuleName(mod)}`, 'unload the module; unregistering its driver unbinds every device it drives', () => rmmod(m, mod));
    o.emit(
      { module: canonicalModuleName(mod), unbound: unbound.map((d) => d.name) },
      `removed ${canonicalModuleName(mod)}` + (unbound.length ? `; unbound ${unbound.map((d) => d.name).join(', ')}` : '') + '\n',
      sys.steps,
    );
  });
}

export async function lsmodCmd(o: Out): Promise<void> {
  await withMachine(o.ctx, o.g, 'read', ({ m, sys }) => {
    sys.record('lsmod', 'loaded modules and who uses them (/proc/modules)');
    for (const x of m.modules) if (Object.keys(x.params).length) sys.record(`grep -H . /sys/module/${x.name}/parameters/*`, `the parameters ${x.name} was loaded with`);
    const mods = [...m.modules].reverse().map((x) => {
      return { name: x.name, usedBy: moduleHolders(m, x.name), refcount: moduleRefcount(m, x.name), params: x.params };
    });
    const text = mods.length
      ? table([['Module', 'Used by'], ...mods.map((x) => [x.name, `${x.refcount}${x.usedBy.length ? ' ' + x.usedBy.join(',') : ''}`])]) +
        mods.filter((x) => Object.keys(x.params).length).map((x) => `${x.name} parameters: ${Object.entries(x.params).map(([k, v]) => `${k}=${v}`).join(' ')}\n`).join('')
      : 'no modules loaded (vfio-platform is a module: vfioctl modprobe vfio-platform)\n';
    o.emit({ modules: mods }, text, sys.steps);
  });
}
