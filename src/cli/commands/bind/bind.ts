/** `bind DEV [--driver NAME]`: a write to drivers/NAME/bind (cf. drivers/base/bus.c bind_store), which returns the probe's error. */
import { defineCommand, words } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { bindingResult, renderMany, whatIfNotes, targets, groupFlag, resolveTargets, overEach, many, type BindingResult, type Targets } from './shared.js';
import type { Session } from '../../session.js';

export interface BindOptions extends Targets {
  driver: string;
}

export function writeBind({ m, sys }: Session, name: string, driver: string): BindingResult {
  const d = lookupDevice(m, name);
  sys.write(`/sys/bus/${d.bus}/drivers/${driver}/bind`, d.name, `ask ${driver} to probe ${d.name}; unlike drivers_probe, bind returns the probe's error`);
  return bindingResult(d, 'bind', [`bound to ${d.driver}`, ...whatIfNotes(d)]);
}

export default defineCommand({
  name: 'bind',
  group: 'bind',
  summary: 'write the device name to drivers/<driver>/bind (returns the probe error)',
  example: 'vfioctl bind fff51000.ethernet\nvfioctl bind fff51000.ethernet --driver calxedaxgmac',
  args: [{ name: 'device', required: false, variadic: true, complete: 'device' }],
  flags: [
    { flags: '--driver <name>', description: 'driver whose bind file to write', default: 'vfio-platform', complete: 'driver' },
    { flags: '--group <N>', description: 'every device of IOMMU group N', complete: 'group' },
  ],
  machine: 'write',
  options(p): BindOptions {
    return { ...targets(words(p, 0), groupFlag(p.flags['group']), 'e.g. vfioctl bind fff51000.ethernet, or --group 0'), driver: String(p.flags['driver']) };
  },
  run(_rc, o: BindOptions, s) {
    return many(overEach('bind', resolveTargets(s.m, o), null, (d) => writeBind(s, d.name, o.driver)), o);
  },
  render: renderMany,
});
