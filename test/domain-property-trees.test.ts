/**
 * Random device trees with hostile semantics: absurd #address-cells/#size-cells/
 * #interrupt-cells/#iommu-cells/#reset-cells, references to any label (itself, loops,
 * none), interrupt-map tables of random cells, random ranges, odd statuses and
 * compatibles. Reading and booting each must either work or stop with a TreeError at a
 * line:column: never another exception, never a hang, never an out-of-memory. A booted
 * machine must survive save+load unchanged and its whole sysfs view must be walkable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseOwnYaml } from '../src/devicetree/formats/own-yaml.js';
import { TreeError } from '../src/devicetree/tree.js';
import { boot } from '../src/base/boot.js';
import { roundTrip } from './roundtrip.js';
import { sysRoot } from '../src/sysfs/tree.js';
import { vlist, vread, type VDir } from '../src/sysfs/vfs.js';
import { KernelError } from '../src/base/errors.js';

const STRESS = process.env['VFIOCTL_STRESS'] === '1';
const LABELS = ['l0', 'l1', 'l2', 'l3', 'l4', 'l5'];

const cell = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom(0x10, 0x1000, 0xfff51000, 0x7fffffff, 0xffffffff, 0x100000) },
  { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) },
);
/** A reference: to the i-th label the tree defines (resolved when rendering), or rarely to one it does not. */
const ref = fc.oneof({ weight: 80, arbitrary: fc.nat({ max: 5 }).map((i) => `"&@${i}"`) }, { weight: 1, arbitrary: fc.constant('"&nolabel"') });
const cells = (max: number): fc.Arbitrary<string> =>
  fc.array(fc.oneof({ weight: 4, arbitrary: cell.map(String) }, { weight: 1, arbitrary: ref }), { minLength: 1, maxLength: max }).map((xs) => `[${xs.join(', ')}]`);
const count = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(1000, 0xffffffff, 100000000) });

/** A few properties of a node, as [YAML key, value] pairs; the common ones more often. */
const prop: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('acme,dev', 'simple-bus', 'arm,amba-bus', '["acme,x", "arm,primecell"]', 'arm,gic-400', 'fixed-clock', 'calxeda,hb-xgmac', 'arm,mmu-500', '__proto__', 'constructor', 'fsl,mpic').map((v) => ['compatible', v] as [string, string]) },
  { weight: 1, arbitrary: fc.constantFrom('okay', 'disabled', 'fail', 'ok').map((v) => ['status', v] as [string, string]) },
  { weight: 5, arbitrary: cells(6).map((v) => ['reg', v] as [string, string]) },
  { weight: 2, arbitrary: fc.oneof(fc.constant('true'), cells(7)).map((v) => ['ranges', v] as [string, string]) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('"#address-cells"', '"#size-cells"', '"#interrupt-cells"', '"#iommu-cells"', '"#reset-cells"'), count).map(([k, v]) => [k, String(v)] as [string, string]) },
  { weight: 2, arbitrary: fc.constant(['interrupt-controller', 'true'] as [string, string]) },
  { weight: 3, arbitrary: ref.map((v) => ['interrupt-parent', v] as [string, string]) },
  { weight: 4, arbitrary: cells(7).map((v) => ['interrupts', v] as [string, string]) },
  { weight: 1, arbitrary: cells(8).map((v) => ['interrupts-extended', v] as [string, string]) },
  { weight: 2, arbitrary: cells(12).map((v) => ['interrupt-map', v] as [string, string]) },
  { weight: 1, arbitrary: cells(3).map((v) => ['interrupt-map-mask', v] as [string, string]) },
  { weight: 3, arbitrary: cells(4).map((v) => ['iommus', v] as [string, string]) },
  { weight: 2, arbitrary: cells(3).map((v) => ['resets', v] as [string, string]) },
  { weight: 1, arbitrary: ref.map((v) => ['fsl,iommu-parent', v] as [string, string]) },
  { weight: 1, arbitrary: cell.map((v) => ['mask', String(v)] as [string, string]) },
  { weight: 1, arbitrary: cell.map((v) => ['arm,primecell-periphid', String(v)] as [string, string]) },
  { weight: 1, arbitrary: fc.boolean().map((v) => ['$acpi-reset', String(v)] as [string, string]) },
);
const props = fc.uniqueArray(prop, { maxLength: 7, selector: ([k]) => k });

