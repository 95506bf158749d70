/**
 * OF interpretation decided by the tree's architecture (src/devicetree/of/arch.ts):
 * `arm,sp810` is claimed by of_clk_init only on 32-bit ARM (CONFIG_CLK_SP810); on arm64
 * it is an AMBA device like any other primecell (Juno's 1c020000.sysctl).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOwnYaml } from '../src/devicetree/formats/own-yaml.js';
import { treeArch } from '../src/devicetree/of/arch.js';
import { boot } from '../src/base/boot.js';

function board(cpu: string | null): string {
  const cpus = cpu === null ? '' : `
  cpus:
    "#address-cells": 1
    "#size-cells": 0
    cpu@0:
      device_type: cpu
      compatible: ${cpu}
      reg: 0`;
  return `vfioctl: 1
tree:
  model: sp810 board
  compatible: acme,board
  "#address-cells": 1
  "#size-cells": 1${cpus}
  bus:
    compatible: simple-bus
    "#address-cells": 1
    "#size-cells": 1
    ranges: true
    sysctl@1c020000:
      compatible: ["arm,sp810", "arm,primecell"]
      reg: [0x1c020000, 0x1000]
`;
}

function sysctl(cpu: string | null): { arch: string; bus: string | null } {
  const tree = parseOwnYaml(board(cpu), 'board.yaml');
  const d = boot(tree).devices.find((x) => x.name === '1c020000.sysctl');
  return { arch: treeArch(tree.root), bus: d ? d.bus : null };
}

test('arm,sp810: claimed by of_clk_init on 32-bit ARM, an AMBA device on arm64', () => {
  assert.deepEqual(sysctl('arm,cortex-a9'), { arch: 'arm', bus: null });
  assert.deepEqual(sysctl('arm,cortex-a15'), { arch: 'arm', bus: null });
  assert.deepEqual(sysctl('arm,cortex-a32'), { arch: 'arm', bus: null }, 'Cortex-A32 is AArch32 only');
  assert.deepEqual(sysctl(null), { arch: 'arm', bus: null }, 'no CPU nodes: 32-bit ARM, as before');
  assert.deepEqual(sysctl('arm,cortex-a57'), { arch: 'arm64', bus: 'amba' });
  assert.deepEqual(sysctl('arm,cortex-a53'), { arch: 'arm64', bus: 'amba' });
  assert.deepEqual(sysctl('["arm,cortex-a72", "arm,armv8"]'), { arch: 'arm64', bus: 'amba' });
  assert.deepEqual(sysctl('arm,armv8'), { arch: 'arm64', bus: 'amba' });
  assert.deepEqual(sysctl('arm,neoverse-n1'), { arch: 'arm64', bus: 'amba' });
});

test('fixed clocks are claimed on every architecture; PowerPC trees are told by their CPU names', () => {
  const yaml = board('arm,cortex-a57').replace('["arm,sp810", "arm,primecell"]', 'fixed-clock');
  const tree = parseOwnYaml(yaml, 'board.yaml');
  assert.equal(boot(tree).devices.some((x) => x.name === '1c020000.sysctl'), false);
  const ppc = parseOwnYaml(board(null).replace('  bus:\n', '  cpus:\n    PowerPC,e500mc@0:\n      reg: 0\n  bus:\n'), 'ppc.yaml');
  assert.equal(treeArch(ppc.root), 'powerpc');
});

test('#address-cells 4: a resource keeps the low 64 bits, as of_read_number does, and the machine round-trips', async () => {
  const { roundTrip } = await import('./roundtrip.js');
  const m = boot(parseOwnYaml(`vfioctl: 1
tree:
  model: wide cells
  "#address-cells": 4
  "#size-cells": 1
  dev@1000:
    reg: [0, 0x1, 0, 16, 16]
    compatible: acme,dev
`, 'wide.yaml'));
  const dev = m.devices.find((d) => d.of.compatible.includes('acme,dev'))!;
  assert.deepEqual(dev.regions.map((r) => [r.start, r.size]), [['0x10', '0x10']]);
  roundTrip(m);
});
