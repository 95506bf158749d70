/**
 * The hidden `vfioctl __complete KIND [PREFIX]` the completion scripts call when Tab is
 * pressed: names from the machine (devices, owners, drivers, modules, groups, sysfs paths),
 * read-only — it never boots or writes a state file.
 */
import { defineCommand, word } from '../../command.js';
import type { Context } from '../../context.js';
import { bundledTreeNames, type GlobalOpts } from '../../session.js';
import type { Machine } from '../../../base/machine.js';
import { UsageError } from '../../../base/errors.js';
import { DYNAMIC, type Dynamic } from './completion-spec.js';

async function machineForCompletion(ctx: Context, g: GlobalOpts): Promise<Machine | null> {
  const { readState } = await import('../../../state/state-file.js');
  const { activeStatePath, bootDefault } = await import('../../session.js');
  try {
    // the machine the next command would act on: a lesson's scratch machine while one is in progress
    const m = readState(activeStatePath(ctx, g));
    if (m) return m;
    return await bootDefault(ctx);
  } catch {
    return null;
  }
}

/** Entries of the sysfs directory `prefix` lies in that start like it; directories end with '/'. */
async function sysfsCandidates(m: Machine, prefix: string): Promise<string[]> {
  if (!prefix.startsWith('/')) return ['/sys/', '/dev/'].filter((p) => p.startsWith(prefix));
  const { sysRoot } = await import('../../../sysfs/tree.js');
  const { resolve } = await import('../../../sysfs/vfs.js');
  const root = sysRoot(m);
  const dir = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const base = prefix.slice(dir.length);
  try {
    const d = resolve(root, dir, true).node;
    if (d.kind !== 'dir') return [];
    // names first, then only the matching entries are looked at (a directory may hold 10,000 devices)
    return d
      .list()
      .filter((n) => n.startsWith(base))
      .sort()
      .map((n) => {
        let e = d.lookup(n);
        if (e?.kind === 'link') {
          try {
            e = resolve(root, e.target, true).node; // targets are absolute: no walk back through this directory
          } catch {
            e = undefined; // a dangling link
          }
        }
        return dir + n + (e?.kind === 'dir' ? '/' : '');
      });
  } catch {
    return [];
  }
}

async function completeWords(ctx: Context, g: GlobalOpts, k: Dynamic, prefix: string): Promise<string[]> {
  if (k === 'trees') return bundledTreeNames(ctx);
  const m = await machineForCompletion(ctx, g);
  if (!m) return [];
  switch (k) {
    case 'devices': return m.devices.map((d) => d.name);
    case 'owners': return m.owners.filter((o) => o.alive).map((o) => o.name);
    case 'groups': return m.groups.map((g) => String(g.id));
    // registered drivers, and those a module would register (vfio-platform before modprobe)
    case 'drivers': return [...new Set([...m.drivers.map((d) => d.name), ...m.modulesAvailable.flatMap((x) => x.drivers)])];
    case 'modules': return m.modulesAvailable.map((x) => x.name.replace(/_/g, '-'));
    case 'loaded': return m.modules.map((x) => x.name);
    case 'sysfs': return sysfsCandidates(m, prefix);
  }
}

export interface CompleteOptions {
  kind: Dynamic;
  prefix: string;
}

export interface CompleteData {
  kind: Dynamic;
  names: string[];
}

export default defineCommand({
  name: '__complete',
  group: 'teach',
  hidden: true,
  summary: 'names from the machine for the completion scripts, read-only (never boots a state file)',
  example: 'vfioctl __complete devices\nvfioctl __complete sysfs /sys/bus/pl',
  args: [
    { name: 'kind', complete: 'none' },
    { name: 'prefix', description: 'what the word starts with (sysfs)', required: false, default: '', complete: 'none' },
  ],
  // the completion scripts' own files: read-only, and the machine may be the bundled default booted in memory
  machine: 'none',
  lessonCheck: false,
  options(p): CompleteOptions {
    const kind = word(p, 0);
    if (!(DYNAMIC as readonly string[]).includes(kind)) {
      throw new UsageError(`__complete: unknown kind "${kind}"`, `kinds: ${DYNAMIC.join(', ')} (this command is for the completion scripts: vfioctl completion --help)`);
    }
    return { kind: kind as Dynamic, prefix: word(p, 1) };
  },
  async run(rc, o: CompleteOptions): Promise<CompleteData> {
    return { kind: o.kind, names: await completeWords(rc.ctx, rc.g, o.kind, o.prefix) };
  },
  render: (d: CompleteData) => d.names.map((n) => n + '\n').join(''),
});
