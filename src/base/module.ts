/**
 * Loadable modules: modprobe (with request_module for `vfio-reset:<compat>` aliases),
 * rmmod, lsmod, and /sys/module/<name>/parameters. cf. kernel/module/, kernel/kmod.c,
 * kernel/params.c.
 */
import type { Machine, ModuleInfo, Driver } from './machine.js';
import type { DeclaredReset } from '../devicetree/tree.js';
import { KernelError } from './errors.js';
import { driverRegister, driverUnregister } from './dd.js';
import { printk, KERN_INFO, KERN_WARNING, KERN_ERR } from '../klog/klog.js';

/** Module names are stored as the kernel shows them: `-` becomes `_`. */
export function canonicalModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

const RESET_DEPRECATION = (what: string): string =>
  `DEPRECATION: VFIO ${what} platform reset is deprecated and will be removed in a future kernel release`;

/** The modules a distribution kernel ships for this workflow (drivers/vfio/, drivers/vfio/platform/reset/). */
export function stockModules(): ModuleInfo[] {
  return [
    { name: 'vfio', aliases: [], reset: null, drivers: [], depends: [] },
    { name: 'vfio_iommu_type1', aliases: [], reset: null, drivers: [], depends: ['vfio'] },
    { name: 'vfio_platform_base', aliases: [], reset: null, drivers: [], depends: ['vfio', 'vfio_iommu_type1'] },
    { name: 'vfio_platform', aliases: [], reset: null, drivers: ['vfio-platform'], depends: ['vfio_platform_base'] },
    { name: 'vfio_amba', aliases: [], reset: null, drivers: ['vfio-amba'], depends: ['vfio_platform_base'] },
    {
      name: 'vfio_platform_calxedaxgmac', aliases: ['vfio-reset:calxeda,hb-xgmac'], drivers: [], depends: ['vfio_platform_base'],
      reset: { compatible: 'calxeda,hb-xgmac', deprecation: RESET_DEPRECATION('Calxeda xgmac') },
    },
    {
      name: 'vfio_platform_amdxgbe', aliases: ['vfio-reset:amd,xgbe-seattle-v1a'], drivers: [], depends: ['vfio_platform_base'],
      reset: { compatible: 'amd,xgbe-seattle-v1a', deprecation: RESET_DEPRECATION('AMD XGBE') },
    },
    {
      name: 'vfio_platform_bcmflexrm', aliases: ['vfio-reset:brcm,iproc-flexrm-mbox'], drivers: [], depends: ['vfio_platform_base'],
      reset: { compatible: 'brcm,iproc-flexrm-mbox', deprecation: RESET_DEPRECATION('Broadcom FlexRM') },
    },
  ];
}

export function treeResetModules(resets: readonly DeclaredReset[]): ModuleInfo[] {
  return resets.map((r) => ({
    name: canonicalModuleName(r.module),
    aliases: [`vfio-reset:${r.compatible}`],
    reset: { compatible: r.compatible, deprecation: null },
    drivers: [],
    depends: ['vfio_platform_base'],
  }));
}

/** The drivers a module registers, as Driver records. */
function moduleDrivers(info: ModuleInfo): Driver[] {
  return info.drivers.map((name) => ({
    name,
    bus: name === 'vfio-amba' ? 'amba' : 'platform',
    compatible: [],
    kind: 'vfio',
    module: info.name,
    probeError: null,
  }));
}

export function findModuleInfo(m: Machine, name: string): ModuleInfo | undefined {
  const n = canonicalModuleName(name);
  return m.modulesAvailable.find((x) => x.name === n || x.aliases.includes(name));
}

export function isLoaded(m: Machine, name: string): boolean {
  return m.modules.some((x) => x.name === canonicalModuleName(name));
}

export function moduleParam(m: Machine, mod: string, param: string): string | undefined {
  return m.modules.find((x) => x.name === mod)?.params[param];
}

/** Known parameters per module: name → kind. */
const PARAMS: Record<string, Record<string, 'bool'>> = { vfio_platform: { reset_required: 'bool' } };
const PARAM_DEFAULTS: Record<string, Record<string, string>> = { vfio_platform: { reset_required: 'Y' } };

/** kstrtobool as param_set_bool uses it */
function parseBool(v: string): 'Y' | 'N' | null {
  const c = v[0];
  if (c === 'y' || c === 'Y' || c === '1') return 'Y';
  if (c === 'n' || c === 'N' || c === '0') return 'N';
  if (v === 'on' || v === 'On' || v === 'ON') return 'Y';
  if (v === 'off' || v === 'Off' || v === 'OFF') return 'N';
  return null;
}

/**
 * modprobe NAME [param=value…]: dependencies first; a module that is already loaded
 * is left alone (its parameters do not change). Returns the names actually inserted.
 */
