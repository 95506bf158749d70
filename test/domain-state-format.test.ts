/**
 * State file format. Version 2 (compact) must give back exactly the machine it was
 * written from, for every bundled tree, for a machine in use, and for machines shaped in
 * ways the encoder does not expect (fields added later, shared objects). Version 1 files
 * (test/fixtures/state/v1-*.json, written by vfioctl before version 2 existed) are read as
 * they are; read-only commands leave them alone, the next mutating command writes version 2.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseState, serializeState, STATE_FORMAT, STATE_VERSION } from '../src/state/store.js';
import { findDevice, newActivity, type Machine, type Device } from '../src/base/machine.js';
import { modprobe } from '../src/base/module.js';
import { vfioOpen, startDevice, killOwner, advance } from '../src/userspace/owner.js';
import { tick } from '../src/klog/klog.js';
import { Sys } from '../src/cli/sys.js';
import { boot } from '../src/base/boot.js';
import { parseOwnYaml } from '../src/devicetree/formats/own-yaml.js';
import { bootTree, run, stateBytes, REPO, TREES } from './helpers.js';
import { generatedTree } from './proc-helpers.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'state');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'vfioctl-format-'));
  dirs.push(d);
  return d;
}

/**
 * serializeState must leave the machine as it was (it hides default fields while it
 * encodes), parseState must give it back field for field, and encoding it again must give
 * the same text.
 */
function roundTrip(m: Machine, label: string): string {
  const before = structuredClone(m);
  const text = serializeState(m);
  assert.deepStrictEqual(m, before, `${label}: serializeState changed the machine it wrote`);
  const back = parseState('/test/state.json', text);
  assert.deepStrictEqual(back, m, `${label}: parseState(serializeState(m)) is not m`);
  assert.equal(serializeState(back), text, `${label}: encoding the decoded machine gives other text`);
  return text;
}

const v1Text = (m: Machine): string => JSON.stringify({ format: STATE_FORMAT, version: 1, machine: m }) + '\n';

test('every bundled tree round-trips through the version 2 format', () => {
  const names = readdirSync(TREES).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5));
  assert.ok(names.length >= 3, `bundled trees: ${names.join(', ')}`);
  for (const name of names) {
    const m = bootTree(name);
    const text = roundTrip(m, name);
    assert.equal(JSON.parse(text).version, STATE_VERSION);
    assert.ok(text.length < v1Text(m).length, `${name}: version 2 is not smaller than version 1`);
  }
});

test('a machine in use round-trips at every step: passthrough, open, start, orphaned DMA, kill', () => {
  const m = bootTree('default');
  const sys = new Sys(m);
  const step = (label: string): void => {
    tick(m);
    advance(m);
    roundTrip(m, label);
  };
  const dev = (name: string): Device => findDevice(m, name)!;
  modprobe(m, 'vfio-platform', { reset_required: '0' });
  step('modprobe');
  for (const name of ['fff51000.ethernet', 'fff52000.dma']) {
    sys.write(`/sys/bus/platform/devices/${name}/driver_override`, 'vfio-platform', 'test');
    step(`override ${name}`);
    sys.write(`/sys/bus/platform/devices/${name}/driver/unbind`, name, 'test');
    step(`unbind ${name}`);
    sys.write('/sys/bus/platform/drivers_probe', name, 'test');
    step(`probe ${name}`);
    assert.equal(dev(name).driver, 'vfio-platform');
  }
  vfioOpen(m, sys, dev('fff51000.ethernet'), 'qemu');
  startDevice(m, sys, dev('fff51000.ethernet'), 'qemu');
  step('xgmac running for qemu');
  vfioOpen(m, sys, dev('fff52000.dma'), 'app1');
  startDevice(m, sys, dev('fff52000.dma'), 'app1');
  step('dma running for app1');
  killOwner(m, sys, 'app1');
  step('app1 killed: dma still running, faulting');
  step('time passes');
  assert.equal(dev('fff52000.dma').activity.running, true);
  assert.ok(dev('fff52000.dma').activity.dmaFaults > 0);
  sys.write('/sys/bus/platform/devices/fff61000.rng/driver/unbind', 'fff61000.rng', 'test');
  step('rng unbound (a group with a member on no driver)');
});

