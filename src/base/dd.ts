/**
 * Binding devices to drivers, cf. drivers/base/dd.c (really_probe, call_driver_probe,
 * __driver_probe_device, device_driver_attach, __device_attach, driver_attach,
 * device_release_driver). The core calls each driver through the operations it
 * registered (base/driver.ts); it knows no driver by name.
 */
import type { Machine, Device, Driver } from './machine.js';
import { type ErrnoName, errnoNumber } from './errno.js';
import { printk, devErr, KERN_WARNING } from '../klog/klog.js';
import { driverOps, driverManagedDma } from './driver.js';
import { platformMatch } from './platform.js';
import { iommuDeviceUseDefaultDomain } from '../iommu/group.js';

/** driver_match_device: the bus's match (platform_match / amba_match). */
export function driverMatchDevice(drv: Driver, dev: Device): boolean {
  return platformMatch(drv, dev);
}

/**
 * Why a probe attempt failed: `dma` when the bus's dma_configure refused before the
 * driver's probe ran (a negative code in the kernel: it stops drivers_probe's loop and
 * nothing is logged), `probe` when the driver's probe returned the error.
 */
export interface ProbeFailure {
  errno: ErrnoName;
  stage: 'dma' | 'probe';
}

/**
 * The device's last failed probe in this process. drivers_probe swallows it, as the
 * kernel does; the CLI uses it to say why a "successful" probe bound nothing.
 */
const lastFailure = new WeakMap<Device, ProbeFailure>();

export function lastProbeError(dev: Device): ErrnoName | undefined {
  return lastFailure.get(dev)?.errno;
}

export function lastProbeFailure(dev: Device): ProbeFailure | undefined {
  return lastFailure.get(dev);
}

/**
 * platform_dma_configure: of_dma_configure, then, for a driver that uses the kernel DMA
 * API (no driver_managed_dma), iommu_device_use_default_domain, which refuses (EBUSY)
 * while user space owns the device's IOMMU group.
 */
function dmaConfigure(m: Machine, dev: Device, drv: Driver): ErrnoName | null {
  if (driverManagedDma(drv)) return null;
  return iommuDeviceUseDefaultDomain(m, dev);
}

/** call_driver_probe: run the probe; -ENODEV, -ENXIO and -EPROBE_DEFER are debug-only, the rest logged at err. */
function callDriverProbe(m: Machine, dev: Device, drv: Driver): ErrnoName | null {
  const err = driverOps(drv).probe(m, dev, drv);
  if (err === null || err === 'EPROBE_DEFER' || err === 'ENODEV' || err === 'ENXIO') return err;
  if (m.options.legacyMessages) {
    // older cores printed the line after the driver link was gone, without the device prefix
    dev.driver = null;
    printk(m, KERN_WARNING, `${drv.name}: probe of ${dev.name} failed with error -${errnoNumber(err)}`);
  } else {
    devErr(m, dev, `probe with driver ${drv.name} failed with error -${errnoNumber(err)}`);
  }
  return err;
}

/**
 * really_probe: link the driver, dma_configure, the driver's probe; undo on failure.
 * Returns null on success or the failure (the caller decides whether it reaches user space).
 */
export function reallyProbe(m: Machine, dev: Device, drv: Driver): ProbeFailure | null {
  dev.driver = drv.name;
  const dma = dmaConfigure(m, dev, drv);
  const f: ProbeFailure | null = dma !== null ? { errno: dma, stage: 'dma' } : probeFailure(callDriverProbe(m, dev, drv));
  if (f === null) {
    lastFailure.delete(dev);
    return null;
  }
  lastFailure.set(dev, f);
  dev.driver = null;
  return f;
}

function probeFailure(err: ErrnoName | null): ProbeFailure | null {
  return err === null ? null : { errno: err, stage: 'probe' };
}

/** device_driver_attach (the `bind` file): EBUSY if bound; every failure as its errno, a deferral as EAGAIN. */
export function deviceDriverAttach(m: Machine, drv: Driver, dev: Device): ErrnoName | null {
  if (dev.driver !== null) return 'EBUSY';
  const f = reallyProbe(m, dev, drv);
  if (f === null) return null;
  return f.errno === 'EPROBE_DEFER' ? 'EAGAIN' : f.errno;
}

export interface AttachResult {
  bound: boolean;
  /** a failure before a driver's probe (dma_configure): it ends the walk over the drivers */
  error: ErrnoName | null;
}

/**
 * __device_attach (drivers_probe, autoprobe): try every matching driver in registration
 * order; a failed probe is logged and the next driver tried; a failure from the attach
 * itself (dma_configure) stops the walk and is returned.
 */
export function deviceAttach(m: Machine, dev: Device): AttachResult {
  if (dev.driver !== null) return { bound: true, error: null };
  for (const drv of m.drivers) {
    if (!driverMatchDevice(drv, dev)) continue;
    const f = reallyProbe(m, dev, drv);
    if (f === null) return { bound: true, error: null };
    if (f.stage === 'dma') return { bound: false, error: f.errno };
  }
  return { bound: false, error: null };
}

/** driver_attach after driver registration (bus_add_driver with drivers_autoprobe set); failures are not reported. */
export function driverAttach(m: Machine, drv: Driver): void {
  if (!m.buses[drv.bus].autoprobe) return;
  for (const dev of m.devices) {
    if (dev.bus === drv.bus && dev.driver === null && driverMatchDevice(drv, dev)) reallyProbe(m, dev, drv);
  }
}

/** device_release_driver: the driver's remove runs and the link goes. Callers check the VFIO open count first. */
export function deviceReleaseDriver(m: Machine, dev: Device): void {
  if (dev.driver === null) return;
  const drv = m.drivers.find((d) => d.bus === dev.bus && d.name === dev.driver);
  if (drv) driverOps(drv).remove(m, dev, drv);
  dev.driver = null;
}
