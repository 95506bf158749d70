/**
 * vfioctl graph: DOT rendered by the real `dot`, Mermaid compared with golden files
 * (UPDATE_GOLDEN=1 rewrites them), colours following the machine's state, and odd names
 * escaped so that the output stays valid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { stateBytes, ok, booted, golden } from './helpers.js';
import { expectRefused } from './refuse.js';
import { readState, serializeState } from '../src/state/store.js';
import { dotString, mermaidString } from '../src/cli/commands/graph.js';

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
