/** passthrough and restore: the whole sequence, each step shown and verified; stops at the first refusal. */
import type { Out } from '../main.js';
import { withMachineLogged as withMachine } from '../runner.js';
import { lookupDevice } from '../devices.js';
import { isLoaded, modprobe } from '../../base/module.js';
import { devPath, whatIfNotes } from './binding.js';
import { KernelError } from '../../base/errors.js';
import { lastProbeError } from '../../base/dd.js';
import { findDriver } from '../../base/machine.js';
import { probeHint } from '../hints.js';
import { logSince } from '../../klog/klog.js';
import { kernelLines } from '../output.js';

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
        const err = lastProbeError(d) ?? 'ENODEV';
        const drv = findDriver(m, d.bus, driver);
        throw new KernelError(err, {
          op: 'exec',
          path: `/sys/bus/${d.bus}/drivers_probe`,
          message: `passthrough stopped: ${driver} did not bind ${d.name} (driver link: ${link ?? 'none'}) although drivers_probe reported success; the probe failed with the error below. Nothing was changed: vfioctl runs the sequence all-or-nothing`,
          hint: (drv && probeHint(m, d, drv, err, wasLoaded)) ?? 'see the kernel lines above; vfioctl dmesg shows them in context',
        });
      }
      lines.push(`probe: bound to ${driver}; /dev/vfio/${d.iommuGroup} is there`, ...whatIfNotes(d));
    }
    const dmesg = logSince(m, before);
    o.emit({ device: d.name, driver: d.driver, driverOverride: d.driverOverride, iommuGroup: d.iommuGroup, dmesg }, lines.map((l) => l + '\n').join('') + kernelLines(dmesg), sys.steps);
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
    const dmesg = logSince(m, before);
    o.emit({ device: d.name, driver: d.driver, driverOverride: d.driverOverride, dmesg }, lines.map((l) => l + '\n').join('') + kernelLines(dmesg), sys.steps);
  });
}
