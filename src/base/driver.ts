/**
 * Driver lifecycle pieces of drivers/base/driver.c: driver_override
 * (driver_set_override / __device_set_driver_override), and the operations a driver
 * registers with the core (struct device_driver's probe/remove and its
 * driver_managed_dma flag). Drivers register their operations when their code is
 * loaded (module init or built-in initcall); the driver core calls through them and
 * never imports a driver.
 */
import type { Machine, Device, Driver } from './machine.js';
import type { ErrnoName } from './errno.js';
import { KernelError } from './errors.js';

/** PAGE_SIZE of the simulated kernel (4 KiB pages). */
export const PAGE_SIZE = 4096;

/** struct device_driver's operations, as the driver core calls them. */
export interface DriverOps {
  /** the driver's probe: null on success, else the errno it returns (negated in the kernel) */
  probe(m: Machine, dev: Device, drv: Driver): ErrnoName | null;
  /** the driver's remove */
  remove(m: Machine, dev: Device, drv: Driver): void;
}

/** A kernel driver from the catalog or the tree: its probe returns what the tree declares. */
const HOST_OPS: DriverOps = {
  probe: (_m, _dev, drv) => (drv.probeError as ErrnoName | null) ?? null,
  remove: () => {},
};

const registered = new Map<string, DriverOps>();

/** Called by a driver's code when it is loaded (cf. platform_driver_register's .probe/.remove). */
export function registerDriverOps(name: string, ops: DriverOps): void {
  registered.set(name, ops);
}

/** The operations of `drv`: the ones its code registered, or a plain kernel driver's. */
export function driverOps(drv: Driver): DriverOps {
  const ops = registered.get(drv.name);
  if (ops) return ops;
  if (drv.kind === 'host') return HOST_OPS;
  // a VFIO driver whose code was never loaded: a bug in how vfioctl was put together
  throw new Error(`driver ${drv.name} has no registered operations (its code was not loaded)`);
}

/** driver_managed_dma: the driver does its own DMA ownership (VFIO drivers); the others use the kernel DMA API. */
export function driverManagedDma(drv: Driver): boolean {
  return drv.kind === 'vfio';
}

/** The C string a store sees: it ends at the first NUL. */
export function cstr(buf: string): string {
  const nul = buf.indexOf('\0');
  return nul >= 0 ? buf.slice(0, nul) : buf;
}

/**
 * driver_set_override: ≥ PAGE_SIZE−1 bytes → EINVAL; the length is strlen's; empty or a
 * leading newline clears; otherwise the text up to the first newline, other whitespace
 * kept. No check that such a driver exists; never unbinds, never probes.
 */
export function driverSetOverride(dev: Device, buf: string): number {
  const count = buf.length;
  if (count >= PAGE_SIZE - 1) throw new KernelError('EINVAL', { hint: `driver_override takes a driver name (at most ${PAGE_SIZE - 2} bytes)` });
  const s = cstr(buf);
  if (s.length === 0) {
    dev.driverOverride = null;
    return count;
  }
  const nl = s.indexOf('\n');
  dev.driverOverride = nl === 0 ? null : nl > 0 ? s.slice(0, nl) : s;
  return count;
}

/** driver_override_show */
export function driverOverrideShow(dev: Device): string {
  return `${dev.driverOverride ?? '(null)'}\n`;
}
