/**
 * Hostile paths and names: `sysfs cat|write|ls` with `..` above `/`, `//`, `/./`, NUL,
 * trailing slashes, over-long names and paths, symlink loops; and device, driver and
 * owner names with shell metacharacters, spaces, newlines, slashes, `..` and empty
 * strings in override, bind, open and kill. Each is refused with the errno Linux gives
 * (or a usage error), or handled the way Linux handles it; a refusal never writes the
 * state, nothing prints a stack trace, and every `--explain` line is a shell command
 * that, run by /bin/sh, writes exactly the bytes vfioctl wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, stateBytes, tempState, ok, booted, tempDir } from './helpers.js';
import { assertRefusedState } from './refuse.js';
import { StructWriter, blob } from './fdt-writer.js';

const ETH = 'fff51000.ethernet';
const DEV = `/sys/bus/platform/devices/${ETH}`;

interface ErrJson {
  code: string;
  message: string;
  path?: string;
  hint?: string;
}

/** The command fails with `code` (exit 1 for an errno, 2 for USAGE), prints no stack trace and changes no attribute (refuse.ts). */
async function refused(s: string, code: string, ...argv: string[]): Promise<ErrJson> {
  const before = stateBytes(s);
  const r = await run(s, '--json', ...argv);
  assert.equal(r.code, code === 'USAGE' ? 2 : 1, `${JSON.stringify(argv)}: exit ${r.code} ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const e = (JSON.parse(r.stderr) as { error: ErrJson }).error;
  assert.equal(e.code, code, `${JSON.stringify(argv)}: ${r.stderr}`);
  assertRefusedState(JSON.stringify(argv), r.code, s, before);
  return e;
}

async function lsNames(s: string, p: string): Promise<string[]> {
  const out = await ok(s, '--json', 'sysfs', 'ls', p);
  return (JSON.parse(out) as { entries: { name: string }[] }).entries.map((e) => e.name);
}

/**
 * Run the `--explain` write steps of a command through /bin/sh with the target file
 * swapped for a temp file: the shell must write exactly what vfioctl wrote.
 */
function shellWrites(explain: { command: string }[]): string[] {
  const dir = tempDir('vfioctl-sh-');
  const out: string[] = [];
  for (const step of explain) {
    const gt = step.command.lastIndexOf(' > ');
    if (gt < 0 || !/^(echo|printf) /.test(step.command)) continue;
    const f = path.join(dir, `w${out.length}`);
    const r = spawnSync('sh', ['-c', `${step.command.slice(0, gt)} > "$F"`], { env: { F: f, PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    assert.equal(r.status, 0, `${step.command}: ${r.stderr.toString()}`);
    out.push(readFileSync(f, 'latin1'));
  }
  return out;
}

// ---- paths ----

test('sysfs paths: .. above /, //, /./ and .. after links resolve like the kernel path walk', async () => {
  const s = await booted();
  const root = await lsNames(s, '/');
  assert.deepEqual(await lsNames(s, '/..'), root);
  assert.deepEqual(await lsNames(s, '/../../..'), root);
  assert.deepEqual(await lsNames(s, '//sys//bus/./platform/'), await lsNames(s, '/sys/bus/platform'));
  assert.equal(await ok(s, 'sysfs', 'cat', `/../../sys/bus/platform/devices/${ETH}/./driver_override`), '(null)\n');
  // `..` after a link leaves the directory the link points to (/sys/devices/platform/soc)
  assert.ok((await lsNames(s, `${DEV}/..`)).includes(ETH));
  assert.ok((await lsNames(s, `${DEV}/..`)).includes('fff52000.dma'));
  assert.deepEqual(await lsNames(s, `${DEV}/../../../../bus/platform`), await lsNames(s, '/sys/bus/platform'));
  // a write through such a path reaches the same file
  await ok(s, 'sysfs', 'write', `//sys/bus/platform/devices/../devices/./${ETH}//driver_override`, 'vfio-platform');
  assert.equal(await ok(s, 'sysfs', 'cat', `${DEV}/driver_override`), 'vfio-platform\n');
});

test('sysfs paths: a trailing slash, /. or /.. after a file is ENOTDIR (EISDIR for a write with a trailing slash, as open with O_CREAT); after a link to a directory it is followed', async () => {
  const s = await booted();
  for (const suffix of ['/', '/.', '/..', '/x', '//']) {
    const p = `${DEV}/driver_override${suffix}`;
    await refused(s, 'ENOTDIR', 'sysfs', 'cat', p);
    await refused(s, 'ENOTDIR', 'sysfs', 'ls', p);
    await refused(s, suffix === '/' || suffix === '//' ? 'EISDIR' : 'ENOTDIR', 'sysfs', 'write', p, 'vfio-platform');
  }
  await refused(s, 'ENOENT', 'sysfs', 'write', '/sys/nosuch/driver_override/', 'x');
  // the `driver` link with a trailing slash is the driver's directory
  assert.ok((await lsNames(s, `${DEV}/driver/`)).includes('bind'));
  await refused(s, 'EISDIR', 'sysfs', 'cat', `${DEV}/driver/`);
  await refused(s, 'EISDIR', 'sysfs', 'write', `${DEV}/`, 'x');
});

