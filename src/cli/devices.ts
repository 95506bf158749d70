/** Naming devices on the command line, and the JSON/human views of one device. */
import type { Machine, Device, ResetMethod } from '../base/machine.js';
import { findGroup, findDriver } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { triggerName } from '../base/machine.js';
import { genericResetCandidate } from '../vfio/reset.js';
import { ofModalias } from '../base/platform.js';
import { driverMatchDevice } from '../base/dd.js';

/** Find a device by name, `bus/name`, or device-tree path. Unknown → the ENOENT the sysfs path would give. */
export function lookupDevice(m: Machine, arg: string): Device {
  let d = m.devices.find((x) => x.name === arg);
  if (!d && arg.includes('/') && !arg.startsWith('/')) {
    const [bus, name] = [arg.slice(0, arg.indexOf('/')), arg.slice(arg.indexOf('/') + 1)];
    d = m.devices.find((x) => x.name === name && x.bus === bus);
  }
  if (!d && arg.startsWith('/')) d = m.devices.find((x) => x.of.fullName === arg);
  if (d) return d;
  const guess = didYouMean(arg, m.devices.map((x) => x.name));
  throw new KernelError('ENOENT', {
    op: 'open',
    path: `/sys/bus/platform/devices/${arg}`,
    message: 'No such file or directory',
    hint: guess ? `no device is named "${arg}"; did you mean ${guess}?` : `no device is named "${arg}"; list them with: vfioctl status`,
  });
}

export function didYouMean(s: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  if (s.trim() === '') return null; // every name "includes" the empty string
  for (const n of names) {
    if (n.includes(s) || s.includes(n)) return n;
    const d = lev(s, n);
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(s.length / 3)) ? best : null;
}

function lev(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return 99;
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** The reset vfio-platform would use (or uses) for this device, without loading anything. */
/** Whether the device is bound to a VFIO driver, a host driver, or none. */
export function driverKind(m: Machine, d: Device): 'vfio' | 'host' | 'none' {
  if (!d.driver) return 'none';
  return findDriver(m, d.bus, d.driver)?.kind === 'vfio' ? 'vfio' : 'host';
}

export function resetPreview(m: Machine, dev: Device): ResetMethod | null {
  if (dev.vfio) return dev.vfio.reset;
  if (dev.acpiRst) return { kind: 'acpi' };
  const compat = dev.of.compatible[0];
  if (compat === undefined) return null;
  const h = m.resetHandlers.find((r) => r.compatible === compat);
  if (h) return { kind: 'module', module: h.module, compatible: compat };
  const mod = m.modulesAvailable.find((x) => x.aliases.includes(`vfio-reset:${compat}`));
  if (mod) return { kind: 'module', module: mod.name, compatible: compat };
  if (m.options.genericResetWhatIf) return genericResetCandidate(dev);
  return null;
}

export function resetLabel(r: ResetMethod | null): string {
  if (!r) return 'none';
  if (r.kind === 'module') return r.module;
  if (r.kind === 'acpi') return 'ACPI _RST';
  return `reset-controller (what-if)`;
}

export function ownerOf(m: Machine, dev: Device): string | null {
  const o = m.owners.find((x) => x.devices.includes(dev.name));
  return o ? o.name : null;
}

export function activityLabel(dev: Device): string {
  const a = dev.activity;
  if (!a.running) return a.dmaWrites || a.irqsRaised.some((x) => x > 0) ? 'quiet' : 'idle';
  return 'running';
}

/** A device as `status --json` and `show --json` print it (SPEC §3: the first six fields are kept stable). */
export interface DeviceJson {
  name: string;
  bus: Device['bus'];
  compatible: string[];
  driver: string | null;
  driverOverride: string | null;
  iommuGroup: number | null;
  ofNode: string;
  modalias: string;
  regions: { index: number; start: string; size: string }[];
  irqs: { index: number; hwirq: number; trigger: string; controller: string }[];
  resets: { controller: string; args: number[]; sharedWith: string[] }[];
  reset: (ResetMethod & { label: string; notInMainline: boolean }) | null;
  vfio: { index: number; flags: number; openCount: number } | null;
  owner: string | null;
  activity: { state: string; dmaWrites: number; dmaFaults: number; irqsRaised: number[]; masked: boolean[] };
  group: { id: number; owner: string | null } | null;
  /** bound to a VFIO driver, a host driver, or none */
  driverKind: 'vfio' | 'host' | 'none';
  /** for an unbound device: the drivers that could bind it (empty while bound) */
  couldBind: string[];
}

export function deviceJson(m: Machine, dev: Device): DeviceJson {
  const reset = resetPreview(m, dev);
  return {
    name: dev.name,
    bus: dev.bus,
    compatible: dev.of.compatible,
    driver: dev.driver,
    driverOverride: dev.driverOverride,
    iommuGroup: dev.iommuGroup,
    ofNode: dev.of.fullName,
    modalias: ofModalias(m, dev),
    regions: dev.regions.map((r, index) => ({ index, start: r.start, size: r.size })),
    irqs: dev.irqs.map((q, index) => ({ index, hwirq: q.hwirq, trigger: triggerName(q.trigger), controller: q.controller })),
    resets: dev.resets.map((r) => ({ controller: r.controller, args: r.args, sharedWith: r.sharedWith })),
    reset: reset ? { ...reset, label: resetLabel(reset), notInMainline: reset.kind === 'reset-controller' } : null,
    vfio: dev.vfio ? { index: dev.vfio.index, flags: dev.vfio.flags, openCount: dev.vfio.openCount } : null,
    owner: ownerOf(m, dev),
    activity: {
      state: activityLabel(dev),
      dmaWrites: dev.activity.dmaWrites,
      dmaFaults: dev.activity.dmaFaults,
      irqsRaised: dev.activity.irqsRaised,
      masked: dev.activity.masked,
    },
    group: dev.iommuGroup === null ? null : { id: dev.iommuGroup, owner: findGroup(m, dev.iommuGroup)?.owner ?? null },
    driverKind: driverKind(m, dev),
    couldBind: dev.driver ? [] : candidateDrivers(m, dev),
  };
}

/** The registered host drivers whose match table (or name) fits the device, driver_override aside (platform_match without the override). */
export function hostDriversFor(m: Machine, dev: Device): string[] {
  const plain = { ...dev, driverOverride: null };
  return m.drivers.filter((drv) => drv.kind === 'host' && driverMatchDevice(drv, plain)).map((drv) => drv.name);
}

/**
 * Drivers that could bind an unbound device: the one its driver_override names, else the
 * matching host drivers and the VFIO driver of its bus through driver_override when the
 * device is in an IOMMU group.
 */
export function candidateDrivers(m: Machine, dev: Device): string[] {
  // driver_override is exclusive: only the driver it names can match (platform_match)
  if (dev.driverOverride !== null) return [`${dev.driverOverride} (driver_override)`];
  const out = hostDriversFor(m, dev);
  if (dev.iommuGroup !== null) out.push(`${dev.bus === 'amba' ? 'vfio-amba' : 'vfio-platform'} (with driver_override)`);
  return out;
}
