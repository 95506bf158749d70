/**
 * End to end: the real bin/vfioctl in a child process, through the main flows; combined
 * stdout compared to test/golden/*.txt (UPDATE_GOLDEN=1 rewrites them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { REPO, tempState, golden } from './helpers.js';

const BIN = path.join(REPO, 'bin', 'vfioctl');

interface Step { argv: string[]; exit?: number }

function session(steps: Step[]): { transcript: string; stderrs: string[] } {
  const state = tempState();
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: path.dirname(state), VFIOCTL_STATE: state, NO_COLOR: '1' };
  let transcript = '';
  const stderrs: string[] = [];
  for (const s of steps) {
    const r = spawnSync(process.execPath, [BIN, ...s.argv], { cwd: REPO, env, encoding: 'utf8' });
    const want = s.exit ?? 0;
    assert.equal(r.status, want, `vfioctl ${s.argv.join(' ')}: exit ${r.status}\n${r.stderr}`);
    transcript += `$ vfioctl ${s.argv.map((a) => (/[\s"]/.test(a) || a === '' ? JSON.stringify(a) : a)).join(' ')}\n${r.stdout}[exit ${r.status}]\n`;
    stderrs.push(r.stderr);
  }
  return { transcript, stderrs };
}

test('e2e: default machine, passthrough and restore of the xgmac', () => {
  const { transcript, stderrs } = session([
    { argv: ['status'] },
    { argv: ['passthrough', 'fff51000.ethernet'] },
    { argv: ['groups'] },
    { argv: ['dmesg'] },
    { argv: ['restore', 'fff51000.ethernet'] },
    { argv: ['sysfs', 'cat', '/sys/bus/platform/devices/fff51000.ethernet/driver_override'] },
    { argv: ['bind', 'fff51000.ethernet', '--driver', 'calxedaxgmac'], exit: 1 },
    { argv: ['bind', 'fff51000.ethernet'], exit: 1 },
    { argv: ['sysfs', 'cat', '/sys/bus/platform/drivers_probe'], exit: 1 },
  ]);
  assert.match(stderrs[0]!, /^vfioctl: no state file at .*; booted the bundled default machine/);
  assert.match(stderrs[6]!, /EBUSY/);
  assert.match(stderrs[7]!, /ENODEV/);
  assert.match(stderrs[8]!, /EACCES/);
  golden('default-passthrough', transcript);
});

test('e2e: raw sysfs writes on the highbank tree', () => {
  const dev = '/sys/bus/platform/devices/fff51000.ethernet';
  const { transcript } = session([
    { argv: ['-q', 'load', 'highbank'] },
    { argv: ['sysfs', 'cat', `${dev}/driver_override`] },
    { argv: ['sysfs', 'write', `${dev}/driver_override`, 'vfio-platform'] },
    { argv: ['sysfs', 'write', '/sys/bus/platform/drivers/calxedaxgmac/unbind', 'fff51000.ethernet'] },
    { argv: ['modprobe', 'vfio-platform'] },
    { argv: ['sysfs', 'write', '/sys/bus/platform/drivers_probe', 'fff51000.ethernet'] },
    { argv: ['sysfs', 'cat', `${dev}/driver_override`] },
    { argv: ['sysfs', 'ls', dev] },
    { argv: ['info', 'fff51000.ethernet'] },
  ]);
  golden('highbank-sysfs', transcript);
});

test('e2e: usage error and help exit statuses', () => {
  const state = tempState();
  const env = { PATH: process.env['PATH'] ?? '', VFIOCTL_STATE: state, NO_COLOR: '1' };
  const help = spawnSync(process.execPath, [BIN, '--help'], { cwd: REPO, env, encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Exit status:/);
  const bad = spawnSync(process.execPath, [BIN, 'frobnicate'], { cwd: REPO, env, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.equal(existsSync(state), false, 'a usage error boots nothing');
  const ver = spawnSync(process.execPath, [BIN, '--version'], { cwd: REPO, env, encoding: 'utf8' });
  assert.equal(ver.status, 0);
  assert.equal(ver.stdout, '0.1.0\n');
});

test('e2e: a reader that goes away (| head) ends the output quietly: no stack trace, the command still saves', () => {
  const state = tempState();
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: path.dirname(state), VFIOCTL_STATE: state, NO_COLOR: '1' };
  for (const cmd of [`"${BIN}" --help | head -1`, `"${BIN}" dmesg | head -1`, `"${BIN}" --explain passthrough fff51000.ethernet | head -1`]) {
    const r = spawnSync('sh', ['-c', cmd], { cwd: REPO, env, encoding: 'utf8' });
    assert.equal(r.status, 0, cmd);
    assert.equal(r.stdout.split('\n').length, 2, `${cmd}: one line`);
    assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /, `${cmd}: ${r.stderr}`);
  }
  const st = spawnSync(process.execPath, [BIN, '--json', 'status'], { cwd: REPO, env, encoding: 'utf8' });
  const eth = (JSON.parse(st.stdout) as { devices: { name: string; driver: string | null }[] }).devices.find((d) => d.name === 'fff51000.ethernet');
  assert.equal(eth?.driver, 'vfio-platform', 'the passthrough whose output was cut short was saved');
});
