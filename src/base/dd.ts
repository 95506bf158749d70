/**
 * Binding devices to drivers, cf. drivers/base/dd.c (really_probe, driver_probe_device,
 * device_attach, device_driver_attach, device_release_driver) and
 * drivers/base/platform.c (platform_match).
 */
import type { Machine, Device, Driver } from './machine.js';
import { findDriver, findGroup } from './machine.js';
import { type ErrnoName, errnoNumber } from './errno.js';
import { printk, devErr, KERN_WARNING } from '../klog/klog.js';
import { vfioProbe, vfioRemove } from '../vfio/platform.js';

/** platform_match: override first and exclusive, then OF compatible, then the device name. */
export function driverMatchDevice(drv: Driver, dev: Device): boolean {
  if (drv.bus !== dev.bus) return false;
  if (dev.driverOverride !== null) return dev.driverOverride === drv.name;
  if (drv.compatible.length > 0 && dev.of.compatible.some((c) => drv.compatible.includes(c))) return true;
  // amba_match uses the peripheral id table only; the name fallback is platform's
  return dev.bus === 'platform' && dev.name === drv.name;
}

/** Outcome of calling the driver's probe: null on success. */
function callDriverProbe(m: Machine, dev: Device, drv: Driver): ErrnoName | null {
  if (drv.kind === 'vfio') return vfioProbe(m, dev, drv);
  // a kernel DMA-API driver must claim the group's default domain (iommu_device_use_default_domain)
  if (dev.iommuGroup !== null) {
    const g = findGroup(m, dev.iommuGroup);
    if (g && g.owner !== null) return 'EBUSY';
  }
  if (drv.probeError) return drv.probeError as ErrnoName;
  return null;
}

/**
 * The errno of the device's last failed probe in this process. drivers_probe swallows
 * it, as the kernel does; the CLI uses it to say why a "successful" probe bound nothing.
 */
const lastError = new WeakMap<Device, ErrnoName>();

export function lastProbeError(dev: Device): ErrnoName | undefined {
  return lastError.get(dev);
}

/**
 * really_probe: link the driver, run its probe, undo on failure. Returns null on
 * success or the probe's errno (the caller decides whether it reaches user space).
 */
export function reallyProbe(m: Machine, dev: Device, drv: Driver): ErrnoName | null {
  dev.driver = drv.name;
  const err = callDriverProbe(m, dev, drv);
  if (err === null) {
    lastError.delete(dev);
    return null;
  }
  lastError.set(dev, err);
  if (err !== 'EPROBE_DEFER' && err !== 'ENODEV' && err !== 'ENXIO') {
    if (m.options.legacyMessages) {
      dev.driver = null;
      printk(m, KERN_WARNING, `${drv.name}: probe of ${dev.name} failed with error -${errnoNumber(err)}`);
    } else {
      devErr(m, dev, `probe with driver ${drv.name} failed with error -${errnoNumber(err)}`);
    }
  }
  dev.driver = null;
  return err;
}

/** device_driver_attach (the `bind` file): EBUSY if bound; probe errors returned, defer → EAGAIN. */
export function deviceDriverAttach(m: Machine, drv: Driver, dev: Device): ErrnoName | null {
  if (dev.driver !== null) return 'EBUSY';
  const err = reallyProbe(m, dev, drv);
  if (err === 'EPROBE_DEFER') return 'EAGAIN';
  return err;
}

/**
 * device_attach (drivers_probe, autoprobe): try every matching driver in registration
 * order; a failed probe is logged and the next driver is tried. Returns whether one bound.
 */
export function deviceAttach(m: Machine, dev: Device): boolean {
  if (dev.driver !== null) return true;
  for (const drv of m.drivers) {
    if (!driverMatchDevice(drv, dev)) continue;
    if (reallyProbe(m, dev, drv) === null) return true;
  }
  return false;
}

/** driver_attach after driver registration (bus_add_driver with drivers_autoprobe set). */
export function driverAttach(m: Machine, drv: Driver): void {
  if (!m.buses[drv.bus].autoprobe) return;
  for (const dev of m.devices) {
    if (dev.bus === drv.bus && dev.driver === null && driverMatchDevice(drv, dev)) reallyProbe(m, dev, drv);
  }
}

/** device_release_driver: the driver's remove runs and the link goes. Callers check the VFIO open count first. */
export function deviceReleaseDriver(m: Machine, dev: Device): void {
  if (dev.driver === null) return;
  const drv = findDriver(m, dev.bus, dev.driver);
  if (drv?.kind === 'vfio') vfioRemove(m, dev);
  dev.driver = null;
}

/** driver_register + bus_add_driver: append to the bus's list, then autoprobe. */
export function driverRegister(m: Machine, drv: Driver): void {
  if (findDriver(m, drv.bus, drv.name)) return;
  m.drivers.push(drv);
  driverAttach(m, drv);
}

/** driver_unregister: every bound device is released first. */
export function driverUnregister(m: Machine, drv: Driver): void {
  for (const dev of m.devices) if (dev.bus === drv.bus && dev.driver === drv.name) deviceReleaseDriver(m, dev);
  m.drivers = m.drivers.filter((d) => d !== drv);
}
