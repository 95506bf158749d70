/**
 * The picture `graph` draws (the command is graph.ts beside this): the machine in
 * Graphviz DOT or Mermaid. Devices (name and first compatible) sit in their IOMMU group
 * (a cluster/subgraph, coloured by viability), with an edge to the driver they are bound
 * to, a dashed edge to the driver their driver_override names, and user-space owners
 * pointing at the groups they hold. One model is built from the machine and rendered
 * twice, so both formats say the same. Output is deterministic: everything is in machine
 * order and ids are positional.
 *
 * Real boards have a hundred devices or more, most of them in no IOMMU group: stacked in
 * one column they make a picture thousands of pixels tall. So a machine with more than
 * STACK cells (a cell is a group or a device in no group) is drawn as a grid: one cluster
 * per parent bus, its cells in rows joined by invisible edges, drivers in the last column.
 * `--only vfio`, `--only groups` and `--only group N` leave out what does not matter.
 */
import type { Machine, Device } from '../../../base/machine.js';
import { isViable, hasVfioNode } from '../../../iommu/group.js';
import { driverKind } from '../../devices.js';
import { UsageError } from '../../../base/errors.js';

export const GRAPH_FORMATS = ['dot', 'mermaid'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

type DeviceState = 'host' | 'vfio' | 'unbound';
type DriverState = 'host' | 'vfio' | 'missing';

interface GDevice { id: string; lines: string[]; state: DeviceState; running: boolean; bus: string }
interface GDriver { id: string; lines: string[]; state: DriverState }
interface GOwner { id: string; lines: string[] }
interface GGroup { id: string; label: string; viable: boolean; devices: GDevice[] }
interface GEdge { from: string; to: string; kind: 'bound' | 'override' | 'holds'; label?: string }

interface GraphModel {
  title: string;
  /** draw as a grid in one cluster per bus (a big machine), else one column as it always was */
  grid: boolean;
  groups: GGroup[];
  /** devices in no IOMMU group */
  loose: GDevice[];
  drivers: GDriver[];
  owners: GOwner[];
  edges: GEdge[];
}

const LEGEND = {
  host: 'device bound to a host driver',
  vfio: 'device bound to a VFIO driver',
  unbound: 'device with no driver',
  running: 'RUNNING: DMA and IRQs going on',
  hostDriver: 'host driver',
  vfioDriver: 'VFIO driver (vfio-platform, vfio-amba)',
  owner: 'user-space owner',
  viable: 'IOMMU group: viable',
  notViable: 'IOMMU group: not viable',
  bound: 'bound',
  override: 'driver_override',
  holds: 'holds /dev/vfio/N',
} as const;

function deviceState(m: Machine, d: Device): DeviceState {
  const k = driverKind(m, d);
  return k === 'none' ? 'unbound' : k;
}

/** What `--only` keeps: everything, the groups (and devices) VFIO is involved with, every group, or one group. */
export type GraphOnly = { kind: 'all' } | { kind: 'vfio' } | { kind: 'groups' } | { kind: 'group'; id: number };

/** `--only` words → GraphOnly; a usage error names what is accepted. */
export function parseOnly(words: readonly string[] | undefined, m?: Machine): GraphOnly {
  if (!words || words.length === 0) return { kind: 'all' };
  const [w, n, ...rest] = words;
  const usage = (msg: string): UsageError => new UsageError(msg, 'e.g. --only vfio, --only groups, --only group 2');
  if (w === 'vfio' && n === undefined) return { kind: 'vfio' };
  if (w === 'groups' && n === undefined) return { kind: 'groups' };
  if (w === 'group' && n !== undefined && rest.length === 0) {
    if (!/^\d+$/.test(n)) throw usage(`--only group takes an IOMMU group number, not "${n}"`);
    const id = Number(n);
    if (m && !m.groups.some((g) => g.id === id)) throw usage(`no IOMMU group ${id} on this machine (groups: ${m.groups.map((g) => g.id).join(', ') || 'none'})`);
    return { kind: 'group', id };
  }
  throw usage(`--only takes vfio, groups or group N, not "${words.join(' ')}"`);
}

/** more cells than this (groups, and devices in no group) and the machine is drawn as a grid */
export const STACK = 20;

/** The bus a device hangs off: its parent directory under /sys/devices/platform ("platform" at the top). */
function busLabel(d: Device): string {
  const rel = d.parentDir.replace(/^\/sys\/devices\/platform\/?/, '');
  return rel === '' ? d.bus : rel;
}

function graphModel(m: Machine, only: GraphOnly = { kind: 'all' }): GraphModel {
  const drivers: GDriver[] = m.drivers.map((d, i) => ({ id: `drv${i}`, lines: [d.name], state: d.kind }));
  const driverId = new Map<string, string>(m.drivers.map((d, i) => [`${d.bus}/${d.name}`, `drv${i}`]));
  const edges: GEdge[] = [];
  const driverFor = (bus: string, name: string): string => {
    const key = `${bus}/${name}`;
    let id = driverId.get(key);
    if (id === undefined) {
      // named by a driver_override but not registered (its module is not loaded)
      id = `drv${drivers.length}`;
      drivers.push({ id, lines: [name, '(not registered)'], state: 'missing' });
      driverId.set(key, id);
    }
    return id;
  };
  const devices = new Map<string, GDevice>();
  m.devices.forEach((d, i) => {
    const lines = [d.bus === 'amba' ? `${d.name} [amba]` : d.name];
    if (d.of.compatible[0] !== undefined) lines.push(d.of.compatible[0]);
    if (d.activity.running) lines.push('RUNNING');
    const node: GDevice = { id: `dev${i}`, lines, state: deviceState(m, d), running: d.activity.running, bus: busLabel(d) };
    if (!keepDevice(m, d, only)) return;
    devices.set(d.name, node);
    if (d.driver !== null) edges.push({ from: node.id, to: driverFor(d.bus, d.driver), kind: 'bound' });
    if (d.driverOverride !== null) edges.push({ from: node.id, to: driverFor(d.bus, d.driverOverride), kind: 'override', label: LEGEND.override });
  });
  const groups: GGroup[] = m.groups.filter((g) => g.devices.some((n) => devices.has(n))).map((g) => {
    const viable = isViable(m, g);
    const node = hasVfioNode(m, g) ? `, /dev/vfio/${g.id}` : '';
    return {
      id: `grp${g.id}`,
      label: `IOMMU group ${g.id}: ${viable ? 'viable' : 'not viable'}${node}`,
      viable,
      devices: g.devices.map((n) => devices.get(n)).filter((x): x is GDevice => x !== undefined),
    };
  });
  const grouped = new Set(groups.flatMap((g) => g.devices));
  const shown = new Set(groups.map((g) => g.id));
  const owners: GOwner[] = [];
  m.owners.filter((o) => o.alive).forEach((o, i) => {
    const id = `own${i}`;
    const held = o.groups.filter((gid) => shown.has(`grp${gid}`));
    if (only.kind !== 'all' && held.length === 0) return;
    for (const gid of held) edges.push({ from: id, to: `grp${gid}`, kind: 'holds', label: `/dev/vfio/${gid}` });
    owners.push({ id, lines: [o.name, `pid ${o.pid}`] });
  });
  // only the drivers something points at, once --only has left devices out
  const used = new Set(edges.map((e) => e.to));
  const loose = [...devices.values()].filter((d) => !grouped.has(d));
  let title = only.kind === 'all' ? m.model : `${m.model} (only ${only.kind === 'group' ? `IOMMU group ${only.id}` : only.kind === 'vfio' ? 'what VFIO is involved with' : 'IOMMU groups'})`;
  if (devices.size === 0) title += ': nothing to draw';
  return {
    title,
    grid: groups.length + loose.length > STACK,
    groups,
    loose,
    drivers: only.kind === 'all' ? drivers : drivers.filter((d) => used.has(d.id)),
    owners,
    edges,
  };
}

/** `--only vfio`: a device of a group user space is involved with (a member on a VFIO driver, an override naming one, an owner), or such a device in no group. */
function keepDevice(m: Machine, d: Device, only: GraphOnly): boolean {
  if (only.kind === 'all') return true;
  if (only.kind === 'group') return d.iommuGroup === only.id;
  if (only.kind === 'groups') return d.iommuGroup !== null;
  const vfioish = (x: Device): boolean =>
    driverKind(m, x) === 'vfio' || (x.driverOverride !== null && m.drivers.some((r) => r.name === x.driverOverride && r.kind === 'vfio')) || x.driverOverride === 'vfio-platform' || x.driverOverride === 'vfio-amba';
  if (d.iommuGroup === null) return vfioish(d);
  const g = m.groups.find((x) => x.id === d.iommuGroup);
  return !!g && (g.owner !== null || g.devices.some((n) => {
    const x = m.devices.find((y) => y.name === n);
    return !!x && vfioish(x);
  }));
}

/**
 * Cells of a big machine, per bus, in machine order: a group is one cell (on the bus of its
 * first device), a device in no group another. Each bus becomes a cluster of rows.
 */
interface Cell { anchor: string; group?: GGroup; device?: GDevice }
function busCells(g: GraphModel): Map<string, Cell[]> {
  const out = new Map<string, Cell[]>();
  const add = (bus: string, c: Cell): void => void (out.get(bus) ?? out.set(bus, []).get(bus)!).push(c);
  for (const grp of g.groups) add(grp.devices[0]!.bus, { anchor: grp.devices[0]!.id, group: grp });
  for (const d of g.loose) add(d.bus, { anchor: d.id, device: d });
  return out;
}

/** cells → rows, about twice as many rows as columns (nodes are wider than tall) */
function rows<T>(cells: readonly T[]): T[][] {
  const cols = Math.max(1, Math.ceil(Math.sqrt(cells.length / 2)));
  const out: T[][] = [];
  for (let i = 0; i < cells.length; i += cols) out.push(cells.slice(i, i + cols));
  return out;
}

// ---- shared look ----

const FILL = { host: '#dbe9f6', vfio: '#b7e4b7', unbound: '#eeeeee', hostDriver: '#e6e0f5', vfioDriver: '#5cb85c', missing: '#ffffff', owner: '#ffe3a3' };
const LINE = { normal: '#555555', running: '#d62728', viable: '#2ca02c', notViable: '#d62728', override: '#7f7f7f', holds: '#b8860b' };

/** Control characters as visible \xNN text, so a label is always one line of printable text. */
function visible(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// ---- DOT ----

/** A DOT double-quoted string; lines joined with \n (a centred line break in a label). */
export function dotString(lines: readonly string[]): string {
  return '"' + lines.map((l) => visible(l).replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\n') + '"';
}

function dotAttrs(a: Record<string, string | number>): string {
  return '[' + Object.entries(a).map(([k, v]) => `${k}=${typeof v === 'number' ? v : dotString([v])}`).join(', ') + ']';
}

function dotDevice(d: GDevice, ind: string): string {
  const a: Record<string, string | number> = { fillcolor: FILL[d.state] };
  if (d.running) Object.assign(a, { color: LINE.running, penwidth: 3 });
  return dotNode(d.id, d.lines, a, ind);
}

function dotNode(id: string, lines: readonly string[], attrs: Record<string, string | number>, ind: string): string {
  return `${ind}${id} [label=${dotString(lines)}, ${dotAttrs(attrs).slice(1)};\n`;
}

const DOT_DRIVER = (state: DriverState): Record<string, string | number> =>
  state === 'missing' ? { shape: 'component', style: 'dashed', fillcolor: FILL.missing } : { shape: 'component', fillcolor: state === 'vfio' ? FILL.vfioDriver : FILL.hostDriver };
const DOT_OWNER = { shape: 'cds', fillcolor: FILL.owner };
const DOT_EDGE = {
  bound: { color: LINE.normal },
  override: { style: 'dashed', color: LINE.override, fontcolor: LINE.override },
  holds: { color: LINE.holds, fontcolor: LINE.holds, penwidth: 2 },
} as const;

function dotCluster(id: string, label: string, viable: boolean, body: string, ind: string): string {
  const look = viable ? { color: LINE.viable, bgcolor: '#f3fbf3', style: 'rounded' } : { color: LINE.notViable, bgcolor: '#fdf1f1', style: 'rounded,dashed' };
  let out = `${ind}subgraph cluster_${id} {\n`;
  out += `${ind}  graph ${dotAttrs({ label, ...look })};\n`;
  return out + body + `${ind}}\n`;
}

function dotLegend(): string {
  const i = '    ';
  let body = dotNode('lg_host', [LEGEND.host], { fillcolor: FILL.host }, i);
  body += dotNode('lg_vfio', [LEGEND.vfio], { fillcolor: FILL.vfio }, i);
  body += dotNode('lg_unbound', [LEGEND.unbound], { fillcolor: FILL.unbound }, i);
  body += dotNode('lg_running', [LEGEND.running], { fillcolor: FILL.vfio, color: LINE.running, penwidth: 3 }, i);
  body += dotNode('lg_hdrv', [LEGEND.hostDriver], DOT_DRIVER('host'), i);
  body += dotNode('lg_vdrv', [LEGEND.vfioDriver], DOT_DRIVER('vfio'), i);
  body += dotNode('lg_owner', [LEGEND.owner], DOT_OWNER, i);
  body += dotCluster('lg_viable', LEGEND.viable, true, dotNode('lg_member_v', ['member'], { fillcolor: FILL.unbound }, i + '  '), i);
  body += dotCluster('lg_not_viable', LEGEND.notViable, false, dotNode('lg_member_n', ['member'], { fillcolor: FILL.host }, i + '  '), i);
  body += `${i}lg_host -> lg_hdrv ${dotAttrs({ label: LEGEND.bound, ...DOT_EDGE.bound })};\n`;
  body += `${i}lg_unbound -> lg_vdrv ${dotAttrs({ label: LEGEND.override, ...DOT_EDGE.override })};\n`;
  body += `${i}lg_owner -> lg_vfio ${dotAttrs({ label: LEGEND.holds, ...DOT_EDGE.holds })};\n`;
  return `  subgraph cluster_legend {\n    graph ${dotAttrs({ label: 'Legend', color: '#999999', style: 'rounded' })};\n${body}  }\n`;
}

function toDot(g: GraphModel): string {
  let out = 'digraph vfioctl {\n';
  out += `  graph ${dotAttrs({ label: g.title, labelloc: 't', rankdir: 'LR', compound: 'true', fontname: 'Helvetica', fontsize: 12 })};\n`;
  out += `  node ${dotAttrs({ shape: 'box', style: 'filled', fontname: 'Helvetica', fontsize: 10, color: LINE.normal })};\n`;
  out += `  edge ${dotAttrs({ fontname: 'Helvetica', fontsize: 9 })};\n`;
  out += dotLegend(); // first: with rankdir=LR dot stacks it below the machine
  if (g.grid) out += dotGrid(g);
  else {
    // dot stacks a rank bottom-up with rankdir=LR: emitting in reverse puts group 0 on top
    for (const d of [...g.loose].reverse()) out += dotDevice(d, '  ');
    for (const grp of [...g.groups].reverse()) out += dotCluster(grp.id, grp.label, grp.viable, grp.devices.map((d) => dotDevice(d, '    ')).join(''), '  ');
  }
  for (const d of g.drivers) out += dotNode(d.id, d.lines, DOT_DRIVER(d.state), '  ');
  if (g.grid && g.drivers.length) out += `  { rank=max; ${g.drivers.map((d) => d.id).join('; ')}; }\n`;
  for (const o of g.owners) out += dotNode(o.id, o.lines, DOT_OWNER, '  ');
  for (const e of g.edges) {
    const a: Record<string, string | number> = { ...DOT_EDGE[e.kind] };
    if (e.label !== undefined) a['label'] = e.label;
    let to = e.to;
    if (e.kind === 'holds') {
      // DOT edges end at nodes: aim at the group's first member and clip at the cluster
      const grp = g.groups.find((x) => x.id === e.to);
      const first = grp?.devices[0];
      if (!grp || !first) continue;
      to = first.id;
      a['lhead'] = `cluster_${grp.id}`;
    }
    out += `  ${e.from} -> ${to} ${dotAttrs(a)};\n`;
  }
  return out + '}\n';
}

/** A big machine: one cluster per bus, its cells in rows chained by invisible edges (left to right), rows stacked. */
function dotGrid(g: GraphModel): string {
  let out = '';
  let k = 0;
  for (const [bus, cells] of busCells(g)) {
    let body = '';
    const rs = rows(cells);
    // bottom-up again: the first row ends on top
    for (const row of [...rs].reverse()) {
      for (const c of row) body += c.group ? dotCluster(c.group.id, c.group.label, c.group.viable, c.group.devices.map((d) => dotDevice(d, '      ')).join(''), '    ') : dotDevice(c.device!, '    ');
    }
    for (const row of rs) for (let i = 1; i < row.length; i++) body += `    ${row[i - 1]!.anchor} -> ${row[i]!.anchor} [style="invis"];\n`;
    out += `  subgraph cluster_bus${k++} {\n    graph ${dotAttrs({ label: `${bus}: ${cells.length} ${cells.length === 1 ? 'entry' : 'entries'}`, color: '#bbbbbb', style: 'rounded', labeljust: 'l' })};\n${body}  }\n`;
  }
  return out;
}

// ---- Mermaid ----

/** A Mermaid quoted label: entity codes for the characters Mermaid or HTML would interpret. */
export function mermaidString(lines: readonly string[]): string {
  const esc = (s: string): string =>
    visible(s)
      .replace(/#/g, '#35;')
      .replace(/\\/g, '#92;') // Mermaid has no backslash escapes; a literal one before a quote would be a trap
      .replace(/&/g, '#amp;')
      .replace(/"/g, '#quot;')
      .replace(/</g, '#lt;')
      .replace(/>/g, '#gt;')
      .replace(/`/g, '#96;');
  return '"' + lines.map(esc).join('<br/>') + '"';
}

const MERMAID_CLASSES = [
  `classDef host fill:${FILL.host},stroke:${LINE.normal}`,
  `classDef vfio fill:${FILL.vfio},stroke:${LINE.normal}`,
  `classDef unbound fill:${FILL.unbound},stroke:${LINE.normal}`,
  `classDef hostDriver fill:${FILL.hostDriver},stroke:${LINE.normal}`,
  `classDef vfioDriver fill:${FILL.vfioDriver},stroke:${LINE.normal}`,
  `classDef missing fill:${FILL.missing},stroke:${LINE.normal},stroke-dasharray:4 3`,
  `classDef owner fill:${FILL.owner},stroke:${LINE.normal}`,
  // last, so that its border wins over the binding colour
  `classDef running stroke:${LINE.running},stroke-width:3px`,
];

const MERMAID_DRIVER_CLASS: Record<DriverState, string> = { host: 'hostDriver', vfio: 'vfioDriver', missing: 'missing' };

function mermaidGroupStyle(id: string, viable: boolean): string {
  return viable ? `style ${id} fill:#f3fbf3,stroke:${LINE.viable}` : `style ${id} fill:#fdf1f1,stroke:${LINE.notViable},stroke-dasharray:4 3`;
}

function mermaidDevice(d: GDevice): string {
  return `${d.id}[${mermaidString(d.lines)}]:::${d.state}`;
}

const MERMAID_ARROW = { bound: '-->', override: '-.->', holds: '==>' } as const;

function mermaidLegend(): string[] {
  const n = (id: string, text: string, shape: [string, string], cls: string): string => `  ${id}${shape[0]}${mermaidString([text])}${shape[1]}:::${cls}`;
  const box: [string, string] = ['[', ']'];
  const drv: [string, string] = ['[[', ']]'];
  return [
    'subgraph legend["Legend"]',
    n('lg_host', LEGEND.host, box, 'host'),
    n('lg_vfio', LEGEND.vfio, box, 'vfio'),
    n('lg_unbound', LEGEND.unbound, box, 'unbound'),
    n('lg_running', LEGEND.running, box, 'vfio'),
    n('lg_hdrv', LEGEND.hostDriver, drv, 'hostDriver'),
    n('lg_vdrv', LEGEND.vfioDriver, drv, 'vfioDriver'),
    n('lg_owner', LEGEND.owner, ['([', '])'], 'owner'),
    `  subgraph lg_viable[${mermaidString([LEGEND.viable])}]`,
    `    lg_member_v["member"]:::unbound`,
    '  end',
    `  subgraph lg_not_viable[${mermaidString([LEGEND.notViable])}]`,
    `    lg_member_n["member"]:::host`,
    '  end',
    `  lg_host -->|${mermaidString([LEGEND.bound])}| lg_hdrv`,
    `  lg_unbound -.->|${mermaidString([LEGEND.override])}| lg_vdrv`,
    `  lg_owner ==>|${mermaidString([LEGEND.holds])}| lg_vfio`,
    'end',
    'class lg_running running',
    mermaidGroupStyle('lg_viable', true),
    mermaidGroupStyle('lg_not_viable', false),
    'style legend fill:#ffffff,stroke:#999999',
  ];
}

/** A big machine: one subgraph per bus, its cells in rows joined by invisible links (~~~). */
function mermaidGrid(g: GraphModel): string[] {
  const out: string[] = [];
  let k = 0;
  for (const [bus, cells] of busCells(g)) {
    const id = `bus${k++}`;
    out.push(`subgraph ${id}[${mermaidString([`${bus}: ${cells.length} ${cells.length === 1 ? 'entry' : 'entries'}`])}]`, '  direction LR');
    const rs = rows(cells);
    for (const c of cells) {
      if (!c.group) {
        out.push('  ' + mermaidDevice(c.device!));
        continue;
      }
      out.push(`  subgraph ${c.group.id}[${mermaidString([c.group.label])}]`);
      for (const d of c.group.devices) out.push('    ' + mermaidDevice(d));
      out.push('  end');
    }
    for (const row of rs) if (row.length > 1) out.push('  ' + row.map((c) => c.anchor).join(' ~~~ '));
    out.push('end', `style ${id} fill:#ffffff,stroke:#bbbbbb`);
  }
  return out;
}

function toMermaid(g: GraphModel): string {
  const out: string[] = ['---', `title: ${JSON.stringify(visible(g.title))}`, '---', 'flowchart LR']; // YAML front matter: a JSON string is a YAML string
  if (g.grid) out.push(...mermaidGrid(g));
  else {
    for (const grp of g.groups) {
      out.push(`subgraph ${grp.id}[${mermaidString([grp.label])}]`);
      for (const d of grp.devices) out.push('  ' + mermaidDevice(d));
      out.push('end');
    }
    for (const d of g.loose) out.push(mermaidDevice(d));
  }
  for (const d of g.drivers) out.push(`${d.id}[[${mermaidString(d.lines)}]]:::${MERMAID_DRIVER_CLASS[d.state]}`);
  for (const o of g.owners) out.push(`${o.id}([${mermaidString(o.lines)}]):::owner`);
  for (const e of g.edges) out.push(`${e.from} ${MERMAID_ARROW[e.kind]}${e.label === undefined ? '' : `|${mermaidString([e.label])}|`} ${e.to}`);
  const running = [...g.groups.flatMap((x) => x.devices), ...g.loose].filter((d) => d.running).map((d) => d.id);
  if (running.length) out.push(`class ${running.join(',')} running`);
  for (const grp of g.groups) out.push(mermaidGroupStyle(grp.id, grp.viable));
  out.push(...mermaidLegend(), ...MERMAID_CLASSES);
  return out.join('\n') + '\n';
}

export function renderGraph(m: Machine, format: GraphFormat, only: GraphOnly = { kind: 'all' }): string {
  const g = graphModel(m, only);
  return format === 'dot' ? toDot(g) : toMermaid(g);
}
