/**
 * `restore DEV… | --group N`: back to the host driver — clear driver_override, unbind
 * from the VFIO driver, drivers_probe, verify. A device already on its host driver is
 * left alone (and says so). When a host driver matches but does not bind (its group is
 * held by user space, its probe fails), restore fails: exit 1, the machine as the kernel
 * left it, and what to do.
 */
import { defineCommand, words } from '../../command.js';
import type { RunContext } from '../../command.js';
import { findGroup } from '../../../base/machine.js';
import { KernelError } from '../../../base/errors.js';
import { lastProbeError } from '../../../base/dd.js';
import { driverKind, hostDriversFor } from '../../devices.js';
import type { Session } from '../../session.js';
import { targets, groupFlag, resolveTargets, targetWords, type Targets } from './shared.js';
import { sequence, sequenceData, type SequenceData } from './passthrough.js';
import overrideCmd from './override.js';
import unbindCmd from './unbind.js';
import probeCmd from './probe.js';

export function runRestore(rc: RunContext, o: Targets, s: Session): SequenceData {
  const { m } = s;
  const devs = resolveTargets(m, o);
  const notes: string[] = [];
  const todo = devs.filter((d) => !(driverKind(m, d) === 'host' && d.driverOverride === null));
  for (const d of devs) if (!todo.includes(d)) notes.push(`${d.name}: already bound to its host driver ${d.driver}; nothing to do`);
  sequence('restore', devs, `vfioctl passthrough ${targetWords(o, devs)}`, (done, label) => {
    for (const d of todo) {
      overrideCmd.run(rc, { devices: [d.name], driver: null }, s);
      notes.push(`${label(d)}override: cleared`);
      done.push(`${d.name}: override cleared`);
    }
    for (const d of todo) {
      if (!d.driver || driverKind(m, d) === 'host') continue;
      const was = d.driver;
      unbindCmd.run(rc, { devices: [d.name] }, s);
      notes.push(`${label(d)}unbind: released by ${was}`);
      done.push(`${d.name}: unbind`);
    }
    for (const d of todo) {
      if (d.driver) {
        notes.push(`${label(d)}already bound to its host driver ${d.driver}`);
        continue;
      }
      probeCmd.run(rc, { devices: [d.name] }, s);
      done.push(`${d.name}: probe`);
      if (d.driver) {
        notes.push(`${label(d)}probe: bound to ${d.driver}`);
        continue;
      }
      const hosts = hostDriversFor(m, d);
      if (hosts.length === 0) {
        notes.push(`${label(d)}probe: no registered host driver matches ${d.name} (compatible ${d.of.compatible.map((c) => `"${c}"`).join(', ') || 'none'}); it stays unbound`);
        continue;
      }
      const err = lastProbeError(d) ?? 'ENODEV';
      const g = d.iommuGroup === null ? undefined : findGroup(m, d.iommuGroup);
      throw new KernelError(err, {
        op: 'exec',
        path: `/sys/bus/${d.bus}/drivers_probe`,
        message: `restore stopped: ${hosts.join(', ')} matches ${d.name} but did not bind it (driver link: none) although drivers_probe reported success; the attach failed`,
        hint: g?.owner
          ? `IOMMU group ${g.id} is held by user space ('${g.owner}'): no kernel driver may take a device of it until that owner lets go (vfioctl close DEVICE, or vfioctl kill ${g.owner}); then: vfioctl restore ${d.name}`
          : 'see the kernel lines above; vfioctl dmesg shows them in context',
      });
    }
  });
  return sequenceData(devs, o, notes);
}

export default defineCommand({
  name: 'restore',
  group: 'bind',
  summary: 'back to the host driver: clear override, unbind, probe, verify',
  example: 'vfioctl restore fff51000.ethernet\nvfioctl restore --group 2',
  args: [{ name: 'device', required: false, variadic: true, complete: 'device' }],
  flags: [{ flags: '--group <N>', description: 'every device of IOMMU group N', complete: 'group' }],
  machine: 'write',
  options: (p): Targets => targets(words(p, 0), groupFlag(p.flags['group']), 'e.g. vfioctl restore fff51000.ethernet, or --group 0'),
  run: runRestore,
  render: (d: SequenceData) => d.notes.map((l) => l + '\n').join(''),
});
