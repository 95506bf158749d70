/**
 * vfioctl graph: DOT rendered by the real `dot`, Mermaid compared with golden files
 * (UPDATE_GOLDEN=1 rewrites them), colours following the machine's state, and odd names
 * escaped so that the output stays valid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { stateBytes, ok, booted, golden, tempState, REPO } from './helpers.js';
import { expectRefused } from './refuse.js';
import { readState, serializeState } from '../src/state/store.js';
import { dotString, mermaidString } from '../src/cli/commands/teach/graph-model.js';

const ETH = 'fff51000.ethernet';
const HAVE_DOT = spawnSync('dot', ['-V']).status === 0;
const NO_DOT = HAVE_DOT ? false : 'graphviz (dot) is not installed: rendering not checked (apt-get install graphviz)';

/** passthrough of the xgmac, opened and started by qemu; dma overridden but still on its host driver */
async function passedThrough(): Promise<string> {
  const s = await booted();
  await ok(s, '-q', 'modprobe', 'vfio-platform');
  await ok(s, '-q', 'passthrough', ETH);
  await ok(s, '-q', 'open', ETH, '--owner', 'qemu');
  await ok(s, '-q', 'start', ETH);
  await ok(s, '-q', 'override', 'fff52000.dma', 'vfio-platform');
  return s;
}

function svg(source: string): string {
  const r = spawnSync('dot', ['-Tsvg'], { input: source, encoding: 'utf8' });
  assert.equal(r.status, 0, `dot -Tsvg failed: ${r.stderr}`);
  assert.equal(r.stderr, '', 'dot has no warnings');
  return r.stdout;
}

test('graph --format mermaid: golden files for the default machine and after a passthrough', async () => {
  const s = await booted();
  const before = stateBytes(s);
  golden('graph-default', await ok(s, 'graph', '--format', 'mermaid'), 'mmd');
  assert.deepEqual(stateBytes(s), before, 'graph is read-only');
  golden('graph-passthrough', await ok(await passedThrough(), 'graph', '--format', 'mermaid'), 'mmd');
});

