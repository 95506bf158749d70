/**
 * Loadable modules: modprobe (with request_module for `vfio-reset:<compat>` aliases),
 * rmmod, lsmod, and /sys/module/<name>/parameters. cf. kernel/module/, kernel/kmod.c,
 * kernel/params.c.
 */
import type { Machine, ModuleInfo, Driver } from './machine.js';
import type { DeclaredReset } from '../devicetree/tree.js';
import { KernelError } from './errors.js';
import { driverRegister, driverUnregister } from './bus.js';
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
    // vfio.ko: MODULE_SOFTDEP("post: vfio_iommu_type1 vfio_iommu_spapr_tce")
    { name: 'vfio', aliases: [], reset: null, drivers: [], depends: [], softdepPost: ['vfio_iommu_type1'] },
    { name: 'vfio_iommu_type1', aliases: [], reset: null, drivers: [], depends: ['vfio'] },
    { name: 'vfio_platform_base', aliases: [], reset: null, drivers: [], depends: ['vfio'] },
    { name: 'vfio_platform', aliases: [], reset: null, drivers: ['vfio-platform'], depends: ['vfio', 'vfio_platform_base'] },
    { name: 'vfio_amba', aliases: [], reset: null, drivers: ['vfio-amba'], depends: ['vfio', 'vfio_platform_base'] },
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

/** A module parameter: kernel/params.c param_set_bool (kstrtobool) and its sysfs mode. */
interface ParamDef {
  default: 'Y' | 'N';
  /** 0444 read-only, 0644 writable through /sys/module/<mod>/parameters */
  mode: number;
}

/** Known parameters per module (module_param in drivers/vfio/platform/vfio_platform.c, drivers/vfio/vfio_main.c). */
const PARAMS: Record<string, Record<string, ParamDef>> = {
  vfio_platform: { reset_required: { default: 'Y', mode: 0o444 } },
  // CONFIG_VFIO_NOIOMMU=y, as distribution kernels build it
  vfio: { enable_unsafe_noiommu_mode: { default: 'N', mode: 0o644 } },
};

/** The parameters `mod` has, with their definitions (own lookups only: a tree may name a module "constructor"). */
export function moduleParamDefs(mod: string): Record<string, ParamDef> {
  return (Object.hasOwn(PARAMS, mod) ? PARAMS[mod] : undefined) ?? {};
}

/**
 * kstrtobool (lib/kstrtox.c) as param_set_bool uses it: y/Y/t/T/e/E/1 true, n/N/f/F/d/D/0
 * false, "on"/"of…" by the second character; a parameter given without '=' means true
 * (`null` here); anything else (including an empty value) is invalid.
 */
export function kstrtobool(v: string | null): 'Y' | 'N' | null {
  if (v === null) return 'Y';
  const c = v[0];
  if (c !== undefined && 'yYtTeE1'.includes(c)) return 'Y';
  if (c !== undefined && 'nNfFdD0'.includes(c)) return 'N';
  if (c === 'o' || c === 'O') {
    const d = v[1];
    if (d === 'n' || d === 'N') return 'Y';
    if (d === 'f' || d === 'F') return 'N';
  }
  return null;
}

/** parse_args' split of `name=value` / bare `name` words; '-' and '_' in names are the same (parameq). */
export function parseModuleArgs(words: readonly string[]): Record<string, string | null> {
  const out = Object.create(null) as Record<string, string | null>;
  for (const w of words) {
    const eq = w.indexOf('=');
    const name = (eq < 0 ? w : w.slice(0, eq)).replace(/-/g, '_');
    out[name] = eq < 0 ? null : w.slice(eq + 1);
  }
  return out;
}

/**
 * modprobe NAME [param=value…]: dependencies first, the module, then its soft
 * post-dependencies; a module that is already loaded is left alone (its parameters do
 * not change). Modules inserted before a later one fails stay loaded, as with modprobe.
 * Returns the names actually inserted.
 */
