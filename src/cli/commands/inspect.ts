/** status, show, groups, dmesg: read-only views. */
import type { Machine, Device } from '../../base/machine.js';
import { triggerName } from '../../base/machine.js';
import { isViable, viabilityReason, hasVfioNode } from '../../iommu/group.js';
import { formatTimestamp } from '../../klog/klog.js';
import { deviceJson, lookupDevice, resetPreview, resetLabel, ownerOf, activityLabel, driverKind } from '../devices.js';
import { table, type Style } from '../output.js';
import type { Sys } from '../sys.js';
import { deviceDir } from '../../sysfs/tree.js';
import { linkText } from '../../sysfs/vfs.js';

export function statusData(m: Machine): Record<string, unknown> {
  return {
    machine: { model: m.model, tree: m.tree.file, format: m.tree.format },
    devices: m.devices.map((d) => deviceJson(m, d)),
  };
}

export function statusText(m: Machine, st: Style): string {
  const sections: [string, 'vfio' | 'host' | 'none'][] = [
    ['Devices bound to a VFIO driver', 'vfio'],
    ['Devices bound to a host driver', 'host'],
    ['Devices with no driver', 'none'],
  ];
  let out = `${st.bold(m.model)}  (${m.tree.file})\n`;
  for (const [title, kind] of sections) {
    const devs = m.devices.filter((d) => driverKind(m, d) === kind);
    out += `\n${st.bold(title)}\n${'='.repeat(title.length)}\n`;
    if (devs.length === 0) {
      out += '<none>\n';
      continue;
    }
    const rows = devs.map((d) => {
      const cols = [d.bus === 'amba' ? `${d.name} [amba]` : d.name, d.of.compatible[0] ?? '-', `drv=${d.driver ?? '-'}`];
      cols.push(`override=${d.driverOverride ?? '-'}`);
      cols.push(`group=${d.iommuGroup ?? '-'}`);
      cols.push(`reset=${resetLabel(resetPreview(m, d))}`);
      const owner = ownerOf(m, d);
      const act = activityLabel(d);
      cols.push(owner ? `owner=${owner}` : act === 'running' ? 'owner=(dead)' : '');
      cols.push(act === 'running' ? 'RUNNING' : '');
      return cols;
    });
    out += table(rows, (i, cell) => (i === 2 && kind === 'vfio' ? st.green(cell) : i === 7 && cell.trim() ? st.yellow(cell) : i === 0 ? st.bold(cell) : cell));
  }
  return out;
}

export function showText(m: Machine, d: Device, sysfs: ShowSysfs, st: Style): string {
  const base = `/sys/bus/${d.bus}/devices/${d.name}`;
  const lines: [string, string][] = [
    ['name', d.name],
    ['bus', d.bus],
    ['of_node', d.of.fullName],
    ['compatible', d.of.compatible.join(', ') || '-'],
    ['driver', d.driver ?? '-'],
    ['driver_override', d.driverOverride ?? '(null)'],
    ['iommu group', d.iommuGroup === null ? '- (no IOMMU: VFIO cannot take it)' : String(d.iommuGroup)],
    ['reset', resetLabel(resetPreview(m, d))],
  ];
  const owner = ownerOf(m, d);
  if (d.vfio) lines.push(['vfio', `vfio${d.vfio.index}, open ${d.vfio.openCount}×${owner ? ` by ${owner}` : ''}`]);
  const a = d.activity;
  lines.push(['activity', `${activityLabel(d)}; DMA writes ${a.dmaWrites}, IOMMU faults ${a.dmaFaults}, IRQs raised [${a.irqsRaised.join(', ')}]${a.masked.some(Boolean) ? `, masked [${a.masked.map((x) => (x ? 1 : 0)).join(', ')}]` : ''}`]);
  let out = table(lines.map(([k, v]) => [k + ':', v]), (i, c) => (i === 0 ? st.bold(c) : c));
  out += `\n${st.bold('regions')} (reg, translated)\n`;
  out += d.regions.length ? table(d.regions.map((r, i) => [`  ${i}`, r.start, `size ${r.size}`])) : '  <none>\n';
  out += `${st.bold('irqs')}\n`;
  out += d.irqs.length ? table(d.irqs.map((q, i) => [`  ${i}`, `hwirq ${q.hwirq}`, triggerName(q.trigger), q.controller])) : '  <none>\n';
  if (d.resets.length) {
    out += `${st.bold('resets')}\n`;
    out += table(d.resets.map((r) => [`  ${r.controller}`, `<${r.args.join(' ')}>`, r.sharedWith.length ? `shared with ${r.sharedWith.join(', ')}` : 'dedicated']));
  }
  out += `\n${st.bold(base + '/')}\n`;
  out += `  driver_override: ${sysfs.driver_override}\n  modalias: ${sysfs.modalias}\n`;
  const rel = (name: string, target: string): string => linkText(`${deviceDir(d)}/${name}`, target);
  out += `  driver -> ${sysfs.driver ? rel('driver', sysfs.driver) : '(no link: not bound)'}\n`;
  out += `  iommu_group -> ${sysfs.iommu_group ? rel('iommu_group', sysfs.iommu_group) : '(no link)'}\n`;
  out += `  uevent:\n${sysfs.uevent.map((l) => '    ' + l).join('\n')}\n`;
  out += `  (real directory: ${deviceDir(d)})\n`;
  return out;
}

