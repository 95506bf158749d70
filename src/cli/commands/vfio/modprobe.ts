/** `modprobe MODULE [param=value…]`: load a module and its dependencies (cf. kmod modprobe, kernel/module load_module). */
import { defineCommand, word, words } from '../../command.js';
import { modprobe, findModuleInfo, isLoaded, canonicalModuleName, parseModuleArgs } from '../../../base/module.js';
import { UsageError } from '../../../base/errors.js';

export function parseParams(params: readonly string[]): Record<string, string | null> {
  for (const p of params) {
    if (p === '' || p.startsWith('=')) throw new UsageError(`bad module parameter "${p}"`, 'write parameters as name=value or a bare name (a boolean set to true), e.g. reset_required=0');
  }
  return parseModuleArgs(params);
}

export interface ModprobeOptions {
  module: string;
  /** as typed, for the shell line */
  words: string[];
  params: Record<string, string | null>;
}

export interface ModprobeData {
  module: string;
  inserted: string[];
  alreadyLoaded: boolean;
  /** human lines */
  notes: string[];
}

export default defineCommand({
  name: 'modprobe',
  group: 'vfio',
  summary: 'load a module (vfio-platform, a reset module…) with parameters',
  example: 'vfioctl modprobe vfio-platform\nvfioctl modprobe vfio-platform reset_required=0',
  args: [
    { name: 'module', complete: 'module' },
    { name: 'params', description: 'param=value', required: false, variadic: true, complete: 'none' },
  ],
  machine: 'write',
  options(p): ModprobeOptions {
    const ws = words(p, 1);
    return { module: word(p, 0), words: ws, params: parseParams(ws) };
  },
  run(_rc, o: ModprobeOptions, { m, sys }): ModprobeData {
    const info = findModuleInfo(m, o.module);
    const already = info !== undefined && isLoaded(m, info.name);
    const unboundBefore = new Set(m.devices.filter((d) => !d.driver).map((d) => d.name));
    const inserted = sys.run(`modprobe ${[o.module, ...o.words].join(' ')}`, 'load the module; it registers its driver, and autoprobe binds devices whose driver_override names it', () => modprobe(m, o.module, o.params));
    const notes: string[] = [];
    if (already) {
      notes.push(`${info?.name ?? canonicalModuleName(o.module)} is already loaded: nothing changed${o.words.length ? ' (its parameters are not changed either: rmmod it first to load it with new ones)' : ''}`);
    } else notes.push(`loaded ${inserted.join(', ')}`);
    for (const d of m.devices) {
      if (d.driver && unboundBefore.has(d.name)) notes.push(`${d.name}: bound to ${d.driver} (autoprobe: its driver_override names the new driver)`);
    }
    return { module: o.module, inserted, alreadyLoaded: already, notes };
  },
  render: (d: ModprobeData) => d.notes.map((n) => n + '\n').join(''),
});
