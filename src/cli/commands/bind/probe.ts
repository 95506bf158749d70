/** `probe DEV`: a write of the device name to the bus's drivers_probe (cf. drivers/base/bus.c drivers_probe_store), which succeeds even when every probe failed. */
import { defineCommand, words } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { lastProbeError } from '../../../base/dd.js';
import { bindingResult, devPath, renderMany, targets, groupFlag, resolveTargets, overEach, many, type Targets, whatIfNotes, type BindingResult } from './shared.js';
import type { Session } from '../../session.js';

export function writeProbe({ m, sys }: Session, name: string): BindingResult {
  const d = lookupDevice(m, name);
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
  return bindingResult(d, 'probe', notes);
}

export default defineCommand({
  name: 'probe',
  group: 'bind',
  summary: 'write the device name to the bus drivers_probe file (succeeds even if the probe fails)',
  example: 'vfioctl probe fff51000.ethernet',
  args: [{ name: 'device', required: false, variadic: true, complete: 'device' }],
  flags: [{ flags: '--group <N>', description: 'every device of IOMMU group N', complete: 'group' }],
  machine: 'write',
  options: (p): Targets => targets(words(p, 0), groupFlag(p.flags['group']), 'e.g. vfioctl probe fff51000.ethernet, or --group 0'),
  run: (_rc, o: Targets, s) => many(overEach('probe', resolveTargets(s.m, o), null, (d) => writeProbe(s, d.name)), o),
  render: renderMany,
});
