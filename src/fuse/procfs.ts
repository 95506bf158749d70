/**
 * The two procfs files a bind script reads besides sysfs: /proc/modules (what lsmod and
 * VILLASnode read, cf. kernel/module/procfs.c m_show) and nothing else. The simulator does
 * not know module sizes; every module reports one plausible size.
 */
import type { Machine } from '../base/machine.js';
import { ro, lazyDir, type VDir } from '../sysfs/vfs.js';

/** Module text size reported for every simulated module (the kernel prints the real one). */
export const MODULE_SIZE = 16384;

export interface ModuleLine {
  name: string;
  size: number;
  refcnt: number;
  /** modules that use this one */
  usedBy: string[];
}

/** Loaded modules (not built-in ones), most recently loaded first, as /proc/modules lists them. */
export function moduleLines(m: Machine): ModuleLine[] {
  return [...m.modules].filter((x) => !x.builtin).reverse().map((x) => ({
    name: x.name,
    size: MODULE_SIZE,
    refcnt: x.holders.length,
    usedBy: x.holders.filter((h) => !h.includes(':')),
  }));
}

/** m_show: `name size refcnt deps, state address` with deps `-` when none. */
export function procModules(m: Machine): string {
  return moduleLines(m)
    .map((l) => `${l.name} ${l.size} ${l.refcnt} ${l.usedBy.length ? l.usedBy.join(',') + ',' : '-'} Live 0x0000000000000000\n`)
    .join('');
}

/** `/proc` with only `modules` in it, mode 0444 as in procfs. */
export function procDir(m: Machine): VDir {
  const modules = ro(() => procModules(m), 0o444);
  return lazyDir(() => ['modules'], (n) => (n === 'modules' ? modules : undefined));
}
