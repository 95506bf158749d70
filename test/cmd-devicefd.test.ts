/**
 * The device-fd commands in-process through main(): read, write, irq, map, unmap, mem,
 * fault, and info/regions/irqs as a short-lived fd (issue 15, 11.9). Each error path:
 * errno, exit status, and what the state file holds afterwards.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { run, okRun, tempState, REPO } from './helpers.js';

const ETH = 'fff51000.ethernet';
const DMA = 'fff52000.dma';
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'devicetree', 'behind-fd.yaml');
const made: string[] = [];
after(() => {
  for (const s of made) rmSync(path.dirname(s), { recursive: true, force: true });
});

async function machine(tree = 'default', ...setup: string[][]): Promise<string> {
  const s = tempState();
  made.push(s);
  await okRun(s, '-q', 'load', tree);
  for (const argv of setup) await okRun(s, '-q', ...argv);
  return s;
}

interface Machine {
  owners: { name: string; dma?: { mappings: { iova: string }[]; memory: Record<string, string> }; eventfds?: Record<string, number> }[];
  devices: { name: string; faults?: string[]; hw?: { regs: Record<string, number> }; vfio: { openCount: number; triggers?: (string | null)[] } | null }[];
}
const state = (s: string): Machine => (JSON.parse(readFileSync(s, 'utf8')) as { machine: Machine }).machine;
const device = (s: string, name: string): Machine['devices'][number] => state(s).devices.find((d) => d.name === name)!;

/** a refused --json run: exit status, the error document, nothing on stdout */
async function refused(s: string, exit: number, code: string, ...argv: string[]): Promise<{ code: string; errno?: number; message: string; hint?: string }> {
  const r = await run(s, '--json', ...argv);
  assert.equal(r.code, exit, `vfioctl ${argv.join(' ')}: exit ${r.code}\n${r.stderr}`);
  assert.equal(r.stdout, '');
  const err = (JSON.parse(r.stderr.trim().split('\n').pop()!) as { error: { code: string; errno?: number; message: string; hint?: string } }).error;
  assert.equal(err.code, code, r.stderr);
  return err;
}

test('read/write: a register write persists, reads back through pread and mmap; EINVAL past the end, EBADF without an fd, usage errors exit 2', async () => {
  const s = await machine('default', ['passthrough', ETH]);
  const e1 = await refused(s, 1, 'EBADF', 'read', ETH, '0', '0xf18');
  assert.match(e1.hint ?? '', /open it first: vfioctl open fff51000\.ethernet/);
  await okRun(s, 'open', ETH, '--owner', 'qemu');
  const w = JSON.parse((await okRun(s, '--json', 'write', ETH, '0', '0xf1c', '0x10040')).stdout);
  assert.equal(w.register, 'XGMAC_DMA_INTR_ENA');
  assert.equal(device(s, ETH).hw!.regs['0:f1c'], 0x10040);
  const r = JSON.parse((await okRun(s, '--json', 'read', ETH, '0', '0xf1c')).stdout);
  assert.equal(r.value, '0x10040');
  assert.equal(r.pos, '0xf1c');
  const viaMap = await okRun(s, '--explain', 'read', ETH, '0', '0xf1c', '--mmap');
  assert.match(viaMap.stdout, /mmap\(NULL, 0x1000, PROT_READ, MAP_SHARED, device, 0x0\)/);
  assert.match(viaMap.stdout, /XGMAC_DMA_INTR_ENA: 0x00010040/);
  const explained = await okRun(s, '--explain', 'read', ETH, '0', '0xf18', '--width', '8');
  assert.match(explained.stdout, /pread\(device, buf, 8, 0xf18\)/);
  const past = await refused(s, 1, 'EINVAL', 'read', ETH, '0', '0x1000');
  assert.equal(past.errno, 22);
  await refused(s, 1, 'EINVAL', 'write', ETH, '1', '0', '1');
  await refused(s, 2, 'USAGE', 'read', ETH, '0', '0', '--width', '3');
  await refused(s, 2, 'USAGE', 'write', ETH, '0', '0', '0x100', '--width', '1');
  await refused(s, 2, 'USAGE', 'read', ETH, '0', 'zero');
  assert.equal(device(s, ETH).hw!.regs['0:f1c'], 0x10040, 'the refused writes changed nothing');
});

