/**
 * The sealed state file (src/state/digest.ts) and the devices read from it line by line
 * (src/state/lazy-device.ts): a sealed file read lazily gives exactly the machine a whole
 * read of the same text gives; a command that touches one device decodes that one and
 * writes the others back as they were read; any change to the file breaks the seal and
 * the file is then read whole and checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { parseState, serializeState, encodeState } from '../src/state/codec.js';
import { isSealed, fingerprint } from '../src/state/digest.js';
import { cellOf } from '../src/state/lazy-device.js';
import { StateError } from '../src/base/errors.js';
import { findDevice, isRunning, type Machine, type Device } from '../src/base/machine.js';
import { modprobe } from '../src/base/module.js';
import { vfioOpen, startDevice } from '../src/userspace/owner.js';
import { tick, printk } from '../src/klog/klog.js';
import { Sys } from '../src/cli/sys.js';
import { boot } from '../src/base/boot.js';
import { parseOwnYaml } from '../src/devicetree/formats/own-yaml.js';
import { bootTree, TREES } from './helpers.js';
import { generatedTree } from './proc-helpers.js';

const P = '/test/state.json';
/** read as a command reads a file: bytes, so a sealed one is read lazily */
const readBytes = (b: Buffer): Machine => parseState(P, b);
/** read whole and checked: text, which parseState never takes for sealed */
const readWhole = (b: Buffer): Machine => parseState(P, b.toString('utf8'));
const decoded = (m: Machine): number => m.devices.filter((d) => cellOf(d)?.full !== false).length;

/** lazily read = wholly read, and a lazily read machine nobody touched is written back byte for byte */
function sameBothWays(m: Machine, label: string): Buffer {
  const bytes = encodeState(m);
  assert.ok(isSealed(bytes), `${label}: written sealed`);
  const lazy = readBytes(bytes);
  assert.equal(decoded(lazy), 0, `${label}: nothing decoded by reading`);
  assert.ok(encodeState(lazy).equals(bytes), `${label}: an untouched lazy machine is written back as read`);
  assert.deepStrictEqual(lazy, readWhole(bytes), `${label}: lazy read differs from a whole read`);
  return bytes;
}

test('every bundled tree: a sealed file read line by line is the machine a whole read gives', () => {
  const names = readdirSync(TREES).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5));
  for (const name of names) sameBothWays(bootTree(name), name);
});

test('a machine in use, at every step: lazily read equals wholly read; a running device is known to run', () => {
  let m = bootTree('default');
  const step = (label: string, fn: (m: Machine, sys: Sys) => void): void => {
    const sys = new Sys(m);
    fn(m, sys);
    tick(m);
    m = readBytes(sameBothWays(m, label)); // the next step works on the lazily read machine, as the next command would
  };
  step('modprobe', (m) => void modprobe(m, 'vfio-platform', { reset_required: '0' }));
  for (const name of ['fff51000.ethernet', 'fff52000.dma']) {
    step(`override ${name}`, (_m, sys) => sys.write(`/sys/bus/platform/devices/${name}/driver_override`, 'vfio-platform', 'test'));
    step(`unbind ${name}`, (_m, sys) => sys.write(`/sys/bus/platform/devices/${name}/driver/unbind`, name, 'test'));
    step(`probe ${name}`, (_m, sys) => sys.write('/sys/bus/platform/drivers_probe', name, 'test'));
  }
  step('open and start', (m, sys) => {
    const dev = findDevice(m, 'fff52000.dma')!;
    vfioOpen(m, sys, dev, 'app');
    startDevice(m, sys, dev, 'app');
  });
  const running = m.devices.filter(isRunning).map((d) => d.name);
  assert.deepEqual(running, ['fff52000.dma']);
  assert.equal(decoded(m), 1, 'asking which devices run decodes only the running one');
  assert.equal(findDevice(m, 'fff52000.dma')!.driver, 'vfio-platform');
});

test('one device written through sysfs: that one is decoded and written anew, every other line is kept as read', () => {
  const m0 = boot(parseOwnYaml(generatedTree(300), 'gen.yaml'));
  const bytes = encodeState(m0);
  const m = readBytes(bytes);
  const target = m.devices[150]!.name;
  new Sys(m).write(`/sys/bus/platform/devices/${target}/driver_override`, 'vfio-platform', 'test');
  assert.ok(decoded(m) <= 2, `decoded ${decoded(m)} of ${m.devices.length} devices for one write`);
  const out = encodeState(m).toString('utf8');
  const before = bytes.toString('utf8').split('\n');
  const after = out.split('\n');
  assert.equal(after.length, before.length);
  const changed = after.map((l, i) => (l === before[i] ? -1 : i)).filter((i) => i >= 0);
  // the first line holds the seal (the clock moved: it changed); the device's own line is the other change
  assert.deepEqual(changed.length, 2, `changed lines: ${changed.join(', ')}`);
  assert.match(after[changed[1]!]!, new RegExp(`^\\{"name":"${target.replace('.', '\\.')}".*"driverOverride":"vfio-platform"`));
  assert.equal(findDevice(readWhole(Buffer.from(out)), target)!.driverOverride, 'vfio-platform');
});

