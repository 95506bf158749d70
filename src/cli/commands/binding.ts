/** override, unbind, bind, probe: each is exactly the sysfs write a real system makes. */
import type { Machine, Device } from '../../base/machine.js';
import { KernelError } from '../../base/errors.js';
import { lookupDevice } from '../devices.js';
import type { Sys } from '../sys.js';
import { lastProbeError } from '../../base/dd.js';
import { logSince } from '../../klog/klog.js';

export interface BindingResult {
  device: string;
  action: string;
  driver: string | null;
  driverOverride: string | null;
  iommuGroup: number | null;
  /** human summary lines */
  notes: string[];
  /** kernel log lines this command produced */
  dmesg: string[];
}

function result(m: Machine, d: Device, action: string, notes: string[], logBefore: number): BindingResult {
  return {
    device: d.name,
    action,
    driver: d.driver,
    driverOverride: d.driverOverride,
    iommuGroup: d.iommuGroup,
    notes,
    dmesg: logSince(m, logBefore),
  };
}

export function devPath(d: Device, attr: string): string {
  return `/sys/bus/${d.bus}/devices/${d.name}/${attr}`;
}

export function override(m: Machine, sys: Sys, name: string, driver: string | null): BindingResult {
  const d = lookupDevice(m, name);
  const before = m.log.length;
  if (driver === null) {
    sys.write(devPath(d, 'driver_override'), '', 'a lone newline clears the override (an empty write, echo -n "", would change nothing)');
  } else {
    sys.write(devPath(d, 'driver_override'), driver, 'override first, so no other driver can claim the device between unbind and probe');
  }
  const notes = [`driver_override = ${d.driverOverride ?? '(null)'}`];
  if (d.driver) notes.push(`still bound to ${d.driver}: writing driver_override never unbinds; next: vfioctl unbind ${d.name}`);
  else if (driver) notes.push(`not bound; next: vfioctl probe ${d.name}`);
  if (driver && /\s$/.test(driver)) notes.push(`warning: the override ends in whitespace, which the kernel keeps: it will match no driver`);
  return result(m, d, driver === null ? 'override-clear' : 'override', notes, before);
}

export function unbind(m: Machine, sys: Sys, name: string): BindingResult {
  const d = lookupDevice(m, name);
  const before = m.log.length;
  if (d.driver === null) {
    throw new KernelError('ENOENT', {
      op: 'open',
      path: devPath(d, 'driver/unbind'),
      hint: `${d.name} is not bound to any driver, so it has no driver link to unbind through`,
    });
  }
  const was = d.driver;
  sys.write(`/sys/bus/${d.bus}/drivers/${was}/unbind`, d.name, `detach ${d.name} from ${was}; its remove() runs and the driver link goes`);
  const notes = [`unbound from ${was}`];
  if (d.driverOverride === null) notes.push(`driver_override is not set: a later probe would bind a matching host driver again`);
  else notes.push(`driver_override is ${d.driverOverride}; next: vfioctl probe ${d.name}`);
  return result(m, d, 'unbind', notes, before);
}

export function bind(m: Machine, sys: Sys, name: string, driver: string): BindingResult {
  const d = lookupDevice(m, name);
  const before = m.log.length;
  sys.write(`/sys/bus/${d.bus}/drivers/${driver}/bind`, d.name, `ask ${driver} to probe ${d.name}; unlike drivers_probe, bind returns the probe's error`);
  return result(m, d, 'bind', [`bound to ${d.driver}`, ...whatIfNotes(d)], before);
}

export function probe(m: Machine, sys: Sys, name: string): BindingResult {
  const d = lookupDevice(m, name);
  const before = m.log.length;
  const wasBound = d.driver;
  sys.write(`/sys/bus/${d.bus}/drivers_probe`, d.name, 'let the bus find a driver; driver_override, if set, is the only one that can match');
  sys.readlink(devPath(d, 'driver'), 'drivers_probe reports success even when every probe failed: check the driver link');
  const notes: string[] = [];
  if (wasBound) notes.push(`already bound to ${wasBound}: drivers_probe does nothing for a bound device`);
  else if (d.driver) notes.push(`bound to ${d.driver}`, ...whatIfNotes(d));
  else {
    const err = lastProbeError(d);
    notes.push(
      err
        ? `drivers_probe returned success, but ${d.name} is NOT bound: the probe failed (kernel log below)`
        : `drivers_probe returned success, but no driver matched ${d.name}${d.driverOverride ? ` (driver_override "${d.driverOverride}" names no registered driver)` : ''}`,
    );
  }
  return result(m, d, 'probe', notes, before);
}

/** The generic reset-controller path is a what-if: say so wherever it was used. */
export function whatIfNotes(d: Device): string[] {
  const r = d.vfio?.reset;
  if (r?.kind !== 'reset-controller') return [];
  return [
    `WHAT-IF, NOT IN MAINLINE LINUX: reset through reset controller ${r.controller} <${r.args.join(' ')}> (Geert Uytterhoeven's generic reset-controller series, never merged)`,
    'the risk that blocked it: an exclusive reset control does not prove the line is dedicated; if another block shares it, a reset here resets that block too',
  ];
}