test('read --mmap of a region without the MMAP flag: EINVAL as vfio_platform_mmap refuses it', async () => {
  const s = await machine('default', ['modprobe', 'vfio-platform', 'reset_required=0'], ['passthrough', DMA], ['open', DMA]);
  const e = await refused(s, 1, 'EINVAL', 'read', DMA, '0', '0', '--mmap');
  assert.match(e.hint ?? '', /no MMAP flag/);
  await okRun(s, 'read', DMA, '0', '0');
});

test('start, kill, and a read by the next owner: the xgmac reads back stopped, the no-reset DMA engine still running', async () => {
  const s = await machine('default', ['modprobe', 'vfio-platform', 'reset_required=0'], ['passthrough', ETH], ['passthrough', DMA]);
  for (const d of [ETH, DMA]) {
    await okRun(s, 'open', d, '--owner', 'vm1');
    await okRun(s, 'start', d);
  }
  await okRun(s, 'kill', 'vm1');
  await okRun(s, 'open', ETH, '--owner', 'vm2');
  await okRun(s, 'open', DMA, '--owner', 'vm3');
  assert.match(await (await okRun(s, 'read', ETH, '0', '0xf18')).stdout, /XGMAC_DMA_CONTROL: 0x00000000/);
  assert.match(await (await okRun(s, 'read', DMA, '0', '0x0')).stdout, /CONTROL: 0x00000001/);
  // a mutating command lets time pass: the DMA engine nobody reset writes into vm3's buffer
  await okRun(s, 'irq', DMA, '0', 'trigger', '--eventfd', 'ev0');
  const mem = await okRun(s, 'mem', 'vm3', '0x100000', '0x100');
  assert.match(mem.stdout, /\|\.\.\.\.fff52000\.dma\|/);
  assert.doesNotMatch((await okRun(s, 'mem', 'vm2', '0x100000', '0x100')).stdout, /fff51000/);
  // the pending edge fired the moment the trigger was set
  const rd = JSON.parse((await okRun(s, '--json', 'irq', DMA, '0', 'read')).stdout);
  assert.ok(rd.count >= 1);
  assert.equal(state(s).owners.find((o) => o.name === 'vm3')!.eventfds!['ev0'], 0, 'read(2) resets the counter');
  // the device nobody reset goes on signalling: the next command's tick counts again
  assert.ok(JSON.parse((await okRun(s, '--json', 'irq', DMA, '0', 'read')).stdout).count >= 1);
});

test('irq: errno paths (EINVAL index, edge mask, EBADF without a trigger) and usage errors; state unchanged', async () => {
  const s = await machine('default', ['modprobe', 'vfio-platform', 'reset_required=0'], ['passthrough', DMA], ['open', DMA, '--owner', 'p']);
  await refused(s, 1, 'EINVAL', 'irq', DMA, '5', 'trigger', '--eventfd', 'x');
  const m = await refused(s, 1, 'EINVAL', 'irq', DMA, '0', 'mask');
  assert.match(m.hint ?? '', /edge-triggered/);
  await refused(s, 1, 'EINVAL', 'irq', DMA, '0', 'trigger', '--eventfd', 'x', '--count', '2');
  const b = await refused(s, 1, 'EBADF', 'irq', DMA, '1', 'read');
  assert.match(b.hint ?? '', /vfioctl irq fff52000\.dma 1 trigger --eventfd NAME/);
  await refused(s, 2, 'USAGE', 'irq', DMA, '0', 'explode');
  await refused(s, 2, 'USAGE', 'irq', DMA, '0', 'mask', '--eventfd', 'x');
  assert.equal(device(s, DMA).vfio!.triggers, undefined, 'no trigger was set by the refused calls');
  await okRun(s, 'irq', DMA, '1', 'trigger', '--eventfd', 'ev1');
  assert.deepEqual(device(s, DMA).vfio!.triggers, [null, 'ev1']);
  const a = await refused(s, 1, 'EAGAIN', 'irq', DMA, '1', 'read'); // an idle device: the counter is 0
  assert.equal(a.errno, 11);
  await okRun(s, 'irq', DMA, '1', 'disable');
  assert.deepEqual(device(s, DMA).vfio!.triggers, [null, null]);
});

