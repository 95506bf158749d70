/**
 * The six real Linux v7.1 board trees in ../shared/fixtures/linux-dts/boards/: the devices
 * vfioctl creates must match what Linux creates (names, bus, MEM regions, IRQ triggers,
 * IOMMU groups). Expected listings live in test/boards/<board>.txt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTreeFile } from '../src/devicetree/formats/read.js';
import { boot } from '../src/base/boot.js';
import type { Machine } from '../src/base/machine.js';
import { sysRoot } from '../src/sysfs/tree.js';
import { vwrite } from '../src/sysfs/vfs.js';
import { modprobe } from '../src/base/module.js';

/** compiled tests run from dist/test/, so the repo root is two levels up */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DTS = path.join(REPO, '../shared/fixtures/linux-dts/boards');
const EXPECTED = path.join(REPO, 'test/boards');
const BOARDS = ['highbank', 'p4080ds', 'amd-overdrive-rev-b0', 'bcm958742k', 'juno', 'r8a77951-salvator-xs'];
const MISSING = `${DTS} is absent (the shared Linux device-tree fixtures are not checked out)`;

function haveDtc(): boolean {
  try {
    execFileSync('dtc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const TRIGGER: Record<number, string> = { 0: 'none', 1: 'edge-rising', 2: 'edge-falling', 3: 'edge-both', 4: 'level-high', 8: 'level-low' };

/** one line per device: bus name regions(start+size, mmap yes/no) irqs(trigger) group */
export function listing(m: Machine): string {
  return m.devices
    .map((d) => {
      const regs = d.regions.map((r) => {
        const mmap = BigInt(r.start) % 4096n === 0n && BigInt(r.size) % 4096n === 0n;
        return `${r.start}+${r.size}:${mmap ? 'mmap' : 'no-mmap'}`;
      });
      const irqs = d.irqs.map((i) => TRIGGER[i.trigger] ?? String(i.trigger));
      return `${d.bus} ${d.name} regions[${regs.join(' ')}] irqs[${irqs.join(' ')}] group ${d.iommuGroup ?? '-'}`;
    })
    .join('\n') + '\n';
}

async function bootBoard(file: string): Promise<Machine> {
  return boot(await readTreeFile(file));
}

for (const board of BOARDS) {
  for (const ext of ['yaml', 'dtb', 'flat.dts']) {
    test(`${board}.${ext}: devices match Linux (test/boards/${board}.txt)`, async (t) => {
      const file = path.join(DTS, `${board}.${ext}`);
      if (!existsSync(DTS)) return t.skip(MISSING);
      if (ext === 'flat.dts' && !haveDtc()) return t.skip('dtc is not on PATH, so .dts input cannot be compiled');
      if (!existsSync(file)) return t.skip(`${file} is absent`);
      const got = listing(await bootBoard(file));
      const want = readFileSync(path.join(EXPECTED, `${board}.txt`), 'utf8');
      assert.equal(got, want);
    });
  }
}

function line(m: Machine, name: string): string {
  const l = listing(m).split('\n').find((x) => x.split(' ')[1] === name);
  assert.ok(l, `no device ${name}`);
  return l;
}

test('key devices checked by hand against devicetree.md', async (t) => {
  if (!existsSync(DTS)) return t.skip(MISSING);
  const hb = await bootBoard(path.join(DTS, 'highbank.yaml'));
  assert.equal(line(hb, 'fff51000.ethernet'), 'platform fff51000.ethernet regions[0xfff51000+0x1000:mmap] irqs[level-high level-high level-high] group -');
  assert.ok(!hb.devices.some((d) => d.of.fullName === '/soc/interrupt-controller@fff11000'), 'GIC is claimed by of_irq_init');

  const p4 = await bootBoard(path.join(DTS, 'p4080ds.yaml'));
  assert.match(line(p4, 'ffe101300.dma'), /^platform ffe101300\.dma regions\[0xffe101300\+0x4:no-mmap\] irqs\[\] group \d+$/);
  assert.ok(p4.devices.some((d) => d.name === 'ffe100300.dma'));
  assert.ok(p4.devices.some((d) => d.name === 'dcsr@f00000000'));
  assert.ok(p4.devices.some((d) => d.name === 'fe8000000.flash'));
  assert.ok(p4.devices.some((d) => d.name === 'mdio-mux-emi1'), 'mdio-mux-gpio is a corenet bus id');
  assert.ok(!p4.devices.some((d) => d.of.fullName.includes('dma-channel')), 'DMA channels belong to the parent driver');

  const amd = await bootBoard(path.join(DTS, 'amd-overdrive-rev-b0.yaml'));
  assert.match(
    line(amd, 'e0700000.ethernet'),
    /^platform e0700000\.ethernet regions\[0xe0700000\+0x80000:mmap 0xe0780000\+0x80000:mmap 0xe1240800\+0x400:no-mmap 0xe1250000\+0x60:no-mmap 0xe12500f8\+0x4:no-mmap\] irqs\[level-high edge-rising edge-rising edge-rising edge-rising level-high\] group \d+$/,
  );
  assert.ok(!amd.devices.some((d) => d.name === 'e1110000.interrupt-controller'), 'GIC-400 claimed early');

  const sr = await bootBoard(path.join(DTS, 'bcm958742k.yaml'));
  assert.equal(line(sr, '67000000.crypto_mbox'), 'platform 67000000.crypto_mbox regions[0x67000000+0x200000:mmap] irqs[] group -');
  assert.match(line(sr, '68c10000.dma-controller'), /^amba 68c10000\.dma-controller .* group \d+$/);

  const juno = await bootBoard(path.join(DTS, 'juno.yaml'));
  assert.match(line(juno, '7ff00000.dma-controller'), new RegExp(`^amba 7ff00000\\.dma-controller regions\\[0x7ff00000\\+0x1000:mmap\\] irqs\\[${Array(9).fill('level-high').join(' ')}\\] group \\d+$`));
  assert.ok(!juno.devices.some((d) => d.name.startsWith('clock-')), 'fixed clocks are claimed by of_clk_init');
  assert.equal(line(juno, '18000000.ethernet').split(' irqs[')[1]!.split(']')[0], 'level-high', 'routed through interrupt-map');

  const rc = await bootBoard(path.join(DTS, 'r8a77951-salvator-xs.yaml'));
  const avb = line(rc, 'e6800000.ethernet');
  assert.match(avb, /regions\[0xe6800000\+0x800:no-mmap 0xe6a00000\+0x10000:mmap\]/);
  assert.equal(avb.split(' irqs[')[1]!.split(']')[0], Array(25).fill('level-high').join(' '));
  assert.match(line(rc, 'ee300000.sata'), /^platform ee300000\.sata regions\[0xee300000\+0x200000:mmap\] irqs\[level-high\] group \d+$/);
  const sata = rc.devices.find((d) => d.name === 'ee300000.sata')!;
  assert.deepEqual(sata.resets.map((r) => [r.controller, r.args]), [['/soc/clock-controller@e6150000', [815]]]);
  const eth = rc.devices.find((d) => d.name === 'e6800000.ethernet')!;
  assert.deepEqual(eth.resets.map((r) => [r.controller, r.args]), [['/soc/clock-controller@e6150000', [812]]]);
});

/** modprobe vfio-platform (or vfio-amba), then driver_override + unbind + drivers_probe through sysfs */
function passThrough(m: Machine, bus: 'platform' | 'amba', name: string): string | null {
  const vfio = bus === 'amba' ? 'vfio-amba' : 'vfio-platform';
  modprobe(m, vfio);
  const root = sysRoot(m);
  const dev = m.devices.find((d) => d.name === name)!;
  vwrite(root, `/sys/bus/${bus}/devices/${name}/driver_override`, vfio);
  if (dev.driver) vwrite(root, `/sys/bus/${bus}/drivers/${dev.driver}/unbind`, name);
  try {
    vwrite(root, `/sys/bus/${bus}/drivers_probe`, name);
  } catch {
    /* probe failures show up as an unbound device and a log line */
  }
  return m.devices.find((d) => d.name === name)!.driver;
}

function logText(m: Machine): string {
  return m.log.map((l) => JSON.stringify(l)).join('\n');
}

test('reset modules: FlexRM and Calxeda xgmac request their vfio-platform reset module', async (t) => {
  if (!existsSync(DTS)) return t.skip(MISSING);
  const cases = [
    ['bcm958742k', '67000000.crypto_mbox', 'vfio_platform_bcmflexrm'],
    ['highbank', 'fff51000.ethernet', 'vfio_platform_calxedaxgmac'],
  ] as const;
  for (const [board, name, mod] of cases) {
    const m = await bootBoard(path.join(DTS, `${board}.yaml`));
    const dev = m.devices.find((d) => d.name === name)!;
    const drv = passThrough(m, 'platform', name);
    assert.ok(m.modules.some((x) => x.name === mod), `${mod} loaded for ${name}`);
    if (dev.iommuGroup !== null) {
      assert.equal(drv, 'vfio-platform');
    } else {
      // neither node has an `iommus` link in the real tree: vfio-platform's probe fails
      // (vfio_register_group_dev finds no IOMMU group) after the reset module was requested
      assert.equal(drv, null);
      assert.match(logText(m), new RegExp(`${name.replace('.', '\\.')}: probe with driver vfio-platform failed with error -22`));
    }
  }
});

test('juno PL330 passes through to vfio-amba on the AMBA bus', async (t) => {
  if (!existsSync(DTS)) return t.skip(MISSING);
  const m = await bootBoard(path.join(DTS, 'juno.yaml'));
  assert.equal(passThrough(m, 'amba', '7ff00000.dma-controller'), 'vfio-amba');
});
