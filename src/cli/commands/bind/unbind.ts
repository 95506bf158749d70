/** `unbind DEV`: a write of the device name to drivers/<its driver>/unbind (cf. drivers/base/bus.c unbind_store). */
import { defineCommand, words } from '../../command.js';
import { KernelError } from '../../../base/errors.js';
import { lookupDevice } from '../../devices.js';
import { bindingResult, devPath, renderMany, targets, groupFlag, resolveTargets, overEach, many, type Targets, type BindingResult } from './shared.js';
import type { Session } from '../../session.js';

export function writeUnbind({ m, sys }: Session, name: string): BindingResult {
  const d = lookupDevice(m, name);
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
  return bindingResult(d, 'unbind', notes);
}

export default defineCommand({
  name: 'unbind',
  group: 'bind',
  summary: "write the device name to its driver's unbind file",
  example: 'vfioctl unbind fff51000.ethernet',
  args: [{ name: 'device', required: false, variadic: true, complete: 'device' }],
  flags: [{ flags: '--group <N>', description: 'every device of IOMMU group N', complete: 'group' }],
  machine: 'write',
  options: (p): Targets => targets(words(p, 0), groupFlag(p.flags['group']), 'e.g. vfioctl unbind fff51000.ethernet, or --group 0'),
  run: (_rc, o: Targets, s) => many(overEach('unbind', resolveTargets(s.m, o), null, (d) => writeUnbind(s, d.name)), o),
  render: renderMany,
});