test('map/unmap/mem: type1 errors with exit 1, the EXEC what-if behind its policy (exit 2 without), mappings in the state file', async () => {
  const s = await machine('default', ['passthrough', ETH], ['open', ETH, '--owner', 'qemu']);
  const maps = (): string[] => state(s).owners.find((o) => o.name === 'qemu')!.dma!.mappings.map((x) => x.iova);
  await refused(s, 1, 'EINVAL', 'map', 'qemu', '0x200000', '0x1000'); // neither --read nor --write
  await refused(s, 1, 'EINVAL', 'map', 'qemu', '0x200100', '0x1000', '--read');
  await refused(s, 1, 'EEXIST', 'map', 'qemu', '0x180000', '0x1000', '--read', '--write');
  await refused(s, 1, 'EINVAL', 'map', 'qemu', '0x8000000', '0x1000', '--write');
  await refused(s, 1, 'ENOENT', 'map', 'nobody', '0x200000', '0x1000', '--write');
  const ex = await refused(s, 2, 'USAGE', 'map', 'qemu', '0x200000', '0x1000', '--read', '--exec');
  assert.match(ex.message, /never merged/);
  assert.deepEqual(maps(), ['0x100000']);
  const m = JSON.parse((await okRun(s, '--json', 'map', 'qemu', '0x200000', '0x10000', '--read', '--write')).stdout);
  assert.equal(m.iovaPgsizes, '0x40201000');
  assert.deepEqual(maps(), ['0x100000', '0x200000']);
  await okRun(s, 'policy', 'dma-exec', 'on');
  const x = JSON.parse((await okRun(s, '--json', 'map', 'qemu', '0x300000', '0x1000', '--read', '--exec')).stdout);
  assert.deepEqual(x.flagNames, ['READ', 'EXEC']);
  assert.equal(x.whatIf, true);
  await refused(s, 1, 'EINVAL', 'unmap', 'qemu', '0x200800', '0x1000');
  const u = JSON.parse((await okRun(s, '--json', 'unmap', 'qemu', '0x100000', '0x100000')).stdout);
  assert.equal(u.unmapped, '0x100000');
  assert.deepEqual(maps(), ['0x200000', '0x300000']);
  const f = await refused(s, 1, 'EFAULT', 'mem', 'qemu', '0x100000', '0x10');
  assert.match(f.hint ?? '', /map it first/);
  await refused(s, 2, 'USAGE', 'mem', 'qemu', '0x200000', '0x2000');
  assert.match((await okRun(s, 'mem', 'qemu', '0x200000', '0x10')).stdout, /all zero/);
});

test('fault reset-fails: the open is refused with ENOMEM and the kernel\'s line, nothing is handed out; fault none gives it back', async () => {
  const s = await machine('default', ['passthrough', ETH], ['fault', ETH, 'reset-fails']);
  assert.deepEqual(device(s, ETH).faults, ['reset-fails']);
  const h = await run(s, 'open', ETH, '--owner', 'qemu');
  assert.equal(h.code, 1);
  assert.match(h.stderr, /VFIO_GROUP_GET_DEVICE_FD: reset of fff51000\.ethernet failed \(-12\) \(ENOMEM\)/);
  assert.match(h.stderr, /kernel: vfio-platform fff51000\.ethernet: reset driver is required and reset call failed in open \(-12\)/);
  assert.match(h.stderr, /hint: .*clear it with: vfioctl fault fff51000\.ethernet none/);
  assert.equal(state(s).owners.length, 0);
  assert.equal(device(s, ETH).vfio!.openCount, 0);
  await refused(s, 2, 'USAGE', 'fault', ETH, 'melts');
  await okRun(s, 'fault', ETH, 'none');
  assert.equal(device(s, ETH).faults, undefined);
  await okRun(s, 'open', ETH, '--owner', 'qemu');
});

