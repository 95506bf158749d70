/**
 * The binding verbs through main(): several devices and --group N, passthrough/restore
 * reporting the kernel's real outcome (issue 13.1, 11.2), dmesg levels by name (13.8),
 * close of a device nobody holds (13.8).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readState } from '../src/state/store.js';
import { booted, run, okRun, stateBytes } from './helpers.js';

const ETH = 'fff51000.ethernet';
const DMA = 'fff52000.dma';
const CRYPTO = 'fff60000.crypto';
const RNG = 'fff61000.rng';

const dev = (s: string, name: string) => readState(s)!.devices.find((d) => d.name === name)!;

interface Stop {
  code: string;
  hint?: string;
  stopped?: { verb: string; done: string[]; left: { device: string; driver: string | null; driverOverride: string | null }[]; back: string | null };
}
const errorOf = (stderr: string): Stop => (JSON.parse(stderr.trim().split('\n').pop()!) as { error: Stop }).error;

test('restore of a device already on its host driver does nothing and says so', async () => {
  const s = await booted();
  const r = await okRun(s, 'restore', ETH);
  assert.equal(r.stdout, `${ETH}: already bound to its host driver calxedaxgmac; nothing to do\n`);
  assert.equal(dev(s, ETH).driver, 'calxedaxgmac');
  assert.equal(dev(s, ETH).driverOverride, null);
});

test('restore into a group held by user space fails (exit 1), says where it left the device and what to do', async () => {
  const s = await booted();
  await okRun(s, '-q', 'modprobe', 'vfio-platform', 'reset_required=0');
  await okRun(s, '-q', 'passthrough', '--group', '2');
  await okRun(s, '-q', 'open', CRYPTO, '--owner', 'qemu');
  const r = await run(s, '--json', 'restore', RNG);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  const e = errorOf(r.stderr);
  assert.ok(['EBUSY', 'EINVAL'].includes(e.code), e.code);
  assert.equal(e.stopped?.verb, 'restore');
  assert.deepEqual(e.stopped?.left, [{ device: RNG, driver: null, driverOverride: null }]);
  assert.equal(e.stopped?.back, `vfioctl passthrough ${RNG}`);
  // the machine is where the kernel left it: override cleared, vfio-platform unbound, no host driver
  assert.equal(dev(s, RNG).driver, null);
  assert.equal(dev(s, RNG).driverOverride, null);
  const human = await run(s, 'restore', RNG);
  assert.equal(human.code, 1);
  assert.match(human.stderr, /^left: fff61000\.rng: driver \(none\), driver_override \(null\)$/m);
  assert.doesNotMatch(human.stdout + human.stderr, /stays unbound/);
  // once the owner lets go, restore reaches its goal
  await okRun(s, '-q', 'kill', 'qemu');
  await okRun(s, 'restore', RNG);
  assert.equal(dev(s, RNG).driver, 'acme-rng');
});

test('passthrough refused part-way leaves the machine where the kernel is and prints the way back', async () => {
  const s = await booted();
  await okRun(s, '-q', 'modprobe', 'vfio-platform');
  const r = await run(s, 'passthrough', DMA);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^passthrough stopped after: fff52000\.dma: override, fff52000\.dma: unbind, fff52000\.dma: probe$/m);
  assert.match(r.stderr, /^left: fff52000\.dma: driver \(none\), driver_override vfio-platform$/m);
  assert.match(r.stderr, /^the way back: vfioctl restore fff52000\.dma$/m);
  assert.equal(dev(s, DMA).driver, null);
  assert.equal(dev(s, DMA).driverOverride, 'vfio-platform');
  // and the way back works
  await okRun(s, 'restore', DMA);
  assert.equal(dev(s, DMA).driver, 'acme-dma');
  assert.equal(dev(s, DMA).driverOverride, null);
});

test('passthrough --group N: every member, overrides first, then unbinds, then probes', async () => {
  const s = await booted();
  await okRun(s, '-q', 'modprobe', 'vfio-platform', 'reset_required=0');
  const r = await okRun(s, '--json', '--explain', 'passthrough', '--group', '2');
  const doc = JSON.parse(r.stdout) as { results: { device: string; driver: string }[]; explain: { command: string }[] };
  assert.deepEqual(doc.results.map((x) => [x.device, x.driver]), [[CRYPTO, 'vfio-platform'], [RNG, 'vfio-platform']]);
  const writes = doc.explain.map((x) => x.command).filter((c) => c.startsWith('echo '));
  const kind = (c: string): string => c.split('/').pop()!;
  assert.deepEqual(writes.map(kind), ['driver_override', 'driver_override', 'unbind', 'unbind', 'drivers_probe', 'drivers_probe']);
  const groups = JSON.parse((await okRun(s, '--json', 'groups')).stdout) as { groups: { id: number; viable: boolean }[] };
  assert.equal(groups.groups.find((g) => g.id === 2)?.viable, true);
  // and back
  await okRun(s, 'restore', '--group', '2');
  assert.deepEqual([dev(s, CRYPTO).driver, dev(s, RNG).driver], ['acme-crypto', 'acme-rng']);
});

test('override, unbind and bind take several devices; one device keeps its --json shape', async () => {
  const s = await booted();
  const one = JSON.parse((await okRun(s, '--json', 'override', ETH, 'vfio-platform')).stdout) as { device: string };
  assert.equal(one.device, ETH);
  const two = JSON.parse((await okRun(s, '--json', 'override', CRYPTO, RNG, 'vfio-platform')).stdout) as { results: { device: string; driverOverride: string }[] };
  assert.deepEqual(two.results.map((x) => [x.device, x.driverOverride]), [[CRYPTO, 'vfio-platform'], [RNG, 'vfio-platform']]);
  await okRun(s, 'unbind', CRYPTO, RNG);
  assert.deepEqual([dev(s, CRYPTO).driver, dev(s, RNG).driver], [null, null]);
  await okRun(s, 'override', '--clear', CRYPTO, RNG);
  assert.deepEqual([dev(s, CRYPTO).driverOverride, dev(s, RNG).driverOverride], [null, null]);
  // a refusal at the second device says the first one was done
  await okRun(s, '-q', 'modprobe', 'vfio-platform', 'reset_required=0');
  await okRun(s, '-q', 'override', CRYPTO, DMA, 'vfio-platform');
  const r = await run(s, '--json', 'bind', CRYPTO, DMA);
  assert.equal(r.code, 1);
  const e = errorOf(r.stderr);
  assert.equal(e.code, 'EBUSY'); // fff52000.dma is still bound to acme-dma
  assert.deepEqual(e.stopped?.done, [`${CRYPTO}: bind`]);
  assert.equal(dev(s, CRYPTO).driver, 'vfio-platform');
  assert.equal(dev(s, DMA).driver, 'acme-dma');
});

test('usage errors of the several-device forms exit 2 and change nothing', async () => {
  const s = await booted();
  for (const argv of [['unbind'], ['unbind', ETH, '--group', '0'], ['passthrough', '--group', 'two'], ['override', ETH], ['override', '--group', '0']]) {
    const before = stateBytes(s);
    const r = await run(s, '--json', ...argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.equal(JSON.parse(r.stderr.trim()).error.code, 'USAGE');
    assert.deepEqual(stateBytes(s), before);
  }
  // a group that does not exist is the ENOENT its directory gives
  const r = await run(s, '--json', 'restore', '--group', '99');
  assert.equal(r.code, 1);
  assert.equal(errorOf(r.stderr).code, 'ENOENT');
});

test('dmesg --level takes util-linux names or numbers, each one level; -t drops timestamps, -x decodes', async () => {
  const s = await booted();
  await okRun(s, '-q', 'modprobe', 'vfio-platform');
  await run(s, 'passthrough', DMA);
  const err = (await okRun(s, 'dmesg', '--level', 'err')).stdout.trim().split('\n');
  assert.ok(err.length > 0);
  assert.ok(err.some((l) => /probe with driver vfio-platform failed/.test(l)), err.join('\n'));
  assert.deepEqual((await okRun(s, 'dmesg', '--level', '3')).stdout.trim().split('\n'), err);
  assert.deepEqual((await okRun(s, 'dmesg', '-l', 'ERR')).stdout.trim().split('\n'), err);
  const info = (await okRun(s, 'dmesg', '--level', 'info')).stdout;
  assert.doesNotMatch(info, /failed with error/);
  const both = (await okRun(s, 'dmesg', '--level', 'err,info')).stdout.trim().split('\n');
  assert.equal(both.length, err.length + info.trim().split('\n').length);
  assert.match((await okRun(s, 'dmesg', '-t', '-l', 'err')).stdout, /^vfio-platform fff52000\.dma: /m);
  assert.match((await okRun(s, 'dmesg', '-x', '-l', 'err')).stdout, /^kern  :err   : \[ +\d+\.\d{6}\] /m);
  const bad = await run(s, '--json', 'dmesg', '--level', 'loud');
  assert.equal(bad.code, 2);
  assert.match(JSON.parse(bad.stderr.trim()).error.message, /unknown level 'loud'/);
});

test('close of a device nobody holds says so in plain words (EBADF)', async () => {
  const s = await booted();
  await okRun(s, '-q', 'passthrough', ETH);
  const r = await run(s, '--json', 'close', ETH);
  assert.equal(r.code, 1);
  const e = JSON.parse(r.stderr.trim()).error as { code: string; message: string };
  assert.equal(e.code, 'EBADF');
  assert.equal(e.message, `${ETH} is not open: no program holds a device fd for it, so there is nothing to close`);
  await okRun(s, '-q', 'open', ETH, '--owner', 'qemu');
  const wrong = await run(s, 'close', ETH, '--owner', 'dpdk');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /'dpdk' does not hold fff51000\.ethernet open; 'qemu' does/);
  await okRun(s, 'close', ETH);
  assert.match((await run(s, 'close', ETH)).stderr, /is not open/);
});

test('list, list-overrides and the drivers that could bind an unbound device (driverctl habits)', async () => {
  const s = await booted();
  await okRun(s, '-q', 'override', DMA, 'vfio-platform');
  await okRun(s, '-q', 'unbind', DMA);
  const all = (await okRun(s, 'list')).stdout.split('\n').filter(Boolean);
  assert.equal(all.length, readState(s)!.devices.length);
  assert.ok(all.includes(`${ETH} calxedaxgmac`));
  assert.ok(all.includes(`${DMA} (none) [*]`));
  assert.equal((await okRun(s, 'list', '--driver', 'none')).stdout, `soc (none)\n${DMA} (none) [*]\n`);
  assert.equal((await okRun(s, 'list', '--group', '2')).stdout, `${CRYPTO} acme-crypto\n${RNG} acme-rng\n`);
  assert.equal((await okRun(s, 'list', '--bus', 'amba')).stdout, '');
  assert.equal((await okRun(s, 'list-overrides')).stdout, `${DMA} vfio-platform\n`);
  assert.deepEqual(JSON.parse((await okRun(s, '--json', 'list-overrides')).stdout), { overrides: [{ device: DMA, driver: 'vfio-platform' }] });
  const st = JSON.parse((await okRun(s, '--json', 'status')).stdout) as { devices: { name: string; couldBind: string[] }[] };
  assert.deepEqual(st.devices.find((d) => d.name === DMA)?.couldBind, ['vfio-platform (driver_override)']);
  assert.deepEqual(st.devices.find((d) => d.name === ETH)?.couldBind, []);
  await okRun(s, '-q', 'override', DMA, '--clear');
  assert.match((await okRun(s, 'status')).stdout, /fff52000\.dma .*could bind: acme-dma, vfio-platform \(with driver_override\)$/m);
  assert.equal((await run(s, 'list', '--bus', 'pci')).code, 2);
});
