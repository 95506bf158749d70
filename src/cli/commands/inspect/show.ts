/** `show DEV`: one device in full, with the sysfs attributes a real system would read for it. */
import { defineCommand, word } from '../../command.js';
import type { Machine, Device } from '../../../base/machine.js';
import { deviceJson, lookupDevice, type DeviceJson } from '../../devices.js';
import { table, type Style } from '../../output.js';
import type { Sys } from '../../sys.js';
import { deviceDir } from '../../../sysfs/tree.js';
import { linkText } from '../../../sysfs/vfs.js';

export interface ShowSysfs {
  path: string;
  driver_override: string;
  modalias: string;
  uevent: string[];
  driver: string | null;
  iommu_group: string | null;
}

export type ShowData = DeviceJson & { sysfs: ShowSysfs };

export function showData(m: Machine, d: Device, sys: Sys): ShowData {
  const base = `/sys/bus/${d.bus}/devices/${d.name}`;
  return {
    ...deviceJson(m, d),
    sysfs: {
      path: deviceDir(d),
      driver_override: sys.read(`${base}/driver_override`, 'the only driver allowed to bind it; (null) means none is forced').replace(/\n$/, ''),
      modalias: sys.read(`${base}/modalias`, 'what modprobe matches module aliases against').replace(/\n$/, ''),
      uevent: sys.read(`${base}/uevent`, 'the variables udev sees for it, DRIVER= while bound').split('\n').filter(Boolean),
      driver: sys.readlink(`${base}/driver`, 'the bound driver (no link: unbound)') === null ? null : `/sys/bus/${d.bus}/drivers/${d.driver}`,
      iommu_group: sys.readlink(`${base}/iommu_group`, 'its IOMMU group (no link: no IOMMU, so no VFIO)') === null ? null : `/sys/kernel/iommu_groups/${d.iommuGroup}`,
    },
  };
}

export function renderShow(d: ShowData, st: Style): string {
  const sysfs = d.sysfs;
  const lines: [string, string][] = [
    ['name', d.name],
    ['bus', d.bus],
    ['of_node', d.ofNode],
    ['compatible', d.compatible.join(', ') || '-'],
    ['driver', d.driver ?? '-'],
    ['driver_override', d.driverOverride ?? '(null)'],
    ['iommu group', d.iommuGroup === null ? '- (no IOMMU: VFIO cannot take it)' : String(d.iommuGroup)],
    ['reset', d.reset?.label ?? 'none'],
  ];
  if (d.vfio) lines.push(['vfio', `vfio${d.vfio.index}, open ${d.vfio.openCount}×${d.owner ? ` by ${d.owner}` : ''}`]);
  const a = d.activity;
  lines.push(['activity', `${a.state}; DMA writes ${a.dmaWrites}, IOMMU faults ${a.dmaFaults}, IRQs raised [${a.irqsRaised.join(', ')}]${a.masked.some(Boolean) ? `, masked [${a.masked.map((x) => (x ? 1 : 0)).join(', ')}]` : ''}`]);
  let out = table(lines.map(([k, v]) => [k + ':', v]), (i, c) => (i === 0 ? st.bold(c) : c));
  out += `\n${st.bold('regions')} (reg, translated)\n`;
  out += d.regions.length ? table(d.regions.map((r, i) => [`  ${i}`, r.start, `size ${r.size}`])) : '  <none>\n';
  out += `${st.bold('irqs')}\n`;
  out += d.irqs.length ? table(d.irqs.map((q, i) => [`  ${i}`, `hwirq ${q.hwirq}`, q.trigger, q.controller])) : '  <none>\n';
  if (d.resets.length) {
    out += `${st.bold('resets')}\n`;
    out += table(d.resets.map((r) => [`  ${r.controller}`, `<${r.args.join(' ')}>`, r.sharedWith.length ? `shared with ${r.sharedWith.join(', ')}` : 'dedicated']));
  }
  out += `\n${st.bold(`/sys/bus/${d.bus}/devices/${d.name}/`)}\n`;
  out += `  driver_override: ${sysfs.driver_override}\n  modalias: ${sysfs.modalias}\n`;
  const rel = (name: string, target: string): string => linkText(`${sysfs.path}/${name}`, target);
  out += `  driver -> ${sysfs.driver ? rel('driver', sysfs.driver) : '(no link: not bound)'}\n`;
  out += `  iommu_group -> ${sysfs.iommu_group ? rel('iommu_group', sysfs.iommu_group) : '(no link)'}\n`;
  out += `  uevent:\n${sysfs.uevent.map((l) => '    ' + l).join('\n')}\n`;
  out += `  (real directory: ${sysfs.path})\n`;
  return out;
}

export default defineCommand({
  name: 'show',
  group: 'inspect',
  summary: 'one device in full, with its sysfs attributes',
  example: 'vfioctl show fff51000.ethernet',
  args: [{ name: 'device', description: 'device name, bus/name or device-tree path', complete: 'device' }],
  machine: 'read',
  options: (p) => ({ device: word(p, 0) }),
  run(_rc, o: { device: string }, { m, sys }) {
    return showData(m, lookupDevice(m, o.device), sys);
  },
  render: renderShow,
});