test('a tree can declare faults and register models; a bad value is a tree error (exit 3)', async () => {
  const s = await machine(FIXTURE, ['passthrough', '71000000.ethernet']);
  await refused(s, 1, 'ENOMEM', 'open', '71000000.ethernet');
  const bad = tempState();
  made.push(bad);
  const tree = path.join(path.dirname(bad), 'bad.yaml');
  const text = readFileSync(FIXTURE, 'utf8').replace('"vfioctl,registers": xgmac', '"vfioctl,registers": dma330');
  (await import('node:fs')).writeFileSync(tree, text);
  const r = await run(bad, 'load', tree);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /bad\.yaml:\d+:\d+: .*"vfioctl,registers" of \/soc\/clone@70000000 must be one of generic, xgmac, amd-xgbe, flexrm/);
});

test('11.9: info on a device nobody has open logs two resets; EBUSY while an owner holds it (--owner asks through its fd); EPERM / ENOENT / ENODEV', async () => {
  const s = await machine('default', ['modprobe', 'vfio-platform', 'reset_required=0'], ['passthrough', ETH], ['passthrough', 'fff60000.crypto']);
  const i = await okRun(s, 'info', ETH);
  assert.equal((i.stdout.match(/kernel: vfio-platform fff51000\.ethernet: VFIO: reset/g) ?? []).length, 2);
  await okRun(s, 'open', ETH, '--owner', 'qemu');
  const e = await refused(s, 1, 'EBUSY', 'regions', ETH);
  assert.match(e.hint ?? '', /vfioctl info fff51000\.ethernet --owner qemu/);
  const o = await okRun(s, 'irqs', ETH, '--owner', 'qemu');
  assert.doesNotMatch(o.stdout, /VFIO: reset/, 'through the owner\'s fd: no open, no reset');
  await refused(s, 1, 'EBADF', 'info', ETH, '--owner', 'other');
  await refused(s, 1, 'EPERM', 'info', 'fff60000.crypto');
  await refused(s, 1, 'ENOENT', 'info', DMA);
  await refused(s, 1, 'ENODEV', 'info', 'fff70000.watchdog');
});

test('the new state fields are shape-checked: a bad register value or memory record is refused with exit 4, the file untouched', async () => {
  const s = await machine('default', ['passthrough', ETH], ['open', ETH, '--owner', 'qemu'], ['start', ETH]);
  const fs = await import('node:fs');
  const good = fs.readFileSync(s, 'utf8');
  for (const [what, edit] of [
    ['register', (d: { machine: Machine }) => void (d.machine.devices.find((x) => x.name === ETH)!.hw!.regs['0:f18'] = -1)],
    ['memory', (d: { machine: Machine }) => void (Object.assign(d.machine.owners[0]!.dma!.memory, { '0x100000': 'zz' }))],
    ['fault', (d: { machine: Machine }) => void (d.machine.devices.find((x) => x.name === ETH)!.faults = ['melts'])],
  ] as const) {
    const doc = JSON.parse(good) as { machine: Machine };
    edit(doc);
    const text = JSON.stringify(doc);
    fs.writeFileSync(s, text);
    const r = await run(s, 'read', ETH, '0', '0xf18');
    assert.equal(r.code, 4, `${what}: ${r.stderr}`);
    assert.equal(fs.readFileSync(s, 'utf8'), text, `${what}: the file is left as it is`);
  }
});
