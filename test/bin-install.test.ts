/**
 * Getting `vfioctl` on PATH as the quick start says (issue 13.5): `npm install -g .` in a
 * built checkout, here into a temporary prefix, then `vfioctl --version` and `vfioctl
 * status` found through PATH alone. The checkout is a copy of what the install needs
 * (package.json, bin, dist/src, devicetrees; the runtime dependencies linked from this
 * checkout), so npm never touches this repository's own node_modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './helpers.js';

const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const skip = npm.status === 0 ? false : 'npm is not on PATH';

test('npm install -g . puts a working vfioctl on PATH (temporary prefix, removed afterwards)', { skip }, (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vfioctl-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const checkout = path.join(dir, 'checkout');
  const prefix = path.join(dir, 'prefix');
  mkdirSync(checkout);
  for (const f of ['package.json', 'bin', 'devicetrees']) cpSync(path.join(REPO, f), path.join(checkout, f), { recursive: true });
  cpSync(path.join(REPO, 'dist', 'src'), path.join(checkout, 'dist', 'src'), { recursive: true });
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
  mkdirSync(path.join(checkout, 'node_modules'));
  for (const d of Object.keys(pkg.dependencies)) symlinkSync(path.join(REPO, 'node_modules', d), path.join(checkout, 'node_modules', d));

  const env = { PATH: `${path.join(prefix, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, HOME: dir, VFIOCTL_STATE: path.join(dir, 'state.json'), NO_COLOR: '1', npm_config_cache: path.join(dir, 'npm-cache') };
  const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '.'], { cwd: checkout, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(install.status, 0, `npm install -g . failed:\n${install.stdout}\n${install.stderr}`);
  assert.ok(lstatSync(path.join(prefix, 'bin', 'vfioctl')).isSymbolicLink(), 'npm made PREFIX/bin/vfioctl');

  // from another directory, by name only
  const elsewhere = path.join(dir, 'elsewhere');
  mkdirSync(elsewhere);
  const version = spawnSync('vfioctl', ['--version'], { cwd: elsewhere, env, encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), pkg.version);
  const status = spawnSync('vfioctl', ['status'], { cwd: elsewhere, env, encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /fff51000\.ethernet\s+calxeda,hb-xgmac\s+drv=calxedaxgmac/);
  assert.match(status.stderr, /booted the bundled default machine/);
  assert.ok(existsSync(path.join(dir, 'state.json')));
  for (const d of Object.keys(pkg.dependencies)) assert.ok(lstatSync(path.join(checkout, 'node_modules', d)).isSymbolicLink(), `npm left node_modules/${d} alone`);
});
