/**
 * Reset for vfio-platform devices, cf. drivers/vfio/platform/vfio_platform_common.c
 * (vfio_platform_lookup_reset, vfio_platform_get_reset, vfio_platform_call_reset) and
 * the reset modules of drivers/vfio/platform/reset/ (module_vfio_reset_handler: a
 * `vfio-reset:<compat>` alias, a handler registered at module init; since v6.18 each
 * handler prints a dev_err_once deprecation notice when it first runs).
 */
import type { Machine, Device, ResetMethod } from '../base/machine.js';
import { devErr, devInfo, devWarn } from '../klog/klog.js';
import { requestModule } from '../base/module.js';

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

/** vfio_platform_get_reset: ACPI _RST, else a registered handler, else request_module("vfio-reset:<compat>") and look again. */
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

/**
 * dev_err_once in a module: printed the first time after each load of `module`
 * (the once-flag lives in the module's data, so rmmod + modprobe prints it again).
 */
export function devErrOnce(m: Machine, module: string, dev: Device, text: string): void {
  const mod = m.modules.find((x) => x.name === module);
  if (!mod) return;
  const once = (mod.once ??= []);
  if (once.includes(text)) return;
  once.push(text);
  devErr(m, dev, text);
}

/**
 * vfio_platform_call_reset, with the messages of open, close and VFIO_DEVICE_RESET:
 * `VFIO: reset` (info) before the handler runs, then the handler's own lines (a reset
 * module's deprecation notice, at err level, once per module load). No reset:
 * `VFIO: no reset function found!` (warn). Returns whether a reset ran.
 */
export function callReset(m: Machine, dev: Device): boolean {
  const r = dev.vfio?.reset ?? null;
  if (!r) {
    devWarn(m, dev, 'VFIO: no reset function found!');
    return false;
  }
  devInfo(m, dev, 'VFIO: reset');
  if (r.kind === 'module') {
    const h = m.resetHandlers.find((x) => x.module === r.module);
    if (h?.deprecation) devErrOnce(m, h.module, dev, h.deprecation);
  }
  const a = dev.activity;
  a.running = false;
  a.masked = a.masked.map(() => false);
  a.iova = null;
  return true;
}
