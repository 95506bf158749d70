/**
 * vfio-platform / vfio-amba probe and remove, cf. drivers/vfio/platform/vfio_platform.c,
 * vfio_amba.c and vfio_platform_common.c (vfio_platform_init_common,
 * vfio_platform_get_reset, vfio_platform_remove_common).
 */
import type { Machine, Device, Driver, ResetMethod } from '../base/machine.js';
import { findGroup } from '../base/machine.js';
import type { ErrnoName } from '../base/errno.js';
import { devErr, devWarn, printk, KERN_ERR } from '../klog/klog.js';
import { requestModule, moduleParam, moduleGet, modulePut } from '../base/module.js';

export const VFIO_DEVICE_FLAGS_RESET = 0x1;
export const VFIO_DEVICE_FLAGS_PLATFORM = 0x4;
export const VFIO_DEVICE_FLAGS_AMBA = 0x8;

/** vfio_platform_lookup_reset: exact strcmp of the first compatible in the handler list. */
function lookupReset(m: Machine, compat: string): ResetMethod | null {
  const h = m.resetHandlers.find((r) => r.compatible === compat);
  return h ? { kind: 'module', module: h.module, compatible: compat } : null;
}

/**
 * The what-if generic reset-controller path (Geert Uytterhoeven's series, never merged):
 * exactly one `resets` line that no other device uses.
 */
export function genericResetCandidate(dev: Device): ResetMethod | null {
  if (dev.resets.length !== 1) return null;
  const line = dev.resets[0]!;
  if (line.sharedWith.length > 0) return null;
  return { kind: 'reset-controller', controller: line.controller, args: line.args };
}

/** vfio_platform_get_reset */
export function getReset(m: Machine, dev: Device, compat: string): ResetMethod | null {
  if (dev.acpiRst) return { kind: 'acpi' };
  let r = lookupReset(m, compat);
  if (!r) {
    requestModule(m, `vfio-reset:${compat}`);
    r = lookupReset(m, compat);
  }
  if (!r && m.options.genericResetWhatIf) r = genericResetCandidate(dev);
  return r;
}

export function resetRequired(m: Machine, drv: Driver): boolean {
  if (drv.name === 'vfio-amba') return false;
  const v = moduleParam(m, 'vfio_platform', 'reset_required');
  return v === undefined || v === 'Y';
}

/** vfio_platform_probe → vfio_platform_init_common → vfio_register_group_dev */
export function vfioProbe(m: Machine, dev: Device, drv: Driver): ErrnoName | null {
  const legacy = m.options.legacyMessages;
  const compat = dev.of.compatible[0];
  if (compat === undefined && !dev.acpiRst) {
    devErr(m, dev, `VFIO: Cannot retrieve compat for ${dev.name}`);
    return 'EINVAL';
  }
  if (drv.name === 'vfio-amba') devWarn(m, dev, 'DEPRECATION: vfio-amba is deprecated and will be removed in a future kernel release');
  const reset = getReset(m, dev, compat ?? '');
  if (!reset && resetRequired(m, drv)) {
    if (legacy) printk(m, KERN_ERR, `vfio_platform_probe_common: No reset function found for device ${dev.name}`);
    else devErr(m, dev, `VFIO: No reset function found for device ${dev.name}`);
    return 'ENOENT';
  }
  if (dev.iommuGroup === null || !findGroup(m, dev.iommuGroup)) {
    if (legacy) printk(m, KERN_ERR, `VFIO: No IOMMU group for device ${dev.name}`);
    return 'EINVAL';
  }
  if (reset?.kind === 'module') moduleGet(m, reset.module, `vfio:${dev.name}`);
  const base = dev.bus === 'amba' ? VFIO_DEVICE_FLAGS_AMBA : VFIO_DEVICE_FLAGS_PLATFORM;
  dev.vfio = { index: lowestFreeVfioIndex(m), reset, openCount: 0, flags: base | (reset ? VFIO_DEVICE_FLAGS_RESET : 0) };
  return null;
}

/** vfio_platform_remove: the caller has made sure no fd is open. */
export function vfioRemove(m: Machine, dev: Device): void {
  const r = dev.vfio?.reset;
  if (r?.kind === 'module') modulePut(m, r.module, `vfio:${dev.name}`);
  dev.vfio = null;
}

/** vfio_alloc_device's ida: the lowest index no VFIO device uses. */
function lowestFreeVfioIndex(m: Machine): number {
  const used = new Set<number>();
  for (const d of m.devices) if (d.vfio) used.add(d.vfio.index);
  let i = 0;
  while (used.has(i)) i++;
  return i;
}
