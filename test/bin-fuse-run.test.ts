/**
 * `vfioctl run`: real scripts, unmodified, against the simulated machine served over FUSE in
 * a private mount namespace. Needs root (or user namespaces), /dev/fuse and util-linux; the
 * driverctl cases need Debian's driverctl. Each skips with the reason where that is missing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { vfioctl, start, tempDir, removeTempDirs, killChildren } from './proc-helpers.js';
import { fuseSkip, DRIVERCTL, driverctlSkip, fuseMountCount, runDirs } from './fuse-helpers.js';

after(() => {
  killChildren();
  removeTempDirs();
});

const skip = fuseSkip();
const ETH = 'fff51000.ethernet'; // calxeda,hb-xgmac: has a reset module
const SATA = 'fff80000.sata'; // no reset handler

async function machine(): Promise<{ dir: string; state: string }> {
  const dir = tempDir('vfioctl-fuse-');
  const state = path.join(dir, 'state.json');
  const r = await vfioctl(state, ['-q', 'load', 'default']);
  assert.equal(r.code, 0, r.stderr);
  return { dir, state };
}

async function show(state: string, dev: string): Promise<{ driver: string | null; driverOverride: string | null }> {
  const r = await vfioctl(state, ['show', dev, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { driver: string | null; driverOverride: string | null };
}

async function dmesg(state: string): Promise<string> {
  return (await vfioctl(state, ['dmesg'])).stdout;
}

function script(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, 0o755);
  return p;
}

test('run: exit status of the command, nothing left on the host', { skip }, async () => {
  const { state } = await machine();
  const mountsBefore = fuseMountCount(path.join(tmpdir(), 'vfioctl-run-'));
  const dirsBefore = runDirs();
  const hostSys = readdirSync('/sys').sort();
  const r = await vfioctl(state, ['run', '--', 'sh', '-c', 'ls /sys; stat -f -c %T /sys; exit 7']);
  assert.equal(r.code, 7, r.stderr);
  assert.deepEqual(r.stdout.split('\n').slice(0, 4), ['bus', 'devices', 'kernel', 'module']);
  assert.match(r.stdout, /fuseblk/); // FUSE cannot claim to be sysfs
  assert.deepEqual(readdirSync('/sys').sort(), hostSys);
  assert.equal(fuseMountCount(path.join(tmpdir(), 'vfioctl-run-')), mountsBefore);
  assert.deepEqual(runDirs(), dirsBefore);
  const ok = await vfioctl(state, ['run', 'true']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('run: a bind script in the style of bind_platform_vfio.sh (modprobe reset_required=0, unbind, override, bind)', { skip }, async () => {
  const { dir, state } = await machine();
  const bind = script(dir, 'bind.sh', `#!/bin/bash
DEV=$1
modprobe vfio_platform reset_required=0
echo $DEV > /sys/bus/platform/drivers/acme-sata/unbind
echo vfio-platform > /sys/bus/platform/devices/$DEV/driver_override
echo $DEV > /sys/bus/platform/drivers/vfio-platform/bind
readlink /sys/bus/platform/devices/$DEV/driver
cat /sys/module/vfio_platform/parameters/reset_required
[ -c /dev/vfio/3 ] && echo "group node"
`);
  const r = await vfioctl(state, ['run', '--', bind, SATA]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '../../../../bus/platform/drivers/vfio-platform\nN\ngroup node\n');
  const d = await show(state, SATA);
  assert.deepEqual([d.driver, d.driverOverride], ['vfio-platform', 'vfio-platform']);
});

test('run: a dfx-mgr style script stats drivers/<drv>/<dev>, writes drivers_probe and never checks: the probe failure is only in dmesg', { skip }, async () => {
  const { dir, state } = await machine();
  const s = script(dir, 'attach.sh', `#!/bin/sh
DEV=$1
modprobe vfio-platform
if [ -e /sys/bus/platform/drivers/acme-sata/$DEV ]; then echo $DEV > /sys/bus/platform/drivers/acme-sata/unbind; fi
echo vfio-platform > /sys/bus/platform/devices/$DEV/driver_override
echo $DEV > /sys/bus/platform/drivers_probe
echo "probe: $?"
[ -e /sys/bus/platform/drivers/vfio-platform/$DEV ] && echo bound || echo "not bound"
`);
  const r = await vfioctl(state, ['run', '--', s, SATA]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'probe: 0\nnot bound\n');
  const d = await show(state, SATA);
  assert.equal(d.driver, null);
  assert.equal(d.driverOverride, 'vfio-platform');
  assert.match(await dmesg(state), /vfio-platform fff80000\.sata: probe with driver vfio-platform failed with error -2/);
});

test('run: the kernel\'s errno reaches the writer (echo: write error) and the refused write keeps its log lines', { skip }, async () => {
  const { state } = await machine();
  const r = await vfioctl(state, ['run', '--', 'bash', '-c', `
modprobe vfio-platform
echo vfio-platform > /sys/bus/platform/devices/${SATA}/driver_override
echo ${SATA} > /sys/bus/platform/drivers/acme-sata/unbind
echo ${SATA} > /sys/bus/platform/drivers/vfio-platform/bind; echo "bind: $?"
echo nosuch > /sys/bus/platform/drivers_probe; echo "probe: $?"
echo ${ETH} > /sys/bus/platform/drivers/vfio-platform/unbind; echo "unbind: $?"
dmesg | tail -n 2`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /echo: write error: No such file or directory/); // bind: ENOENT from the probe (no reset)
  assert.match(r.stderr, /echo: write error: No such device/);
  assert.match(r.stdout, /bind: 1\nprobe: 1\nunbind: 1\n/);
  assert.match(r.stdout, /VFIO: No reset function found for device fff80000\.sata/);
  assert.equal((await show(state, SATA)).driver, null);
});

test('run: errno and metadata as sysfs gives them (stat sizes and modes, EACCES, EPERM, ENOENT, EISDIR, readlink)', { skip }, async () => {
  const { state } = await machine();
  const P = '/sys/bus/platform';
  const r = await vfioctl(state, ['run', '--', 'bash', '-c', `
stat -c '%s %A' ${P}/drivers_probe ${P}/drivers_autoprobe ${P}/devices/${ETH}/driver_override
stat -c '%F %s' ${P} ${P}/devices/${ETH}
readlink ${P}/devices/${ETH} ${P}/devices/${ETH}/driver ${P}/devices/${ETH}/iommu_group
cat ${P}/drivers_probe 2>&1
{ echo x > ${P}/newfile; } 2>&1
mkdir ${P}/d 2>&1; rm ${P}/uevent 2>&1; ln -s x ${P}/l 2>&1; mv ${P}/uevent ${P}/u 2>&1
touch ${P}/drivers_autoprobe && echo touched
{ echo 1 > ${P}/drivers_autoprobe/; } 2>&1
cat /sys/bus/platform/devices/nosuch/uevent 2>&1
{ echo 1 > ${P}/devices/${ETH}/modalias; } 2>&1
cat ${P}/devices/${ETH}/driver_override
echo -n "" > ${P}/devices/${ETH}/driver_override; cat ${P}/devices/${ETH}/driver_override
[ -d /sys/module/vfio_platform ] || echo "no module"
`]);
  assert.equal(r.code, 0, r.stderr);
  const want = [
    '4096 --w-------',
    '4096 -rw-r--r--',
    '4096 -rw-r--r--',
    'directory 0',
    'symbolic link 0',
    '../../../devices/platform/soc/fff51000.ethernet',
    '../../../../bus/platform/drivers/calxedaxgmac',
    '../../../../kernel/iommu_groups/0',
    'cat: /sys/bus/platform/drivers_probe: Permission denied',
    'bash: /sys/bus/platform/newfile: Permission denied',
    "mkdir: cannot create directory '/sys/bus/platform/d': Operation not permitted",
    "rm: cannot remove '/sys/bus/platform/uevent': Operation not permitted",
    "ln: failed to create symbolic link '/sys/bus/platform/l': Operation not permitted",
    "mv: cannot move '/sys/bus/platform/uevent' to '/sys/bus/platform/u': Operation not permitted",
    'touched',
    'bash: /sys/bus/platform/drivers_autoprobe/: Is a directory',
    'cat: /sys/bus/platform/devices/nosuch/uevent: No such file or directory',
    'bash: /sys/bus/platform/devices/fff51000.ethernet/modalias: Permission denied',
    '(null)',
    '(null)',
    'no module',
  ];
  // coreutils quotes with ’ or ' depending on the locale: compare without quotes
  const unq = (s: string): string => s.replace(/[‘’']/g, '').replace(/^bash: line \d+: /, 'bash: ');
  assert.deepEqual(r.stdout.trimEnd().split('\n').map(unq), want.map(unq));
});

test('run: --trace FILE and --explain record each sysfs access in order with the kernel\'s answer', { skip }, async () => {
  const { dir, state } = await machine();
  const trace = path.join(dir, 'trace.txt');
  const r = await vfioctl(state, ['--explain', 'run', '--trace', trace, '--', 'sh', '-c', `cat /sys/bus/platform/devices/${ETH}/driver_override; echo x > /sys/bus/platform/drivers_probe; readlink /sys/bus/platform/devices/${ETH}/driver`]);
  assert.equal(r.code, 0, r.stderr);
  const t = readFileSync(trace, 'utf8');
  // the path walks show up too (lookups, the kernel reading the devices/X link): find the three calls in order
  const at = (re: RegExp): number => {
    const i = t.split('\n').findIndex((l) => re.test(l));
    assert.ok(i >= 0, `${re} not in the trace:\n${t}`);
    return i;
  };
  const read = at(/ read \/sys\/devices\/platform\/soc\/fff51000\.ethernet\/driver_override → "\(null\)\\n"$/);
  const write = at(/ write \/sys\/bus\/platform\/drivers_probe "x\\n" → ENODEV$/);
  const link = at(/ readlink \/sys\/devices\/platform\/soc\/fff51000\.ethernet\/driver → \.\.\/\.\.\/\.\.\/\.\.\/bus\/platform\/drivers\/calxedaxgmac$/);
  assert.ok(read < write && write < link, t);
  const lines = t.split('\n');
  assert.ok(r.stderr.includes('sysfs accesses (in order') && r.stderr.includes(lines[write]!), r.stderr);
});

test('run: says what is missing and exits 1 when unshare cannot be found', { skip }, async () => {
  const { state } = await machine();
  const r = await start(process.execPath, [path.join(process.cwd(), 'bin', 'vfioctl'), '--state', state, 'run', 'true'], { PATH: '/nonexistent' }).done;
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unshare \(util-linux\) is not installed or not on PATH/);
});

test('run: unbind of a device whose VFIO fd is open blocks until close; a signal is logged and the wait goes on', { skip }, async () => {
  const { dir, state } = await machine();
  for (const argv of [['passthrough', ETH], ['open', ETH, '--owner', 'qemu']]) {
    const r = await vfioctl(state, ['-q', ...argv]);
    assert.equal(r.code, 0, r.stderr);
  }
  const pidFile = path.join(dir, 'pid');
  const run = start(process.execPath, [path.join(process.cwd(), 'bin', 'vfioctl'), '--state', state, 'run', '--', 'sh', '-c', `echo $$ > ${pidFile}; echo ${ETH} > /sys/bus/platform/drivers/vfio-platform/unbind; echo "unbind: $?"`]);
  const until = async (cond: () => boolean | Promise<boolean>, what: string): Promise<void> => {
    for (let i = 0; i < 300; i++) {
      if (await cond()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'the script to start');
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(run.child.exitCode, null, 'the unbind must still wait');
  assert.equal((await show(state, ETH)).driver, 'vfio-platform');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  process.kill(pid, 'SIGINT');
  await until(async () => (await dmesg(state)).includes(`Device is currently in use, task "sh" (${pid}) blocked until device is released`), 'the blocked-task line');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(run.child.exitCode, null, 'after a signal the wait is uninterruptible');
  const c = await vfioctl(state, ['-q', 'close', ETH, '--owner', 'qemu']);
  assert.equal(c.code, 0, c.stderr);
  const e = await run.done;
  assert.equal(e.code, 130, e.stderr); // the write completed, then SIGINT ended sh
  assert.equal((await show(state, ETH)).driver, null);
  assert.match(await dmesg(state), /vfio-platform fff51000\.ethernet: Device is currently in use, task "sh" \(\d+\) blocked until device is released/);
});

test('run: driverctl itself (list-devices, set-override, a failing set-override with the reason in dmesg, list-overrides, unset-override)', { skip: skip || driverctlSkip() }, async () => {
  const { state } = await machine();
  const dc = (args: string): string => `${DRIVERCTL} -b platform ${args}`;
  const r = await vfioctl(state, ['run', '--', 'bash', '-c', `
${dc('list-devices')} | grep -E '^(${ETH}|${SATA}) '
${dc(`--nosave set-override ${ETH} vfio-platform`)}; echo "set: $?"
${dc(`--nosave set-override ${SATA} vfio-platform`)}; echo "set sata: $?"
dmesg | grep -c 'No reset function found for device ${SATA}'
${dc('list-overrides')}
${dc(`--nosave unset-override ${SATA}`)}; echo "unset: $?"
${dc('list-devices')} | grep -E '^(${ETH}|${SATA}) '
`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      `${ETH} calxedaxgmac`,
      `${SATA} acme-sata`,
      'set: 0',
      'set sata: 1',
      '1',
      `${ETH} vfio-platform`,
      `${SATA} (none)`,
      'unset: 0',
      `${ETH} vfio-platform [*]`,
      `${SATA} acme-sata`,
      '',
    ].join('\n'),
  );
  assert.match(r.stderr, /driverctl: failed to bind device fff80000\.sata to driver vfio-platform/);
  assert.equal((await show(state, ETH)).driver, 'vfio-platform');
  assert.deepEqual([(await show(state, SATA)).driver, (await show(state, SATA)).driverOverride], ['acme-sata', null]);
  assert.ok(!existsSync(path.join(tmpdir(), 'driverctl.d')));
});

test('run as an ordinary user: a user namespace too; writes reach the machine; no /dev/vfio, said so', { skip: skip || (existsSync('/usr/bin/setpriv') ? false : 'setpriv (util-linux) is not installed') }, async () => {
  const { dir, state } = await machine();
  chmodSync(dir, 0o777);
  chmodSync(state, 0o666);
  const r = await start('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(process.cwd(), 'bin', 'vfioctl'), '--state', state, 'run', '--', 'sh', '-c', `id -u; echo vfio-platform > /sys/bus/platform/devices/${ETH}/driver_override; [ -e /dev/vfio ] || echo "no dev"`], { HOME: dir }).done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '0\nno dev\n'); // root inside the user namespace
  assert.match(r.stderr, /no \/dev\/vfio: the host has none, and as an ordinary user/);
  assert.equal((await show(state, ETH)).driverOverride, 'vfio-platform');
});
