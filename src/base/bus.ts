/**
 * The bus's sysfs files and driver registration, cf. drivers/base/bus.c (bind_store,
 * unbind_store, drivers_probe_store, drivers_autoprobe_store/show, bus_add_driver,
 * bus_remove_driver) and drivers/base/driver.c (driver_register, driver_unregister).
 * Refusals carry facts (KernelError.reason); the CLI words the advice.
 */
import type { Machine, Device, BusName, Driver } from './machine.js';
import { findDriver, findGroup } from './machine.js';
import { KernelError, type Reason } from './errors.js';
import type { ErrnoName } from './errno.js';
import { cstr } from './driver.js';
import { deviceDriverAttach, deviceReleaseDriver, deviceAttach, driverMatchDevice, driverAttach, lastProbeFailure } from './dd.js';
import { lastVfioProbeStep } from '../vfio/probe-step.js';
import { deviceIommu } from '../iommu/group.js';

/** sysfs_streq: equal, allowing one trailing newline on the written side; the C string ends at NUL. */
export function sysfsStreq(written: string, name: string): boolean {
  const w = cstr(written);
  return w === name || w === name + '\n';
}

/** bus_find_device_by_name */
export function busFindDeviceByName(m: Machine, bus: BusName, buf: string): Device | undefined {
  return m.devices.find((d) => d.bus === bus && sysfsStreq(buf, d.name));
}

/** The name a user wrote, for messages: without the NUL tail and one trailing newline. */
function writtenName(buf: string): string {
  return cstr(buf).replace(/\n$/, '');
}

/** bind_store: ENODEV for no such device or no match, else device_driver_attach's answer. */
export function bindStore(m: Machine, drv: Driver, buf: string): number {
  const dev = busFindDeviceByName(m, drv.bus, buf);
  if (!dev || !driverMatchDevice(drv, dev)) throw new KernelError('ENODEV', { reason: noMatchReason(drv, dev, buf) });
  const err = deviceDriverAttach(m, drv, dev);
  if (err !== null) throw new KernelError(err, { reason: probeFailureReason(m, dev, drv, err) });
  return buf.length;
}

function noMatchReason(drv: Driver, dev: Device | undefined, buf: string): Reason {
  if (!dev) return { kind: 'no-device', bus: drv.bus, name: writtenName(buf) };
  if (dev.driverOverride !== null && dev.driverOverride !== drv.name) return { kind: 'override-mismatch', device: dev.name, override: dev.driverOverride, driver: drv.name };
  if (drv.kind === 'vfio') return { kind: 'no-match-table', device: dev.name, driver: drv.name };
  return { kind: 'no-match', device: dev.name, driver: drv.name, compatible: dev.of.compatible };
}

/**
 * The facts behind a failed probe of `dev` by `drv` with `err`, for the CLI to word:
 * already bound, a group user space owns (dma_configure), the vfio-platform check that
 * refused (reset, IOMMU group, cache coherency), or nothing known.
 */
export function probeFailureReason(m: Machine, dev: Device, drv: Driver, err: ErrnoName | string): Reason | undefined {
  if (err === 'EBUSY' && dev.driver !== null) return { kind: 'already-bound', device: dev.name, driver: dev.driver };
  if (err === 'EBUSY' && dev.iommuGroup !== null && lastProbeFailure(dev)?.stage === 'dma') {
    const g = findGroup(m, dev.iommuGroup);
    if (g?.owner) {
      const owner = m.owners.find((o) => o.alive && o.name === g.owner);
      const held = owner ? owner.devices.filter((n) => g.devices.includes(n)) : [];
      return { kind: 'group-owned', device: dev.name, driver: drv.name, group: g.id, owner: g.owner, held };
    }
  }
  if (drv.kind !== 'vfio') return undefined;
  const step = lastVfioProbeStep(dev);
  if (err === 'ENOENT' && step === 'reset') {
    const shared = dev.resets.flatMap((r) => r.sharedWith);
    if (m.options.genericResetWhatIf && shared.length > 0) return { kind: 'shared-reset-line', device: dev.name, sharedWith: shared };
    return { kind: 'no-reset', device: dev.name, compatible: dev.of.compatible[0] ?? '', moduleLoaded: m.modules.some((x) => x.name === 'vfio_platform') };
  }
  if (err === 'EINVAL' && step === 'iommu-group') return { kind: 'no-iommu-group', device: dev.name };
  if (err === 'EINVAL' && step === 'cache-coherency') {
    const io = deviceIommu(m, dev);
    return { kind: 'no-cache-coherency', device: dev.name, iommu: io.node ?? '', iommuDriver: io.driver };
  }
  return undefined;
}

/** What unbind does to a device whose VFIO fd is open: the writer sleeps (vfio_unregister_group_dev). */
export function blockedUnbind(m: Machine, dev: Device): KernelError {
  const holders = m.owners.filter((o) => o.alive && o.devices.includes(dev.name));
  const who = holders.map((o) => `'${o.name}' (pid ${o.pid})`).join(', ') || 'a user-space owner';
  return new KernelError('EWOULDBLOCK', {
    message: `write would block: ${dev.name} is open by ${who}; the kernel waits (uninterruptibly after a signal) until the device is released, and vfio-platform has no way to ask the owner to let go`,
    reason: { kind: 'device-open', device: dev.name, owner: holders[0]?.name ?? 'OWNER' },
  });
}

/** unbind_store: ENODEV unless the device is bound to this driver; an open VFIO device blocks the writer. */
export function unbindStore(m: Machine, drv: Driver, buf: string): number {
  const dev = busFindDeviceByName(m, drv.bus, buf);
  if (!dev || dev.driver !== drv.name) {
    let hint: string;
    if (!dev) hint = `no ${drv.bus} device is named ${JSON.stringify(writtenName(buf))}`;
    else if (dev.driver === null) hint = `${dev.name} is not bound to any driver`;
    else hint = `${dev.name} is bound to ${dev.driver}, not ${drv.name}: write to /sys/bus/${dev.bus}/drivers/${dev.driver}/unbind`;
    throw new KernelError('ENODEV', { hint });
  }
  if (dev.vfio && dev.vfio.openCount > 0) throw blockedUnbind(m, dev);
  deviceReleaseDriver(m, dev);
  return buf.length;
}

/**
 * drivers_probe_store: ENODEV for an unknown name; a probe that fails is not reported
 * (the write succeeds); a failure of the attach itself (dma_configure) is EINVAL, as
 * every bus_rescan_devices_helper error is.
 */
export function driversProbeStore(m: Machine, bus: BusName, buf: string): number {
  const dev = busFindDeviceByName(m, bus, buf);
  if (!dev) throw new KernelError('ENODEV', { reason: { kind: 'no-device', bus, name: writtenName(buf) } });
  const r = deviceAttach(m, dev);
  if (r.error !== null) {
    const f = lastProbeFailure(dev);
    const drv = m.drivers.find((d) => d.bus === bus && driverMatchDevice(d, dev));
    throw new KernelError('EINVAL', { reason: drv && f ? probeFailureReason(m, dev, drv, f.errno) : undefined });
  }
  return buf.length;
}

/** drivers_autoprobe_store: '0' as the first byte turns it off, anything else on. */
export function driversAutoprobeStore(m: Machine, bus: BusName, buf: string): number {
  m.buses[bus].autoprobe = buf[0] !== '0';
  return buf.length;
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
