/**
 * `list [--driver D] [--group N] [--bus B]`: one line per device, as `driverctl list-devices`
 * prints them — the device, its driver or (none), and [*] when driver_override is set.
 */
import { defineCommand } from '../../command.js';
import { UsageError } from '../../../base/errors.js';
import { groupFlag } from '../bind/shared.js';

export interface ListOptions {
  driver?: string;
  group?: number;
  bus?: string;
}

export interface ListData {
  devices: { name: string; bus: string; driver: string | null; driverOverride: string | null; iommuGroup: number | null }[];
}

export default defineCommand({
  name: 'list',
  group: 'inspect',
  summary: 'one line per device: name, driver, [*] if overridden (like driverctl list-devices)',
  example: 'vfioctl list\nvfioctl list --driver vfio-platform\nvfioctl list --group 2',
  flags: [
    { flags: '--driver <name>', description: 'only devices bound to this driver ("none": unbound ones)', complete: 'driver' },
    { flags: '--group <N>', description: 'only the devices of IOMMU group N', complete: 'group' },
    { flags: '--bus <bus>', description: 'only devices on this bus', choices: ['platform', 'amba'] },
  ],
  machine: 'read',
  options(p): ListOptions {
    const o: ListOptions = {};
    const driver = p.flags['driver'];
    if (typeof driver === 'string') {
      if (driver === '') throw new UsageError('--driver takes a driver name (or none)');
      o.driver = driver;
    }
    const group = groupFlag(p.flags['group']);
    if (group !== undefined) o.group = group;
    if (typeof p.flags['bus'] === 'string') o.bus = p.flags['bus'];
    return o;
  },
  run(_rc, o: ListOptions, { m, sys }): ListData {
    sys.record(`for d in /sys/bus/*/devices/*; do echo "\${d##*/} $(basename "$(readlink $d/driver)")"; done`, 'each device and the driver its driver link points to');
    const devices = m.devices
      .filter((d) => o.driver === undefined || (o.driver === 'none' ? d.driver === null : d.driver === o.driver))
      .filter((d) => o.group === undefined || d.iommuGroup === o.group)
      .filter((d) => o.bus === undefined || d.bus === o.bus)
      .map((d) => ({ name: d.name, bus: d.bus, driver: d.driver, driverOverride: d.driverOverride, iommuGroup: d.iommuGroup }));
    return { devices };
  },
  render: (d: ListData) => d.devices.map((x) => `${x.name} ${x.driver ?? '(none)'}${x.driverOverride !== null ? ' [*]' : ''}\n`).join(''),
});