test('graph (dot): rendered by dot -Tsvg; colours, clusters, edges and legend follow the state', { skip: NO_DOT }, async () => {
  const plain = await ok(await booted(), 'graph');
  assert.match(svg(plain), /<svg/);
  const s = await passedThrough();
  const dot = await ok(s, 'graph');
  assert.equal(await ok(s, 'graph', '--format', 'dot'), dot, 'dot is the default');
  assert.equal(await ok(s, 'graph'), dot, 'deterministic');
  const out = svg(dot);
  assert.match(out, /IOMMU group 0: viable, \/dev\/vfio\/0/);
  assert.match(out, /IOMMU group 1: not viable/);
  assert.match(out, />Legend</);
  // the xgmac: vfio fill, running border, in the viable cluster, bound to vfio-platform, held by qemu
  assert.match(dot, /subgraph cluster_grp0 \{\n {4}graph \[label="IOMMU group 0: viable, \/dev\/vfio\/0", color="#2ca02c"[^\n]*\n {4}(dev\d+) \[label="fff51000\.ethernet\\ncalxeda,hb-xgmac\\nRUNNING", fillcolor="#b7e4b7", color="#d62728", penwidth=3\];/);
  const eth = /(dev\d+) \[label="fff51000\.ethernet/.exec(dot)![1]!;
  const vfio = /(drv\d+) \[label="vfio-platform", shape="component", fillcolor="#5cb85c"\]/.exec(dot)![1]!;
  const dma = /(dev\d+) \[label="fff52000\.dma/.exec(dot)![1]!;
  assert.match(dot, new RegExp(`  ${eth} -> ${vfio} \\[color="#555555"\\];`));
  assert.match(dot, new RegExp(`  ${dma} -> ${vfio} \\[style="dashed", [^\\]]*label="driver_override"\\];`), 'an override is a dashed edge');
  assert.match(dot, new RegExp(`  own0 -> ${eth} \\[[^\\]]*label="/dev/vfio/0", lhead="cluster_grp0"\\];`), 'the owner points at its group');
  assert.match(dot, /own0 \[label="qemu\\npid 1000", shape="cds"/);
  assert.match(dot, /subgraph cluster_grp1 \{\n {4}graph \[label="IOMMU group 1: not viable", color="#d62728"/);
  assert.match(dot, /\[label="soc\\nsimple-bus", fillcolor="#eeeeee"\]/, 'an unbound device is grey');
  const j = JSON.parse(await ok(s, '--json', 'graph', '--format', 'mermaid')) as { format: string; graph: string };
  assert.equal(j.format, 'mermaid');
  assert.equal(j.graph, await ok(s, 'graph', '--format', 'mermaid'));
});

const ODD = 'q"uo\\te<x>&#1';

/** the default machine with a device, compatible, override and model full of characters that need escaping */
async function oddMachine(): Promise<string> {
  const s = await booted();
  const m = readState(s)!;
  const d = m.devices.find((x) => x.name === 'fff52000.dma')!;
  d.name = ODD;
  d.of.compatible = ['we"ird,<compat>\\'];
  d.driverOverride = 'drv"<x>';
  for (const g of m.groups) g.devices = g.devices.map((n) => (n === 'fff52000.dma' ? ODD : n));
  m.model = 'model "with" <angles>';
  writeFileSync(s, serializeState(m));
  return s;
}

test('graph: odd names (quotes, backslashes, angle brackets, ampersand, hash, control characters) are escaped in both formats', async () => {
  assert.equal(dotString(['a"b\\c<d>', 'e']), '"a\\"b\\\\c<d>\\ne"');
  assert.equal(mermaidString(['a"b\\c<d>&#`', 'e']), '"a#quot;b#92;c#lt;d#gt;#amp;#35;#96;<br/>e"');
  assert.equal(dotString(['tab\there']), '"tab\\\\x09here"');
  assert.equal(mermaidString(['tab\there']), '"tab#92;x09here"');
  const s = await oddMachine();
  const dot = await ok(s, 'graph');
  assert.ok(dot.includes(`[label="q\\"uo\\\\te<x>&#1\\nwe\\"ird,<compat>\\\\", fillcolor=`), dot);
  assert.ok(dot.includes('[label="drv\\"<x>\\n(not registered)", shape="component", style="dashed"'), 'a driver named only by an override appears');
  const mmd = await ok(s, 'graph', '--format', 'mermaid');
  assert.ok(mmd.includes('["q#quot;uo#92;te#lt;x#gt;#amp;#35;1<br/>we#quot;ird,#lt;compat#gt;#92;"]'), mmd);
  assert.ok(mmd.startsWith('---\ntitle: "model \\"with\\" <angles>"\n---\nflowchart LR\n'));
  for (const line of mmd.split('\n').slice(3)) {
    for (const [, label] of line.matchAll(/"([^"]*)"/g)) assert.doesNotMatch(label!.replace(/<br\/>/g, ''), /[<>&\\]/, `a label is escaped: ${line}`);
  }
});

test('graph: odd names still give a graph dot renders, with the names as text', { skip: NO_DOT }, async () => {
  const out = svg(await ok(await oddMachine(), 'graph'));
  assert.ok(out.includes('q&quot;uo\\te&lt;x&gt;&amp;#1'), 'the name survives dot as text');
  assert.ok(out.includes('drv&quot;&lt;x&gt;'));
  assert.ok(out.includes('model &quot;with&quot; &lt;angles&gt;'));
});

test('graph --format with an unknown language: usage error, state unchanged', async () => {
  const s = await booted();
  const e = await expectRefused(s, 2, 'USAGE', ['graph', '--format', 'svg']);
  assert.match(e.message, /'svg' is invalid\. Allowed choices are dot, mermaid/);
});

const BOARD = path.join(REPO, '../shared/fixtures/linux-dts/boards/r8a77951-salvator-xs.dtb');
const NO_BOARD = !HAVE_DOT ? NO_DOT : existsSync(BOARD) ? false : `${BOARD} is absent (the shared Linux device-tree fixtures are not checked out)`;

/** width and height in points of an SVG dot made */
function size(svgText: string): { w: number; h: number } {
  const m = /<svg width="(\d+)pt" height="(\d+)pt"/.exec(svgText);
  assert.ok(m, 'an SVG with a size');
  return { w: Number(m[1]), h: Number(m[2]) };
}

test('graph of a real 135-device board: a grid of bus clusters, not one column 8,000 pt tall; --only narrows it', { skip: NO_BOARD }, async (t) => {
  const s = tempState();
  t.after(() => rmSync(path.dirname(s), { recursive: true, force: true }));
  await ok(s, '-q', 'load', BOARD);
  const dot = await ok(s, 'graph');
  assert.match(dot, /subgraph cluster_bus0 \{\n {4}graph \[label="soc: 113 entries"/, 'one cluster per parent bus');
  assert.match(dot, /\[style="invis"\];/, 'rows chained left to right');
  assert.match(dot, /\{ rank=max; drv/, 'drivers in the last column');
  const all = size(svg(dot));
  assert.ok(all.h < 3000, `the whole board is ${all.w}×${all.h} pt (it was 538×8239 in one column)`);
  assert.ok(all.w < 2 * all.h && all.h < 2 * all.w, `roughly square: ${all.w}×${all.h} pt`);
  const mmd = await ok(s, 'graph', '--format', 'mermaid');
  assert.match(mmd, /^subgraph bus0\["soc: 113 entries"\]\n {2}direction LR$/m);
  assert.match(mmd, /^ {2}dev\d+ ~~~ dev\d+ ~~~ /m, 'invisible links make the rows in Mermaid too');

  const group3 = await ok(s, 'graph', '--only', 'group', '3');
  assert.match(group3, /label="Renesas Salvator-X 2nd version board based on r8a77951 \(only IOMMU group 3\)"/);
  assert.match(group3, /e6800000\.ethernet/);
  assert.equal((group3.match(/ \[label="[^"]*\\nrenesas,/g) ?? []).length, 1, 'one device: the ethernet of group 3');
  assert.match(group3, /label="ravb"/, 'with its driver');
  assert.doesNotMatch(group3, /label="gpio-keys"/, 'and no other driver');
  const groups = await ok(s, 'graph', '--only', 'groups');
  assert.equal((groups.match(/subgraph cluster_grp\d+/g) ?? []).length, 19);
  assert.doesNotMatch(groups, /regulator/, 'devices in no group are left out');
  assert.match(await ok(s, 'graph', '--only', 'vfio'), /\(only what VFIO is involved with\): nothing to draw/);
});

test('graph --only vfio on the default machine after a passthrough: the xgmac, the overridden dma and their drivers; bad --only is a usage error', async () => {
  const s = await passedThrough();
  const dot = await ok(s, 'graph', '--only', 'vfio');
  assert.match(dot, /fff51000\.ethernet/);
  assert.match(dot, /fff52000\.dma/, 'its override names vfio-platform');
  assert.match(dot, /label="vfio-platform"/);
  assert.match(dot, /label="acme-dma"/, 'the dma is still on its host driver');
  assert.match(dot, /own0 \[label="qemu/);
  assert.doesNotMatch(dot, /fff60000\.crypto|calxedaxgmac|acme-crypto/);
  for (const bad of [['--only', 'bogus'], ['--only', 'group', 'x'], ['--only', 'group', '99'], ['--only', 'vfio', 'extra']]) {
    const e = await expectRefused(s, 2, 'USAGE', ['graph', ...bad]);
    assert.match(e.message, /--only takes vfio, groups or group N|IOMMU group number|no IOMMU group 99 on this machine \(groups: 0, 1, 2, 3, 4, 5, 6\)/, bad.join(' '));
  }
});