export interface ShowSysfs {
  path: string;
  driver_override: string;
  modalias: string;
  uevent: string[];
  driver: string | null;
  iommu_group: string | null;
}

export function showData(m: Machine, d: Device, sys: Sys): Record<string, unknown> & { sysfs: ShowSysfs } {
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

export { lookupDevice };

export function groupsData(m: Machine): Record<string, unknown> {
  return {
    groups: m.groups.map((g) => ({
      id: g.id,
      devices: g.devices.map((n) => {
        const d = m.devices.find((x) => x.name === n)!;
        return { name: n, driver: d.driver };
      }),
      viable: isViable(m, g),
      reason: viabilityReason(m, g),
      devNode: hasVfioNode(m, g) ? `/dev/vfio/${g.id}` : null,
      owner: g.owner,
      type: g.type,
    })),
    noIommu: m.devices.filter((d) => d.iommuGroup === null).map((d) => d.name),
  };
}

export function groupsText(m: Machine, st: Style): string {
  if (m.groups.length === 0) return 'no IOMMU groups on this machine (no device has an "iommus" reference to an available IOMMU)\n';
  let out = '';
  for (const g of m.groups) {
    const viable = isViable(m, g);
    const node = hasVfioNode(m, g) ? `/dev/vfio/${g.id}` : 'no /dev/vfio node';
    out += `${st.bold(`group ${g.id}`)}  ${viable ? st.green('viable') : st.red('not viable')}  ${node}${g.owner ? `  owner=${g.owner}` : ''}\n`;
    out += table(g.devices.map((n) => {
      const d = m.devices.find((x) => x.name === n)!;
      return ['  ' + n, `drv=${d.driver ?? '-'}`];
    }));
    const why = viabilityReason(m, g);
    if (why) out += `  ${st.yellow('why:')} ${why}; every device of the group must be unbound or on a VFIO driver\n`;
  }
  const none = m.devices.filter((d) => d.iommuGroup === null);
  if (none.length) out += `\nno IOMMU group (cannot be used with VFIO): ${none.map((d) => d.name).join(', ')}\n`;
  return out;
}

export function dmesgLines(m: Machine, opts: { level?: number } = {}): string[] {
  return m.log.filter((l) => opts.level === undefined || l.level <= opts.level).map((l) => `${formatTimestamp(l.t)} ${l.text}`);
}


// ---- --explain: what a real system runs to see the same ----

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

export function explainGroups(sys: Sys, m: Machine): void {
  sys.record('ls /sys/kernel/iommu_groups', 'one directory per IOMMU group');
  for (const g of m.groups) sys.record(`ls /sys/kernel/iommu_groups/${g.id}/devices`, `members of group ${g.id}: user space owns them together`);
  if (m.groups.length) sys.record('for l in /sys/kernel/iommu_groups/*/devices/*/driver; do echo "$l -> $(readlink $l)"; done', 'viable = every member is unbound or bound to a VFIO driver');
  sys.record('ls -l /dev/vfio', 'a group has a /dev/vfio/<N> node once a member is bound to a VFIO driver');
}

const LEVEL_NAMES = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];

export function explainDmesg(sys: Sys, level: number | undefined): void {
  if (level === undefined) sys.record('dmesg', 'the kernel log: probe failures and VFIO messages appear only here');
  else sys.record(`dmesg --level=${LEVEL_NAMES.slice(0, Math.max(0, Math.min(7, level)) + 1).join(',')}`, `only messages at level ${level} or more urgent`);
}