test('machines shaped unusually round-trip: fields added later, shared objects, no defaults anywhere', () => {
  const m = bootTree('highbank'); // AMBA devices (periphid), several interrupt controllers? at least one
  const d = m.devices;
  assert.ok(d.length >= 4);
  const x = (o: object): Record<string, unknown> => o as Record<string, unknown>;
  // fields the codec does not know (added to the Machine type later) at every level
  x(m)['futureTop'] = { a: [1, 2] };
  x(d[0]!)['futureDevice'] = 'kept';
  x(d[0]!.of)['futureOf'] = null;
  x(d[0]!.activity)['futureActivity'] = 0; // idle but for a field more: not "idle" (d[0] has no IRQs, nothing else changes it)
  const withIrq = d.find((v) => v.irqs.length > 0)!;
  x(withIrq.irqs[0]!)['futureIrq'] = true;
  x(m.groups[0]!)['futureGroup'] = [];
  m.log.push({ t: 1, level: 6, text: 'x', ...{ futureLog: 1 } } as Machine['log'][number]);
  // values that are not defaults
  d[2]!.of.name = 'not-the-node-name';
  d[2]!.of.type = 'serial';
  d[2]!.of.aliases = ['serial0'];
  d[2]!.regions = [{ start: '0x1000', size: '0x100', readOnly: true }, { start: '0x2000', size: '0x100', readOnly: false }];
  d[3]!.activity = { ...newActivity(d[3]!.irqs.length + 1) }; // arrays of another length
  withIrq.irqs.push({ hwirq: 7, trigger: 1, controller: '/some/other-controller' });
  d[1]!.parentDir = '/sys/devices/platform/elsewhere';
  // a group whose id is not its index, held by an owner (groups and owners must agree with the devices: shape.ts)
  const loner = d.find((v) => v.iommuGroup === null)!;
  loner.iommuGroup = 77;
  m.groups.push({ id: 77, devices: [loner.name], owner: 'qemu', type: 'identity', iommu: null });
  m.owners.push({ name: 'qemu', pid: 4242, alive: true, groups: [77], devices: [], iova: { start: '0x0', size: '0x1000' } });
  const big = m.groups.find((g) => g.devices.length > 1);
  if (big) big.devices.reverse(); // members not in device order
  // an IRQ object and an empty array shared by two devices: written the same at both places
  const shared = withIrq.irqs[0]!;
  const other = d.find((v) => v !== withIrq && v.irqs.length > 0);
  if (other) other.irqs.push(shared);
  const empty: never[] = [];
  d[0]!.resets = empty;
  d[1]!.resets = empty;
  roundTrip(m, 'unusual');
  const back = parseState('/test/state.json', serializeState(m));
  // sharing is not kept (JSON has no references), the values are
  assert.deepStrictEqual(back.devices[0]!.resets, []);
  // a shared object is still shared after the encoder put things back
  assert.equal(d[0]!.resets, d[1]!.resets);
  if (other) assert.equal(other.irqs.at(-1), shared);

  // the same, with no field at its default value at all
  const busy = bootTree('default');
  for (const bus of ['platform', 'amba'] as const) {
    if (!busy.drivers.some((x) => x.bus === bus && x.name === 'vfio-platform')) busy.drivers.push({ name: 'vfio-platform', bus, compatible: [], kind: 'vfio', module: null, probeError: null });
  }
  const spare = { id: 99, devices: [] as string[], owner: null, type: 'DMA', iommu: null };
  busy.groups.push(spare);
  for (const v of busy.devices) {
    v.driver = 'vfio-platform';
    v.driverOverride = 'vfio-platform';
    v.vfio = { index: 1, reset: null, openCount: 0, flags: 4 };
    if (v.iommuGroup === null) (v.iommuGroup = 99), spare.devices.push(v.name);
    v.activity.running = true;
  }
  roundTrip(busy, 'no defaults');
});

