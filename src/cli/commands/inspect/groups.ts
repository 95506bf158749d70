/** `groups`: IOMMU groups, their members and viability, /dev/vfio/N (cf. drivers/iommu/iommu.c, drivers/vfio/group.c). */
import { defineCommand } from '../../command.js';
import type { Machine } from '../../../base/machine.js';
import { isViable, viabilityReason, hasVfioNode } from '../../../iommu/group.js';
import { table, type Style } from '../../output.js';
import type { Sys } from '../../sys.js';

export interface GroupsData {
  groups: {
    id: number;
    devices: { name: string; driver: string | null }[];
    viable: boolean;
    reason: string | null;
    devNode: string | null;
    owner: string | null;
    type: string;
  }[];
  noIommu: string[];
}

export function groupsData(m: Machine): GroupsData {
  return {
    groups: m.groups.map((g) => ({
      id: g.id,
      devices: g.devices.map((n) => ({ name: n, driver: m.devices.find((x) => x.name === n)!.driver })),
      viable: isViable(m, g),
      reason: viabilityReason(m, g),
      devNode: hasVfioNode(m, g) ? `/dev/vfio/${g.id}` : null,
      owner: g.owner,
      type: g.type,
    })),
    noIommu: m.devices.filter((d) => d.iommuGroup === null).map((d) => d.name),
  };
}

export function renderGroups(data: GroupsData, st: Style): string {
  if (data.groups.length === 0) return 'no IOMMU groups on this machine (no device has an "iommus" reference to an available IOMMU)\n';
  let out = '';
  for (const g of data.groups) {
    const node = g.devNode ?? 'no /dev/vfio node';
    out += `${st.bold(`group ${g.id}`)}  ${g.viable ? st.green('viable') : st.red('not viable')}  ${node}${g.owner ? `  owner=${g.owner}` : ''}\n`;
    out += table(g.devices.map((d) => ['  ' + d.name, `drv=${d.driver ?? '-'}`]));
    if (g.reason) out += `  ${st.yellow('why:')} ${g.reason}; every device of the group must be unbound or on a VFIO driver\n`;
  }
  if (data.noIommu.length) out += `\nno IOMMU group (cannot be used with VFIO): ${data.noIommu.join(', ')}\n`;
  return out;
}

export function explainGroups(sys: Sys, m: Machine): void {
  sys.record('ls /sys/kernel/iommu_groups', 'one directory per IOMMU group');
  for (const g of m.groups) sys.record(`ls /sys/kernel/iommu_groups/${g.id}/devices`, `members of group ${g.id}: user space owns them together`);
  if (m.groups.length) sys.record('for l in /sys/kernel/iommu_groups/*/devices/*/driver; do echo "$l -> $(readlink $l)"; done', 'viable = every member is unbound or bound to a VFIO driver');
  sys.record('ls -l /dev/vfio', 'a group has a /dev/vfio/<N> node once a member is bound to a VFIO driver');
}

export default defineCommand({
  name: 'groups',
  group: 'inspect',
  summary: 'IOMMU groups: members, viability (and why not), /dev/vfio/<N>',
  example: 'vfioctl groups',
  machine: 'read',
  options: () => ({}),
  run(_rc, _o, { m, sys }) {
    explainGroups(sys, m);
    return groupsData(m);
  },
  render: renderGroups,
});
