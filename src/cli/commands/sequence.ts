/** passthrough and restore: the whole sequence, each step shown and verified; stops at the first refusal. */
import type { Out } from '../main.js';
import { withMachine } from '../session.js';
import { lookupDevice } from '../devices.js';
import { isLoaded, modprobe } from '../../base/module.js';
import { devPath, whatIfNotes } from './binding.js';
import { KernelError } from '../../base/errors.js';
import { ERRNO, type ErrnoName } from '../../base/errno.js';

/** The errno of the last "probe … failed with error -N" line; ENODEV when no probe ran. */
function probeErrno(log: readonly string[]): ErrnoName {
  for (let i = log.length - 1; i >= 0; i--) {
    const mm = /failed with error -(\d+)/.exec(log[i]!);
    if (!mm) continue;
    const n = Number(mm[1]);
    const name = (Object.keys(ERRNO) as ErrnoName[]).find((k) => ERRNO[k][0] === n);
    if (name) return name;
  }
  return 'ENODEV';
}

export async function passthrough(o: Out, name: string, driverOpt: string | undefined): Promise<void> {
  await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
    const d = lookupDevice(m, name);
    const driver = driverOpt ?? (d.bus === 'amba' ? 'vfio-amba' : 'vfio-platform');
    const before = m.log.length;
    const lines: string[] = [];
    const mod = driver.replace(/-/g, '_');
    const wasLoaded = isLoaded(m, mod);
    if (d.driver === driver) {
      lines.push(`${d.name}: already bound to ${driver}; nothing to do`);
    } else {
      if (!isLoaded(m, mod) && (driver === 'vfio-platform' || driver === 'vfio-amba')) {
        sys.run(`modprobe ${driver}`, `register the ${driver} driver (it is a module)`, () => modprobe(m, driver));
        lines.push(`modprobe ${driver}: loaded`);
      }
      sys.write(devPath(d, 'driver_override'), driver, 'override first, so no other driver can claim the device between unbind and probe');
      lines.push(`override: driver_override = ${driver}`);
      if (d.driver) {
        const was = d.driver;
        sys.write(`/sys/bus/${d.bus}/drivers/${was}/unbind`, d.name, `detach the host driver ${was}`);
        lines.push(`unbind: released by ${was}`);
      }
      sys.write(`/sys/bus/${d.bus}/drivers_probe`, d.name, 'probe: only the overridden driver can match now');
      const link = sys.readlink(devPath(d, 'driver'), 'drivers_probe succeeds even when the probe fails: verify the driver link');
      if (d.driver !== driver) {
        const log = m.log.slice(before).map((l) => l.text);
        throw new KernelError(probeErrno(log), {
          op: 'exec',
          path: `/sys/bus/${d.bus}/drivers_probe`,
          message: `passthrough stopped: ${driver} did not bind ${d.name} (driver link: ${link ?? 'none'}) although drivers_probe reported success; the probe failed with the error below. Nothing was changed: vfioctl runs the sequence all-or-nothing`,
          hint: d.iommuGroup === null
            ? `${d.name} is in no IOMMU group; VFIO cannot isolate it`
            : log.some((l) => l.includes('No reset function')) && m.options.genericResetWhatIf && d.resets.some((r) => r.sharedWith.length > 0)
              ? `the generic reset-controller what-if refuses ${d.name}: its reset line is shared with ${d.resets.flatMap((r) => r.sharedWith).join(', ')}, so asserting it would reset those blocks too`
            : log.some((l) => l.includes('No reset function'))
              ? `no reset function for ${d.of.compatible[0]}; either provide a reset module or accept the risk: ${wasLoaded ? 'vfioctl rmmod vfio-platform && ' : ''}vfioctl modprobe vfio-platform reset_required=0`
              : 'see the kernel lines above; vfioctl dmesg shows them in context',
        });
      }
      lines.push(`probe: bound to ${driver}; /dev/vfio/${d.iommuGroup} is there`, ...whatIfNotes(d));
    }
    const dmesg = m.log.slice(before).map((l) => l.text);
    o.emit({ device: d.name, driver: d.driver, driverOverride: d.driverOverride, iommuGroup: d.iommuGroup, dmesg }, lines.map((l) => l + '\n').join('') + dmesg.map((l) => `kernel: ${l}\n`).join(''), sys.steps);
  });
}

export async function restore(o: Out, name: string): Promise<void> {
  await withMachine(o.ctx, o.g, 'write', ({ m, sys }) => {
    const d = lookupDevice(m, name);
    const before = m.log.length;
    const lines: string[] = [];
    sys.write(devPath(d, 'driver_override'), '', 'clear the override first (echo writes "\\n"; an empty write would not clear it)');
    lines.push('override: cleared');
    if (d.driver) {
      const was = d.driver;
      sys.write(`/sys/bus/${d.bus}/drivers/${was}/unbind`, d.name, `detach ${was}`);
      lines.push(`unbind: released by ${was}`);
    }
    sys.write(`/sys/bus/${d.bus}/drivers_probe`, d.name, 'let the host driver that matches the compatible bind again');
    sys.readlink(devPath(d, 'driver'), 'verify which driver bound');
    lines.push(d.driver ? `probe: bound to ${d.driver}` : `probe: no host driver matched ${d.name}; it stays unbound`);
    const dmesg = m.log.slice(before).map((l) => l.text);
    o.emit({ device: d.name, driver: d.driver, driverOverride: d.driverOverride, dmesg }, lines.map((l) => l + '\n').join('') + dmesg.map((l) => `kernel: ${l}\n`).join(''), sys.steps);
  });
}