test('version 2 of a 1,000-device machine is less than half the size of version 1', () => {
  const m = boot(parseOwnYaml(generatedTree(1000), 'generated.yaml'));
  const v2 = roundTrip(m, '1000 devices');
  const v1 = v1Text(m);
  assert.ok(v2.length * 2 < v1.length, `version 2: ${v2.length} bytes, version 1: ${v1.length} bytes`);
  // the defaults really are left out
  assert.doesNotMatch(v2, /"vfio":null|"driverOverride":null|"resets":\[\]|"running":false/);
});

test('version 1 fixtures are read as they were written', () => {
  const files = readdirSync(FIXTURES).filter((f) => /^v1-.*\.json$/.test(f));
  assert.ok(files.length >= 3, `fixtures: ${files.join(', ')}`);
  for (const f of files) {
    const bytes = readFileSync(path.join(FIXTURES, f));
    const raw = JSON.parse(bytes.toString('utf8')) as { version: number; machine: Machine };
    assert.equal(raw.version, 1, f);
    assert.deepStrictEqual(parseState(f, bytes), raw.machine, `${f}: migration changed the machine`);
  }
});

test('a version 1 file: read-only commands leave it alone, a refused one too, the next mutating command writes version 2', async () => {
  const dir = tempDir();
  const v1 = path.join(dir, 'v1.json');
  copyFileSync(path.join(FIXTURES, 'v1-session.json'), v1);
  const original = stateBytes(v1)!;
  for (const argv of [['status'], ['--json', 'status'], ['dmesg'], ['groups'], ['lsmod'], ['show', 'fff52000.dma'], ['--dry-run', 'override', 'fff61000.rng', 'vfio-platform']]) {
    const r = await run(v1, ...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    assert.deepEqual(stateBytes(v1), original, `${argv.join(' ')} rewrote the version 1 file`);
  }
  // a refused command saves what the kernel did on the way (the clock moved): as version 2
  const v1r = path.join(dir, 'v1-refused.json');
  copyFileSync(v1, v1r);
  const refused = await run(v1r, 'unbind', 'fff61000.rng'); // not bound: the kernel refuses
  assert.equal(refused.code, 1, refused.stderr);
  const afterRefusal = readFileSync(v1r);
  assert.equal(JSON.parse(afterRefusal.toString('utf8')).version, STATE_VERSION);
  const mr = parseState(v1r, afterRefusal);
  const was = parseState(v1, original);
  assert.ok(mr.clockUs > was.clockUs, 'the clock of a refused command did not move');
  assert.deepStrictEqual(mr.devices.map((x) => [x.name, x.driver, x.driverOverride]), was.devices.map((x) => [x.name, x.driver, x.driverOverride]));

  // the same command on the version 1 file and on the same machine already in version 2
  // gives the same machine: migrating changes nothing but the encoding
  const v2 = path.join(dir, 'v2.json');
  writeFileSync(v2, serializeState(parseState(v1, original)));
  for (const p of [v1, v2]) {
    const r = await run(p, 'override', 'fff61000.rng', 'vfio-platform');
    assert.equal(r.code, 0, r.stderr);
  }
  const after1 = readFileSync(v1);
  assert.equal(JSON.parse(after1.toString('utf8')).version, STATE_VERSION, 'not written back as version 2');
  const m = parseState(v1, after1);
  assert.deepStrictEqual(m, parseState(v2, readFileSync(v2)));
  assert.equal(findDevice(m, 'fff61000.rng')!.driverOverride, 'vfio-platform');
  const old = JSON.parse(original.toString('utf8')).machine as Machine;
  assert.equal(m.clockUs > old.clockUs, true);
  assert.deepStrictEqual(m.drivers, old.drivers);
  assert.deepStrictEqual(m.owners, old.owners);
  // the running devices went on running (time passed), everything else is as it was
  for (const dev of m.devices) {
    const was = old.devices.find((o) => o.name === dev.name)!;
    if (dev.name === 'fff61000.rng') assert.deepStrictEqual({ ...dev, driverOverride: null }, was);
    else if (!was.activity.running) assert.deepStrictEqual(dev, was, dev.name);
  }
});
