/** `list-overrides`: every device with driver_override set and the driver it names, as `driverctl list-overrides` prints them. */
import { defineCommand } from '../../command.js';

export interface OverridesData {
  overrides: { device: string; driver: string }[];
}

export default defineCommand({
  name: 'list-overrides',
  group: 'inspect',
  summary: 'every driver_override that is set (like driverctl list-overrides)',
  example: 'vfioctl list-overrides',
  machine: 'read',
  options: () => ({}),
  run(_rc, _o, { m, sys }): OverridesData {
    sys.record('grep -H . /sys/bus/*/devices/*/driver_override | grep -v "(null)"', 'each device whose driver_override is set');
    return { overrides: m.devices.filter((d) => d.driverOverride !== null).map((d) => ({ device: d.name, driver: d.driverOverride! })) };
  },
  render: (d: OverridesData) => d.overrides.map((x) => `${x.device} ${x.driver}\n`).join(''),
});