test('sysfs paths: NUL is EINVAL, 256-byte names and 4096-byte paths are ENAMETOOLONG, relative and empty are ENOENT', async () => {
  const s = await booted();
  for (const verb of [['cat'], ['ls'], ['write']] as const) {
    const extra = verb[0] === 'write' ? ['x'] : [];
    await refused(s, 'EINVAL', 'sysfs', verb[0], `${DEV}/driver_override\0x`, ...extra);
    await refused(s, 'ENAMETOOLONG', 'sysfs', verb[0], `/sys/${'a'.repeat(256)}`, ...extra);
    // a write opens with O_CREAT: a new 255-byte name in an existing sysfs directory is EACCES
    await refused(s, verb[0] === 'write' ? 'EACCES' : 'ENOENT', 'sysfs', verb[0], `/sys/${'a'.repeat(255)}`, ...extra);
    const long = '/sys' + '/aaaaaaa'.repeat(512); // 4100 bytes
    await refused(s, 'ENAMETOOLONG', 'sysfs', verb[0], long, ...extra);
    await refused(s, 'ENOENT', 'sysfs', verb[0], long.slice(0, 4095), ...extra);
    await refused(s, 'ENOENT', 'sysfs', verb[0], 'sys/bus', ...extra);
    await refused(s, 'ENOENT', 'sysfs', verb[0], '', ...extra);
  }
  // writing where no attribute exists never creates one
  await refused(s, 'EACCES', 'sysfs', 'write', `${DEV}/new_file`, 'x');
  await refused(s, 'ENOENT', 'sysfs', 'write', '/sys/bus/platform/drivers/vfio-platform/new_id', 'x');
});

test('sysfs paths: 40 symbolic links are followed, the 41st is ELOOP', async () => {
  const s = await booted();
  // devices/ETH is one link; each subsystem/devices/ETH adds two
  const through = (k: number): string => `${DEV}${`/subsystem/devices/${ETH}`.repeat(k)}/modalias`;
  assert.match(await ok(s, 'sysfs', 'cat', through(19)), /^of:Nethernet/);
  await refused(s, 'ELOOP', 'sysfs', 'cat', through(20));
  await refused(s, 'ELOOP', 'sysfs', 'write', through(20).replace(/modalias$/, 'driver_override'), 'x');
  await refused(s, 'ELOOP', 'sysfs', 'ls', through(20).replace(/\/modalias$/, ''));
});

test('sysfs write: driver_override values with newlines, NULs, spaces and 4095 bytes, as the kernel stores them', async () => {
  const s = await booted();
  const w = async (v: string): Promise<string> => {
    await ok(s, 'sysfs', 'write', `${DEV}/driver_override`, v);
    return ok(s, 'sysfs', 'cat', `${DEV}/driver_override`);
  };
  assert.equal(await w('vfio-platform\nevil'), 'vfio-platform\n');
  assert.equal(await w('vfio\0platform'), 'vfio\n');
  assert.equal(await w('vfio-platform '), 'vfio-platform \n');
  assert.equal(await w('\nvfio-platform'), '(null)\n');
  assert.equal(await w(''), '(null)\n');
  await refused(s, 'EINVAL', 'sysfs', 'write', `${DEV}/driver_override`, 'x'.repeat(4094));
  assert.equal(await w('x'.repeat(4093)), 'x'.repeat(4093) + '\n');
});

// ---- names in commands ----