export function modprobe(m: Machine, name: string, args: Record<string, string> = {}): string[] {
  const info = findModuleInfo(m, name);
  if (!info) {
    throw new KernelError('ENOENT', {
      op: 'exec',
      path: name,
      message: `modprobe: FATAL: Module ${name} not found in directory /lib/modules/${KERNEL_RELEASE}`,
      hint: `modules on this machine: ${m.modulesAvailable.map((x) => x.name).join(', ')}`,
    });
  }
  const inserted: string[] = [];
  insert(m, info, args, inserted, 0);
  return inserted;
}

export const KERNEL_RELEASE = '6.17.0-vfioctl';

function insert(m: Machine, info: ModuleInfo, args: Record<string, string>, inserted: string[], depth: number): void {
  if (isLoaded(m, info.name) || depth > 8) return;
  for (const dep of info.depends) {
    const d = findModuleInfo(m, dep);
    if (d) insert(m, d, {}, inserted, depth + 1);
  }
  // own lookups only: a tree may declare a module named "constructor"
  const params: Record<string, string> = { ...(Object.hasOwn(PARAM_DEFAULTS, info.name) ? PARAM_DEFAULTS[info.name] : {}) };
  const known = (Object.hasOwn(PARAMS, info.name) ? PARAMS[info.name] : undefined) ?? {};
  for (const [k, v] of Object.entries(args)) {
    if (!Object.prototype.hasOwnProperty.call(known, k)) {
      printk(m, KERN_WARNING, `${info.name}: unknown parameter '${k}' ignored`);
      continue;
    }
    const b = parseBool(v);
    if (b === null) {
      printk(m, KERN_ERR, `${info.name}: \`${v}' invalid for parameter \`${k}'`);
      throw new KernelError('EINVAL', {
        op: 'exec',
        path: info.name,
        message: `modprobe: ERROR: could not insert '${info.name}': Invalid argument`,
        hint: `${k} takes a boolean: ${k}=0 or ${k}=1`,
      });
    }
    params[k] = b;
  }
  m.modules.push({ name: info.name, params, holders: [], builtin: false });
  for (const dep of info.depends) {
    const d = m.modules.find((x) => x.name === dep);
    if (d && !d.holders.includes(info.name)) d.holders.push(info.name);
  }
  inserted.push(info.name);
  if (info.name === 'vfio') printk(m, KERN_INFO, 'VFIO - User Level meta-driver version: 0.3');
  if (info.reset) {
    m.resetHandlers.push({ compatible: info.reset.compatible, module: info.name, deprecation: info.reset.deprecation, warned: false });
  }
  for (const drv of moduleDrivers(info)) driverRegister(m, drv);
}

/** request_module("vfio-reset:<compat>"): silently loads a module carrying that alias, if any. */
export function requestModule(m: Machine, alias: string): boolean {
  const info = m.modulesAvailable.find((x) => x.aliases.includes(alias));
  if (!info) return false;
  if (!isLoaded(m, info.name)) insert(m, info, {}, [], 0);
  return true;
}

/** try_module_get by a user (a device pinning its reset module, an open device fd). */
export function moduleGet(m: Machine, name: string, user: string): void {
  const mod = m.modules.find((x) => x.name === name);
  if (mod && !mod.holders.includes(user)) mod.holders.push(user);
}

export function modulePut(m: Machine, name: string, user: string): void {
  const mod = m.modules.find((x) => x.name === name);
  if (mod) mod.holders = mod.holders.filter((h) => h !== user);
}

/** rmmod NAME: refused while something holds it ("in use"); unregistering its drivers unbinds their devices. */
export function rmmod(m: Machine, name: string): void {
  const n = canonicalModuleName(name);
  const mod = m.modules.find((x) => x.name === n);
  if (!mod) {
    throw new KernelError('ENOENT', { op: 'exec', path: n, message: `rmmod: ERROR: Module ${n} is not currently loaded` });
  }
  if (mod.holders.length > 0) {
    const users = mod.holders.filter((h) => !h.includes(':'));
    const refs = mod.holders.filter((h) => h.includes(':')).map((h) => h.replace(/^(vfio|fd):/, ''));
    const why = [users.length ? `used by module ${users.join(', ')}` : '', refs.length ? `held by ${refs.join(', ')}` : ''].filter(Boolean).join('; ');
    throw new KernelError('EBUSY', {
      op: 'exec',
      path: n,
      message: `rmmod: ERROR: Module ${n} is in use${users.length ? ' by: ' + users.join(' ') : ''}`,
      hint: `${why}; release those first`,
    });
  }
  const info = findModuleInfo(m, n);
  for (const dname of info?.drivers ?? []) {
    const drv = m.drivers.find((d) => d.name === dname && d.module === n);
    if (drv) driverUnregister(m, drv);
  }
  m.resetHandlers = m.resetHandlers.filter((h) => h.module !== n);
  m.modules = m.modules.filter((x) => x !== mod);
  for (const other of m.modules) other.holders = other.holders.filter((h) => h !== n);
}