export function modprobe(m: Machine, name: string, args: Record<string, string | null> = {}): string[] {
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

function insert(m: Machine, info: ModuleInfo, args: Record<string, string | null>, inserted: string[], depth: number): void {
  if (isLoaded(m, info.name) || depth > 8) return;
  for (const dep of info.depends) {
    const d = findModuleInfo(m, dep);
    if (d) insert(m, d, {}, inserted, depth + 1);
  }
  const defs = moduleParamDefs(info.name);
  const params: Record<string, string> = {};
  for (const [k, d] of Object.entries(defs)) params[k] = d.default;
  for (const [k, v] of Object.entries(args)) {
    if (!Object.hasOwn(defs, k)) {
      printk(m, KERN_WARNING, `${info.name}: unknown parameter '${k}' ignored`);
      continue;
    }
    const b = kstrtobool(v);
    if (b === null) {
      printk(m, KERN_ERR, `${info.name}: \`${v ?? ''}' invalid for parameter \`${k}'`);
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
  for (const post of info.softdepPost ?? []) {
    const d = findModuleInfo(m, post);
    if (d) insert(m, d, {}, inserted, depth + 1);
  }
}

/**
 * Store to a writable parameter file (/sys/module/<mod>/parameters/<name>): the same
 * kstrtobool as at load; EINVAL for a value it refuses.
 */
export function moduleParamStore(m: Machine, mod: string, param: string, buf: string): number {
  const loaded = m.modules.find((x) => x.name === mod);
  const nul = buf.indexOf('\0');
  const v = (nul >= 0 ? buf.slice(0, nul) : buf).replace(/\n$/, '');
  const b = kstrtobool(v);
  if (!loaded || b === null) throw new KernelError('EINVAL', { hint: `${param} takes a boolean: 0/1, n/y, off/on` });
  loaded.params[param] = b;
  return buf.length;
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

/**
 * module_refcount: one reference per module that depends on it (ref_module at its
 * load), per user pinning it (a device holding its reset module, an open VFIO device
 * holding its driver's module), and the file descriptors whose fops it owns:
 * /dev/vfio/vfio containers, group and device fds hold `vfio`; a container with an
 * IOMMU set (VFIO_SET_IOMMU) holds `vfio_iommu_type1`. The fds are read from the owners.
 */
export function moduleRefcount(m: Machine, name: string): number {
  const mod = m.modules.find((x) => x.name === name);
  if (!mod) return 0;
  let n = mod.holders.length;
  const live = m.owners.filter((o) => o.alive);
  if (name === 'vfio') for (const o of live) n += (o.groups.length > 0 ? 1 : 0) + o.groups.length + o.devices.length;
  if (name === 'vfio_iommu_type1') n += live.filter((o) => o.groups.length > 0).length;
  return n;
}

/** The modules that use `name` (holders/, lsmod's "Used by" names). */
export function moduleHolders(m: Machine, name: string): string[] {
  return (m.modules.find((x) => x.name === name)?.holders ?? []).filter((h) => !h.includes(':'));
}

/** rmmod NAME: refused while its refcount is not 0 ("in use"); unregistering its drivers unbinds their devices. */
export function rmmod(m: Machine, name: string): void {
  const n = canonicalModuleName(name);
  const mod = m.modules.find((x) => x.name === n);
  if (!mod) {
    throw new KernelError('ENOENT', { op: 'exec', path: n, message: `rmmod: ERROR: Module ${n} is not currently loaded` });
  }
  if (moduleRefcount(m, n) > 0) {
    const users = moduleHolders(m, n);
    const refs = mod.holders.filter((h) => h.includes(':')).map((h) => h.replace(/^(vfio|fd):/, ''));
    const fds = moduleRefcount(m, n) - mod.holders.length;
    const why = [
      users.length ? `used by module ${users.join(', ')}` : '',
      refs.length ? `held by ${refs.join(', ')}` : '',
      fds > 0 && n === 'vfio_iommu_type1' ? `${fds} container${fds === 1 ? '' : 's'} using it as their IOMMU (VFIO_SET_IOMMU)` : '',
      fds > 0 && n !== 'vfio_iommu_type1' ? `${fds} open /dev/vfio file${fds === 1 ? '' : 's'} (containers, groups, device fds)` : '',
    ].filter(Boolean).join('; ');
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
