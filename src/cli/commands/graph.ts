/**
 * graph: the machine as a picture, in Graphviz DOT or Mermaid. Devices (name and first
 * compatible) sit in their IOMMU group (a cluster/subgraph, coloured by viability), with
 * an edge to the driver they are bound to, a dashed edge to the driver their
 * driver_override names, and user-space owners pointing at the groups they hold. One
 * model is built from the machine and rendered twice, so both formats say the same.
 * Output is deterministic: everything is in machine order and ids are positional.
 */
import type { Machine, Device } from '../../base/machine.js';
import { isViable, hasVfioNode } from '../../iommu/group.js';
import { driverKind } from '../devices.js';

const GRAPH_FORMATS = ['dot', 'mermaid'] as const;
type GraphFormat = (typeof GRAPH_FORMATS)[number];

type DeviceState = 'host' | 'vfio' | 'unbound';
type DriverState = 'host' | 'vfio' | 'missing';

interface GDevice { id: string; lines: string[]; state: DeviceState; running: boolean }
interface GDriver { id: string; lines: string[]; state: DriverState }
interface GOwner { id: string; lines: string[] }
interface GGroup { id: string; label: string; viable: boolean; devices: GDevice[] }
interface GEdge { from: string; to: string; kind: 'bound' | 'override' | 'holds'; label?: string }

interface GraphModel {
  title: string;
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

function graphModel(m: Machine): GraphModel {
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
    const node: GDevice = { id: `dev${i}`, lines, state: deviceState(m, d), running: d.activity.running };
    devices.set(d.name, node);
    if (d.driver !== null) edges.push({ from: node.id, to: driverFor(d.bus, d.driver), kind: 'bound' });
    if (d.driverOverride !== null) edges.push({ from: node.id, to: driverFor(d.bus, d.driverOverride), kind: 'override', label: LEGEND.override });
  });
  const groups: GGroup[] = m.groups.map((g) => {
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
  const owners: GOwner[] = m.owners.filter((o) => o.alive).map((o, i) => {
    const id = `own${i}`;
    for (const gid of o.groups) edges.push({ from: id, to: `grp${gid}`, kind: 'holds', label: `/dev/vfio/${gid}` });
    return { id, lines: [o.name, `pid ${o.pid}`] };
  });
  return { title: m.model, groups, loose: [...devices.values()].filter((d) => !grouped.has(d)), drivers, owners, edges };
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
  // dot stacks a rank bottom-up with rankdir=LR: emitting in reverse puts group 0 on top
  for (const d of [...g.loose].reverse()) out += dotDevice(d, '  ');
  for (const grp of [...g.groups].reverse()) out += dotCluster(grp.id, grp.label, grp.viable, grp.devices.map((d) => dotDevice(d, '    ')).join(''), '  ');
  for (const d of g.drivers) out += dotNode(d.id, d.lines, DOT_DRIVER(d.state), '  ');
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

function toMermaid(g: GraphModel): string {
  const out: string[] = ['---', `title: ${JSON.stringify(visible(g.title))}`, '---', 'flowchart LR']; // YAML front matter: a JSON string is a YAML string
  for (const grp of g.groups) {
    out.push(`subgraph ${grp.id}[${mermaidString([grp.label])}]`);
    for (const d of grp.devices) out.push('  ' + mermaidDevice(d));
    out.push('end');
  }
  for (const d of g.loose) out.push(mermaidDevice(d));
  for (const d of g.drivers) out.push(`${d.id}[[${mermaidString(d.lines)}]]:::${MERMAID_DRIVER_CLASS[d.state]}`);
  for (const o of g.owners) out.push(`${o.id}([${mermaidString(o.lines)}]):::owner`);
  for (const e of g.edges) out.push(`${e.from} ${MERMAID_ARROW[e.kind]}${e.label === undefined ? '' : `|${mermaidString([e.label])}|`} ${e.to}`);
  const running = [...g.groups.flatMap((x) => x.devices), ...g.loose].filter((d) => d.running).map((d) => d.id);
  if (running.length) out.push(`class ${running.join(',')} running`);
  for (const grp of g.groups) out.push(mermaidGroupStyle(grp.id, grp.viable));
  out.push(...mermaidLegend(), ...MERMAID_CLASSES);
  return out.join('\n') + '\n';
}

export function renderGraph(m: Machine, format: GraphFormat): string {
  const g = graphModel(m);
  return format === 'dot' ? toDot(g) : toMermaid(g);
}