test('names, paths and drivers with quotes, backslashes and non-ASCII text are read the same lazily', () => {
  const m = bootTree('default');
  const dev = m.devices.find((d) => d.iommuGroup === null && d.driver !== null)!;
  const drv = m.drivers.find((x) => x.name === dev.driver)!;
  const weird = 'dr"iv\\er-é-\u2028';
  for (const d of m.devices) if (d.driver === drv.name) d.driver = weird;
  drv.name = weird;
  dev.name = 'n"a\\me-ü';
  dev.parentDir = '/sys/devices/platform/s"o\\c';
  const next = m.devices[m.devices.indexOf(dev) + 1];
  if (next) next.parentDir = dev.parentDir; // left out of its line: carried from the weird one
  const lazy = readBytes(sameBothWays(m, 'weird names'));
  const d = findDevice(lazy, 'n"a\\me-ü')!;
  assert.equal(d.parentDir, '/sys/devices/platform/s"o\\c');
  assert.equal(d.driver, weird);
  if (next) assert.equal(findDevice(lazy, next.name)!.parentDir, dev.parentDir);
});

test('a machine with no devices is sealed and read back', () => {
  const m = bootTree('default');
  m.devices = [];
  m.groups = [];
  m.owners = [];
  const lazy = readBytes(sameBothWays(m, 'no devices'));
  assert.deepEqual(lazy.devices, []);
});

test('any change to a sealed file breaks the seal; the file is then read whole and checked', () => {
  const bytes = encodeState(bootTree('default'));
  assert.ok(isSealed(bytes));
  for (let i = 0; i < bytes.length; i += 7) {
    const b = Buffer.from(bytes);
    b[i] = b[i]! ^ 0x20;
    assert.equal(isSealed(b), false, `byte ${i} changed, still sealed`);
  }
  assert.equal(isSealed(Buffer.concat([bytes, Buffer.from(' ')])), false, 'a byte added');
  assert.equal(isSealed(bytes.subarray(0, bytes.length - 1)), false, 'a byte cut');
  assert.notEqual(fingerprint(Buffer.from('abcd\0')), fingerprint(Buffer.from('abcd')), 'a trailing NUL counts');
  // an edit by hand that keeps the JSON valid but names a driver nobody registered: refused, with its path
  const text = bytes.toString('utf8').replace('"driver":"acme-dma"', '"driver":"no-such-driver"');
  assert.throws(
    () => readBytes(Buffer.from(text)),
    (e: unknown) => e instanceof StateError && /devices\[\d+\]\.driver "no-such-driver" is no registered platform driver/.test(e.message),
  );
  // a valid edit: read whole, not lazily, and kept
  const edited = readBytes(Buffer.from(bytes.toString('utf8').replace('"model":"vfioctl default machine"', '"model":"my machine"')));
  assert.equal(edited.model, 'my machine');
  assert.equal(edited.devices.filter((d: Device) => cellOf(d) !== undefined).length, 0, 'an unsealed file has no lazy devices');
  // and the next write seals it again
  assert.ok(isSealed(encodeState(edited)));
  assert.equal(serializeState(edited).includes('"model":"my machine"'), true);
});

test('the kernel log: lines kept as read, new ones added, and the ring trimmed at its start, across sealed writes', () => {
  let m = bootTree('default');
  for (let i = 0; i < 4220; i++) printk(m, 6, `line ${i} "quoted" \\ and é`);
  let trimmed = false;
  for (let round = 0; round < 3; round++) {
    const bytes = sameBothWays(m, `round ${round}`);
    m = readBytes(bytes);
    const first = m.log[0]!.text;
    for (let i = 0; i < 25; i++) printk(m, 4, `round ${round} line ${i}`);
    const again = readWhole(encodeState(m));
    assert.deepEqual(again.log.map((l) => l.text), m.log.map((l) => l.text), `round ${round}: the log written is the log`);
    assert.equal(again.log.at(-1)!.text, `round ${round} line 24`);
    trimmed ||= m.log[0]!.text !== first;
  }
  assert.ok(trimmed, 'the ring was trimmed in one of the rounds');
});
