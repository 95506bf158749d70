/** `status`: every device with its driver, override, IOMMU group, reset method, owner and activity (as dpdk-devbind --status groups them). */
import { defineCommand } from '../../command.js';
import type { Machine } from '../../../base/machine.js';
import { deviceJson, type DeviceJson } from '../../devices.js';
import { table, type Style } from '../../output.js';
import type { Sys } from '../../sys.js';

export interface StatusData {
  machine: { model: string; tree: string; format: string };
  devices: DeviceJson[];
}

export function statusData(m: Machine): StatusData {
  return {
    machine: { model: m.model, tree: m.tree.file, format: m.tree.format },
    devices: m.devices.map((d) => deviceJson(m, d)),
  };
}

const SECTIONS: [string, DeviceJson['driverKind']][] = [
  ['Devices bound to a VFIO driver', 'vfio'],
  ['Devices bound to a host driver', 'host'],
  ['Devices with no driver', 'none'],
];

export function renderStatus(data: StatusData, st: Style): string {
  let out = `${st.bold(data.machine.model)}  (${data.machine.tree})\n`;
  for (const [title, kind] of SECTIONS) {
    const devs = data.devices.filter((d) => d.driverKind === kind);
    out += `\n${st.bold(title)}\n${'='.repeat(title.length)}\n`;
    if (devs.length === 0) {
      out += '<none>\n';
      continue;
    }
    const rows = devs.map((d) => {
      const act = d.activity.state;
      return [
        d.bus === 'amba' ? `${d.name} [amba]` : d.name,
        d.compatible[0] ?? '-',
        `drv=${d.driver ?? '-'}`,
        `override=${d.driverOverride ?? '-'}`,
        `group=${d.iommuGroup ?? '-'}`,
        `reset=${d.reset?.label ?? 'none'}`,
        d.owner ? `owner=${d.owner}` : act === 'running' ? 'owner=(dead)' : '',
        act === 'running' ? 'RUNNING' : '',
        d.couldBind.length ? `could bind: ${d.couldBind.join(', ')}` : '',
      ];
    });
    out += table(rows, (i, cell) => (i === 2 && kind === 'vfio' ? st.green(cell) : i === 7 && cell.trim() ? st.yellow(cell) : i === 0 ? st.bold(cell) : cell));
  }
  return out;
}

/** --explain: what a real system reads to see the same */
export function explainStatus(sys: Sys, m: Machine): void {
  for (const bus of ['platform', 'amba'] as const) {
    if (!m.devices.some((d) => d.bus === bus)) continue;
    sys.record(`ls /sys/bus/${bus}/devices`, `every ${bus} device the kernel created from the device tree`);
    sys.record(
      `for d in /sys/bus/${bus}/devices/*; do echo "\${d##*/} drv=$(basename "$(readlink $d/driver)") override=$(cat $d/driver_override) group=$(basename "$(readlink $d/iommu_group)")"; done`,
      'driver, driver_override and IOMMU group of each device (no driver link: unbound)',
    );
  }
  if (m.modules.some((x) => x.name === 'vfio_platform')) sys.record('cat /sys/module/vfio_platform/parameters/reset_required', 'whether vfio-platform refuses devices it cannot reset');
  if (m.owners.some((o) => o.alive)) sys.record("ls -l /proc/[0-9]*/fd 2>/dev/null | grep /dev/vfio", 'which processes hold VFIO fds: the owners');
}

export default defineCommand({
  name: 'status',
  group: 'inspect',
  summary: 'every device: driver, override, IOMMU group, reset method, owner, activity',
  example: "vfioctl status\nvfioctl status --json | jq '.devices[] | {name, driver}'",
  machine: 'read',
  options: () => ({}),
  run(_rc, _o, { m, sys }) {
    explainStatus(sys, m);
    return statusData(m);
  },
  render: renderStatus,
});
