/**
 * `passthrough DEV… | --group N`: the whole sequence a real system runs to give devices
 * to user space — modprobe the VFIO driver if needed, driver_override on every device
 * first (so no host driver can claim one between unbind and probe), unbind each from
 * its host driver, drivers_probe each, and verify the driver link. Each step is the
 * other commands' run(). It stops at the first refusal and leaves the machine where the
 * kernel is, as a script on Linux would, and says how to go back.
 */
import { defineCommand, words } from '../../command.js';
import type { RunContext } from '../../command.js';
import type { Device } from '../../../base/machine.js';
import { findDriver } from '../../../base/machine.js';
import { KernelError } from '../../../base/errors.js';
import { isLoaded } from '../../../base/module.js';
import { lastProbeError } from '../../../base/dd.js';
import { probeHint } from '../../hints.js';
import { Stopped, deviceState } from '../../stopped.js';
import type { Session } from '../../session.js';
import { targets, groupFlag, resolveTargets, targetWords, whatIfNotes, type Targets } from './shared.js';
import overrideCmd from './override.js';
import unbindCmd from './unbind.js';
import probeCmd from './probe.js';
import modprobeCmd from '../vfio/modprobe.js';

export interface PassthroughOptions extends Targets {
  driver?: string;
}

export interface DeviceOutcome {
  device: string;
  driver: string | null;
  driverOverride: string | null;
  iommuGroup: number | null;
}

export interface SequenceData extends Partial<DeviceOutcome> {
  results?: DeviceOutcome[];
  /** what was done, one line each */
  notes: string[];
}

const outcome = (d: Device): DeviceOutcome => ({ device: d.name, driver: d.driver, driverOverride: d.driverOverride, iommuGroup: d.iommuGroup });

/** the data of a sequence: one device's fields (the shape scripts know), or results for several */
export function sequenceData(devs: readonly Device[], t: Targets, notes: string[]): SequenceData {
  return devs.length === 1 && t.group === undefined ? { ...outcome(devs[0]!), notes } : { results: devs.map(outcome), notes };
}

/**
 * Run the steps; a refusal becomes Stopped (what was done, where each device is, the way back).
 * `label` prefixes the step lines with the device name when there are several.
 */
export function sequence(verb: string, devs: readonly Device[], back: string, body: (done: string[], label: (d: Device) => string) => void): void {
  const done: string[] = [];
  const label = (d: Device): string => (devs.length > 1 ? `${d.name}: ` : '');
  try {
    body(done, label);
  } catch (e) {
    if (!(e instanceof KernelError) || e instanceof Stopped) throw e;
    throw new Stopped(verb, e, done, devs.map(deviceState), back);
  }
}

export function vfioDriverFor(d: Device, opt: string | undefined): string {
  return opt ?? (d.bus === 'amba' ? 'vfio-amba' : 'vfio-platform');
}

export function runPassthrough(rc: RunContext, o: PassthroughOptions, s: Session): SequenceData {
  const { m } = s;
  const devs = resolveTargets(m, o);
  const notes: string[] = [];
  const todo = devs.filter((d) => d.driver !== vfioDriverFor(d, o.driver));
  for (const d of devs) if (!todo.includes(d)) notes.push(`${d.name}: already bound to ${d.driver}; nothing to do`);
  const back = `vfioctl restore ${targetWords(o, devs)}`;
  sequence('passthrough', devs, back, (done, label) => {
    for (const drv of new Set(todo.map((d) => vfioDriverFor(d, o.driver)))) {
      if ((drv === 'vfio-platform' || drv === 'vfio-amba') && !isLoaded(m, drv.replace(/-/g, '_'))) {
        modprobeCmd.run(rc, { module: drv, words: [], params: {} }, s);
        notes.push(`modprobe ${drv}: loaded`);
        done.push(`modprobe ${drv}`);
      }
    }
    for (const d of todo) {
      const drv = vfioDriverFor(d, o.driver);
      overrideCmd.run(rc, { devices: [d.name], driver: drv }, s);
      notes.push(`${label(d)}override: driver_override = ${drv}`);
      done.push(`${d.name}: override`);
    }
    for (const d of todo) {
      if (!d.driver) continue;
      const was = d.driver;
      unbindCmd.run(rc, { devices: [d.name] }, s);
      notes.push(`${label(d)}unbind: released by ${was}`);
      done.push(`${d.name}: unbind`);
    }
    for (const d of todo) {
      const drv = vfioDriverFor(d, o.driver);
      probeCmd.run(rc, { devices: [d.name] }, s);
      done.push(`${d.name}: probe`);
      if (d.driver !== drv) {
        const err = lastProbeError(d) ?? 'ENODEV';
        const driver = findDriver(m, d.bus, drv);
        throw new KernelError(err, {
          op: 'exec',
          path: `/sys/bus/${d.bus}/drivers_probe`,
          message: `passthrough stopped: ${drv} did not bind ${d.name} (driver link: ${d.driver ?? 'none'}) although drivers_probe reported success; the probe failed with the error below`,
          hint: (driver && probeHint(m, d, driver, err)) ?? 'see the kernel lines above; vfioctl dmesg shows them in context',
        });
      }
      notes.push(`${label(d)}probe: bound to ${drv}; /dev/vfio/${d.iommuGroup} is there`, ...whatIfNotes(d));
    }
  });
  return sequenceData(devs, o, notes);
}

export default defineCommand({
  name: 'passthrough',
  group: 'bind',
  summary: 'the whole sequence: modprobe if needed, override, unbind, probe, verify',
  example: 'vfioctl passthrough fff51000.ethernet\nvfioctl passthrough --group 2          # every device of the group',
  args: [{ name: 'device', required: false, variadic: true, complete: 'device' }],
  flags: [
    { flags: '--driver <name>', description: 'VFIO driver (vfio-platform, or vfio-amba for AMBA devices)', complete: 'driver' },
    { flags: '--group <N>', description: 'every device of IOMMU group N: all overrides, then all unbinds, then all probes', complete: 'group' },
  ],
  machine: 'write',
  options(p): PassthroughOptions {
    const t = targets(words(p, 0), groupFlag(p.flags['group']), 'e.g. vfioctl passthrough fff51000.ethernet, or --group 0');
    const driver = p.flags['driver'];
    return typeof driver === 'string' ? { ...t, driver } : t;
  },
  run: runPassthrough,
  render: (d: SequenceData) => d.notes.map((l) => l + '\n').join(''),
});
