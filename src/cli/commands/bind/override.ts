/** `override DEV DRIVER` / `override DEV --clear`: a write to driver_override (cf. drivers/base/driver.c driver_set_override). */
import { defineCommand, word, optionalWord } from '../../command.js';
import { UsageError } from '../../../base/errors.js';
import { lookupDevice } from '../../devices.js';
import { bindingResult, devPath, renderBinding, type BindingResult } from './shared.js';
import type { Session } from '../../session.js';

export interface OverrideOptions {
  device: string;
  /** null: clear it */
  driver: string | null;
}

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
  example: 'vfioctl override fff51000.ethernet vfio-platform\nvfioctl override fff51000.ethernet --clear',
  args: [
    { name: 'device', complete: 'device' },
    { name: 'driver', description: 'driver name to force (e.g. vfio-platform)', required: false, complete: 'driver' },
  ],
  flags: [{ flags: '--clear', description: 'clear the override (echo > driver_override)' }],
  machine: 'write',
  options(p): OverrideOptions {
    const driver = optionalWord(p, 1);
    const clear = p.flags['clear'] === true;
    if (clear && driver !== undefined) throw new UsageError('give a driver or --clear, not both');
    if (!clear && driver === undefined) throw new UsageError('missing driver name', 'e.g. vfioctl override DEVICE vfio-platform, or --clear');
    return { device: word(p, 0), driver: clear ? null : driver! };
  },
  run(_rc, o: OverrideOptions, s) {
    return writeOverride(s, o.device, o.driver);
  },
  render: renderBinding,
});