interface GenNode {
  name: string;
  label: string | null;
  props: [string, string][];
  children: GenNode[];
}

const { node } = fc.letrec<{ node: GenNode }>((tie) => ({
  node: fc.record({
    name: fc.constantFrom('dev@1000', 'dev@2000', 'bus', 'intc@100', 'iommu@200', 'nexus', 'x@fff51000', '__proto__', 'constructor@0', 'soc'),
    label: fc.option(fc.constantFrom(...LABELS), { nil: null }),
    props,
    children: fc.oneof({ maxDepth: 3, depthIdentifier: 'tree' }, fc.constant([] as GenNode[]), fc.array(tie('node') as fc.Arbitrary<GenNode>, { maxLength: 3 })),
  }),
}));

function render(n: GenNode, indent: string, used: Set<string>): string {
  let out = '';
  if (n.label && !used.has(n.label)) {
    used.add(n.label);
    out += `${indent}$label: ${n.label}\n`;
  }
  for (const [k, v] of n.props) out += `${indent}${k}: ${v}\n`;
  const seen = new Set<string>();
  for (const c of n.children) {
    if (seen.has(c.name) || c.name.split('@')[1] !== undefined && [...seen].some((s) => s.split('@')[1] === c.name.split('@')[1])) continue;
    seen.add(c.name);
    out += `${indent}${c.name}:\n${render(c, indent + '  ', used) || `${indent}  x: true\n`}`;
  }
  return out;
}

const treeText = fc
  .tuple(fc.array(node, { minLength: 1, maxLength: 4 }), props, fc.boolean(), fc.constantFrom('0', '1'))
  .map(([kids, rootProps, vfio, resetRequired]) => {
    const root: GenNode = { name: '', label: null, props: [['model', 'fuzz'], ...rootProps], children: kids };
    let y = 'vfioctl: 1\ndrivers:\n  - name: acme-dev\n    compatible: ["acme,dev", "__proto__"]\n  - name: constructor\n    compatible: constructor\n';
    if (vfio) y += `boot:\n  modules:\n    - name: vfio-platform\n      params: {reset_required: ${resetRequired}}\n`;
    const used = new Set<string>();
    const body = render(root, '  ', used);
    // point references at labels the tree defines (or at 0x1 when it defines none)
    const defined = [...used];
    return `${y}tree:\n${body.replace(/"&@(\d)"/g, (_, i: string) => (defined.length ? `"&${defined[Number(i) % defined.length]!}"` : '0x1'))}`;
  });

/** Read every attribute and list every directory reachable from /sys (links not followed into loops). */
function walkSysfs(root: VDir): number {
  let n = 0;
  const visit = (p: string, depth: number): void => {
    if (depth > 12) return;
    for (const e of vlist(root, p)) {
      const q = `${p === '/' ? '' : p}/${e.name}`;
      n++;
      if (e.type === 'd') visit(q, depth + 1);
      else if (e.type === '-' && e.mode & 0o444) {
        try {
          vread(root, q);
        } catch (err) {
          if (!(err instanceof KernelError)) throw err;
        }
      }
    }
  };
  visit('/', 0);
  return n;
}

test('random hostile trees: a boot or a located TreeError; booted machines round-trip and their sysfs walks', { timeout: 120_000 }, () => {
  let booted = 0;
  let refused = 0;
  fc.assert(
    fc.property(treeText, (text) => {
      let m;
      try {
        m = boot(parseOwnYaml(text, 'fuzz.yaml'));
      } catch (e) {
        if (!(e instanceof TreeError)) throw new Error(`not a TreeError: ${e instanceof Error ? e.stack : String(e)}\n${text}`);
        assert.equal(typeof e.loc.line, 'number', `${e.format()}\n${text}`);
        refused++;
        return;
      }
      booted++;
      assert.deepEqual(roundTrip(m), m);
      assert.ok(walkSysfs(sysRoot(m)) > 0);
    }),
    { numRuns: STRESS ? 20_000 : 600 },
  );
  assert.ok(booted > 20 && refused > 20, `booted ${booted}, refused ${refused}`);
});