test('override: shell metacharacters, newlines and spaces are stored as Linux stores them and quoted in --explain', async () => {
  const s = await booted();
  const values = ['a b; rm -rf / $(x) `y` "q" \'z\' | & < > *', 'vfio-platform\nevil', 'a\\nb\\c', '-n', '-e', 'x\ty', ' ', ''];
  for (const v of values) {
    const r = await run(s, '--json', '--explain', 'override', '--', ETH, v);
    assert.equal(r.code, 0, `${JSON.stringify(v)}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { driverOverride: string | null; explain: { command: string }[] };
    const nl = v.indexOf('\n');
    const stored = nl === 0 || v === '' ? null : nl > 0 ? v.slice(0, nl) : v;
    assert.equal(out.driverOverride, stored, JSON.stringify(v));
    // the explained command writes exactly value + "\n" when run by /bin/sh
    assert.deepEqual(shellWrites(out.explain), [v + '\n'], `${JSON.stringify(v)}: ${out.explain[0]?.command}`);
    assert.equal(await ok(s, 'sysfs', 'cat', `${DEV}/driver_override`), `${stored ?? '(null)'}\n`);
  }
  await refused(s, 'EINVAL', 'override', ETH, 'x'.repeat(4094));
});

test('device names that are not devices: empty, .., slashes, newlines: ENOENT, no wrong guess, nothing written', async () => {
  const s = await booted();
  for (const name of ['', ' ', '..', '.', '../../x', `${ETH}/`, `${ETH}\n`, `/sys/bus/platform/devices/${ETH}`, '$(reboot)', `${ETH}; rm -rf /`]) {
    for (const argv of [['override', name, 'vfio-platform'], ['unbind', name], ['bind', name], ['probe', name], ['open', name], ['show', name]]) {
      const e = await refused(s, 'ENOENT', ...argv);
      if (name.trim() === '') assert.doesNotMatch(e.hint ?? '', /did you mean/, `${JSON.stringify(argv)}: ${e.hint}`);
    }
  }
});

test('bind --driver with a slash, .., empty or shell text: ENOENT (no such driver directory) or EACCES (a new file in an existing directory), nothing written', async () => {
  const s = await booted();
  await ok(s, '-q', 'modprobe', 'vfio-platform');
  await ok(s, '-q', 'override', ETH, 'vfio-platform');
  await ok(s, '-q', 'unbind', ETH);
  for (const drv of ['a/b', '..', '.', '', '../vfio-platform', '$(reboot)', 'vfio-platform\n', ' vfio-platform', 'vfio-platform/..']) {
    // drivers/./bind, drivers//bind and drivers/../bind name a file to create in an existing directory
    const creates = drv === '.' || drv === '' || drv === '..' || drv === 'vfio-platform/..';
    const e = await refused(s, creates ? 'EACCES' : 'ENOENT', 'bind', ETH, '--driver', drv);
    assert.doesNotMatch(e.hint ?? '', /driver is named \.|named ;/);
    assert.match(e.path ?? '', /^\/sys\/bus\/platform\/drivers\//);
  }
  // names that still lead to the driver's bind file work, as they would with echo
  for (const drv of ['vfio-platform/', '../drivers/vfio-platform', './vfio-platform']) {
    await ok(s, '-q', 'bind', ETH, '--driver', drv);
    await ok(s, '-q', 'unbind', ETH);
  }
});

test('owner names: open/close/start/stop/reset refuse anything but 1-32 [A-Za-z0-9._-] (usage error); kill of an unknown name is ENOENT', async () => {
  const s = await booted();
  await ok(s, '-q', 'passthrough', ETH);
  for (const owner of ['', 'a b', '$(reboot)', 'a;b', 'a\nb', 'a/b', 'x'.repeat(33), '`id`']) {
    for (const cmd of ['open', 'close', 'start', 'stop', 'reset']) await refused(s, 'USAGE', cmd, ETH, '--owner', owner);
  }
  for (const owner of ['', 'a b', '..', 'qemu\n', '$(reboot)']) await refused(s, 'ENOENT', 'kill', owner);
  // a valid odd name works end to end
  await ok(s, '-q', 'open', ETH, '--owner', '..');
  await ok(s, '-q', 'kill', '..');
});

test('device names with quotes, $, ;, backslashes and a leading dash (from a DTB) are quoted in --explain', async () => {
  const s = tempState();
  const names = [`q'"c;$(id)|&<>`, '-n', 'back\\slash'];
  const w = new StructWriter().begin('');
  for (const n of names) w.begin(n).prop(0, [...Buffer.from('calxeda,hb-xgmac\0')]).end();
  const dir = tempDir('vfioctl-names-');
  const dtb = path.join(dir, 'names.dtb');
  writeFileSync(dtb, blob({ struct: w.end().finish().bytes }));
  await ok(s, '-q', 'load', dtb);
  for (const n of names) {
    const r = await run(s, '--json', '--explain', 'unbind', '--', n);
    assert.equal(r.code, 0, `${n}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { explain: { command: string }[] };
    assert.deepEqual(shellWrites(out.explain), [n + '\n'], out.explain[0]?.command);
    const o = await run(s, '--json', '--explain', 'override', '--', n, 'vfio-platform');
    assert.equal(o.code, 0, o.stderr);
    const steps = (JSON.parse(o.stdout) as { explain: { command: string }[] }).explain;
    // the sysfs path holding the name is quoted too: sh accepts the whole line
    const check = spawnSync('sh', ['-n', '-c', steps[0]!.command]);
    assert.equal(check.status, 0, steps[0]!.command);
  }
  assert.ok((await lsNames(s, '/sys/bus/platform/devices')).includes(names[0]!));
});
