/** `override DEV DRIVER` / `override DEV --clear`: a write to driver_override (cf. drivers/base/driver.c driver_set_override). */
import { defineCommand, words } from '../../command.js';
import { UsageError } from '../../../base/errors.js';
import { lookupDevice } from '../../devices.js';
import { bindingResult, devPath, renderMany, targets, groupFlag, resolveTargets, overEach, many, type BindingResult, type Targets } from './shared.js';
import type { Session } from '../../session.js';

export interface OverrideOptions extends Targets {
  /** null: clear it */
  driver: string | null;
}

const USAGE = 'e.g. vfioctl override DEVICE vfio-platform, vfioctl override DEV1 DEV2 vfio-platform, vfioctl override --group 2 vfio-platform, or --clear';

/** Write driver_override of one device (never unbinds, never probes). */
export function writeOverride({ m, sys }: Session, name: string, driver: string | null): BindingResult {
  const d = lookupDevice(m, name);
  if (driver === null) {
    sys.write(devPath(d, 'driver_override'), '', 'a lone newline clears the override (an empty write, echo -n "", would change nothing)');
  } else {
    sys.write(devPath(d, 'driver_override'), driver, 'override first, so no other driver can claim the device between unbind and probe');
  }
  const notes = [`driver_override = ${d.driverOverride ?? '(null)'}`];
  if (d.driver) notes.push(`still bound to ${d.driver}: writing driver_override never unbinds; next: vfioctl unbind ${d.name}`);
  else if (driver) notes.push(`not bound; next: vfioctl probe ${d.name}`);
  if (driver && /\s$/.test(driver)) notes.push(`warning: the override ends in whitespace, which the kernel keeps: it will match no driver`);
  return bindingResult(d, driver === null ? 'override-clear' : 'override', notes);
}

export default defineCommand({
  name: 'override',
  group: 'bind',
  summary: 'write driver_override (never unbinds, never probes)',
  example: 'vfioctl override fff51000.ethernet vfio-platform\nvfioctl override fff51000.ethernet --clear\nvfioctl override --group 2 vfio-platform',
  args: [
    { name: 'device', required: false, complete: 'device' },
    { name: 'driver', description: 'driver name to force (e.g. vfio-platform); with several devices it comes last', required: false, variadic: true, complete: 'driver' },
  ],
  flags: [
    { flags: '--clear', description: 'clear the override (echo > driver_override)' },
    { flags: '--group <N>', description: 'every device of IOMMU group N', complete: 'group' },
  ],
  machine: 'write',
  options(p): OverrideOptions {
    const all = [...words(p, 0), ...words(p, 1)];
    const clear = p.flags['clear'] === true;
    const group = groupFlag(p.flags['group']);
    if (clear) return { ...targets(all, group, USAGE), driver: null };
    if (all.length < (group === undefined ? 2 : 1)) throw new UsageError('missing driver name', USAGE);
    const driver = all.pop()!;
    return { ...targets(all, group, USAGE), driver };
  },
  run(_rc, o: OverrideOptions, s) {
    // `override DEV DRIVER --clear`: the words cannot tell a device from a driver, the machine can
    if (o.driver === null) {
      const driver = o.devices.find((w) => !s.m.devices.some((d) => d.name === w) && (s.m.drivers.some((x) => x.name === w) || s.m.modulesAvailable.some((x) => x.drivers.includes(w))));
      if (driver !== undefined) throw new UsageError(`give a driver or --clear, not both ("${driver}" is a driver)`, USAGE);
    }
    const devs = resolveTargets(s.m, o);
    return many(overEach('override', devs, null, (d) => writeOverride(s, d.name, o.driver)), o);
  },
  render: renderMany,
});
