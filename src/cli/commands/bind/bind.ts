/** `bind DEV [--driver NAME]`: a write to drivers/NAME/bind (cf. drivers/base/bus.c bind_store), which returns the probe's error. */
import { defineCommand, word } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { bindingResult, renderBinding, whatIfNotes, type BindingResult } from './shared.js';
import type { Session } from '../../session.js';

export interface BindOptions {
  device: string;
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
  args: [{ name: 'device', complete: 'device' }],
  flags: [{ flags: '--driver <name>', description: 'driver whose bind file to write', default: 'vfio-platform', complete: 'driver' }],
  machine: 'write',
  options(p): BindOptions {
    return { device: word(p, 0), driver: String(p.flags['driver']) };
  },
  run(_rc, o: BindOptions, s) {
    return writeBind(s, o.device, o.driver);
  },
  render: renderBinding,
});
