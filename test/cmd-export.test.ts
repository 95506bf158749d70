/**
 * vfioctl export: the machine as a real directory tree, compared entry by entry with the
 * live sysfs view, read with the real find/readlink/ls/cat, and refused in every way that
 * could write through a link or outside the target.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, readdirSync, lstatSync, readlinkSync, existsSync, symlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { run, tempState, stateBytes, ok, tempDir } from './helpers.js';
import { expectRefused } from './refuse.js';
import { readState } from '../src/state/store.js';
import { sysRoot } from '../src/sysfs/tree.js';
import { vread, resolve, type VDir } from '../src/sysfs/vfs.js';
import { KernelError } from '../src/base/errors.js';
import { MARKER } from '../src/cli/commands/teach/export.js';

const ETH = 'fff51000.ethernet';

function tmp(): string {
  return tempDir('vfioctl-export-');
}

/** a booted machine on disk, optionally with fff51000.ethernet passed through */
async function machine(passthrough = false): Promise<string> {
  const s = tempState();
  await ok(s, '-q', 'status');
  if (passthrough) {
    await ok(s, '-q', 'modprobe', 'vfio-platform');
    await ok(s, '-q', 'passthrough', ETH);
  }
  return s;
}

function liveRoot(state: string): VDir {
  const m = readState(state);
  assert.ok(m);
  return sysRoot(m);
}

/** every entry under the export's sys/ and dev/ by machine path (lstat, never following links) */
function exportedPaths(out: string): string[] {
  const found: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(out, rel))) {
      const r = `${rel}/${name}`;
      if (rel === '' && name !== 'sys' && name !== 'dev') continue;
      found.push(r);
      if (lstatSync(path.join(out, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return found.sort();
}

/** Compare the export with the live tree: same entries, kinds, modes, contents, link targets. */
function compareWithVfs(root: VDir, out: string): { files: number; links: number; dirs: number } {
  const seen: string[] = [];
  const counts = { files: 0, links: 0, dirs: 0 };
  const walk = (d: VDir, at: string): void => {
    for (const name of d.list()) {
      const n = d.lookup(name)!;
      const mp = `${at}/${name}`;
      const fp = path.join(out, mp);
      const st = lstatSync(fp);
      seen.push(mp);
      if (n.kind === 'dir') {
        assert.ok(st.isDirectory(), `${mp} is a directory`);
        counts.dirs++;
        walk(n, mp);
      } else if (n.kind === 'link') {
        assert.ok(st.isSymbolicLink(), `${mp} is a symbolic link`);
        const t = readlinkSync(fp);
        assert.ok(t.startsWith('../') || !t.startsWith('/'), `${mp} -> ${t} is relative`);
        assert.equal(path.posix.resolve(path.posix.dirname(mp), t), n.target, `${mp} -> ${t} leads where sysfs points`);
        let live = true;
        try {
          resolve(root, mp, true);
        } catch {
          live = false;
        }
        assert.equal(existsSync(fp), live, `${mp} resolves in the export exactly when it resolves in sysfs`);
        counts.links++;
      } else {
        assert.ok(st.isFile(), `${mp} is a regular file`);
        assert.equal(st.mode & 0o7777, n.mode, `${mp} mode ${(st.mode & 0o7777).toString(8)}`);
        let want = '';
        if (n.kind === 'attr') {
          try {
            want = vread(root, mp);
          } catch (e) {
            assert.ok(e instanceof KernelError && e.code === 'EACCES', `${mp}: only write-only attributes cannot be read (${String(e)})`);
          }
        }
        assert.equal(readFileSync(fp, 'utf8'), want, `${mp} holds what read(2) returns`);
        counts.files++;
      }
    }
  };
  walk(root, '');
  assert.deepEqual(exportedPaths(out), seen.sort(), 'the export has exactly the entries of the live tree');
  return counts;
}

test('export: the default machine, every attribute and link compared with the live sysfs', async () => {
  const s = await machine();
  const out = path.join(tmp(), 'm');
  const doc = JSON.parse(await ok(s, '--json', 'export', out)) as Record<string, unknown>;
  const counts = compareWithVfs(liveRoot(s), out);
  assert.deepEqual(doc, { dir: out, ...counts, devNodes: 0 });
  assert.equal(readlinkSync(path.join(out, 'sys/bus/platform/devices', ETH)), `../../../devices/platform/soc/${ETH}`);
  assert.equal(readlinkSync(path.join(out, 'sys/devices/platform/soc', ETH, 'driver')), '../../../../bus/platform/drivers/calxedaxgmac');
  assert.equal(readlinkSync(path.join(out, 'sys/kernel/iommu_groups/0/devices', ETH)), `../../../../devices/platform/soc/${ETH}`);
  assert.equal(statSync(path.join(out, 'sys/bus/platform/drivers_probe')).mode & 0o777, 0o200);
  assert.equal(existsSync(path.join(out, 'dev/vfio')), true, 'dev/vfio exists (empty: vfio is not loaded)');
  assert.deepEqual(readdirSync(path.join(out, 'dev/vfio')), []);
  // the same contents as vfioctl sysfs cat, through the bus link
  for (const a of ['driver_override', 'modalias', 'uevent']) {
    const p = `/sys/bus/platform/devices/${ETH}/${a}`;
    assert.equal(readFileSync(path.join(out, p), 'utf8'), await ok(s, 'sysfs', 'cat', p), a);
  }
});

test('export after passthrough: driver link on vfio-platform, /dev/vfio/<N>, reset_required; --explain lines', async () => {
  const s = await machine(true);
  const out = path.join(tmp(), 'm');
  const r = await run(s, '--explain', 'export', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^mkdir \S+\/m\/dev$/m);
  assert.match(r.stdout, /^ln -s \.\.\/\.\.\/\.\.\/\.\.\/bus\/platform\/drivers\/vfio-platform \S+\/sys\/devices\/platform\/soc\/fff51000\.ethernet\/driver$/m);
  assert.match(r.stdout, /^install -m 0200 \/dev\/null \S+\/sys\/bus\/platform\/drivers_probe$/m);
  assert.match(r.stdout, /^install -m 0444 \/sys\/module\/vfio_platform\/parameters\/reset_required \S+$/m);
  assert.match(r.stdout, /^# stands in for the character device 511:0/m);
  assert.match(r.stdout, /: \d+ directories, \d+ files, \d+ symbolic links\n {2}\/dev\/vfio nodes are empty regular files \(2\)/);
  compareWithVfs(liveRoot(s), out);
  const dev = path.join(out, 'sys/bus/platform/devices', ETH);
  assert.equal(readlinkSync(path.join(dev, 'driver')), '../../../../bus/platform/drivers/vfio-platform');
  assert.equal(readFileSync(path.join(dev, 'driver_override'), 'utf8'), 'vfio-platform\n');
  assert.equal(readFileSync(path.join(out, 'sys/module/vfio_platform/parameters/reset_required'), 'utf8'), 'Y\n');
  const group = readlinkSync(path.join(dev, 'iommu_group')).split('/').pop()!;
  const node = lstatSync(path.join(out, 'dev/vfio', group));
  assert.ok(node.isFile(), `/dev/vfio/${group} is there (a regular file)`);
  assert.equal(node.mode & 0o777, 0o600);
  assert.equal(lstatSync(path.join(out, 'dev/vfio/vfio')).mode & 0o777, 0o666);
});

test('export: the real find, readlink, ls -l and cat work on it', async () => {
  const s = await machine(true);
  const out = path.join(tmp(), 'm');
  await ok(s, '-q', 'export', out);
  const sh = (cmd: string, ...args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: out });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  assert.equal(sh('find', 'sys/kernel/iommu_groups/0', '-type', 'l'), `sys/kernel/iommu_groups/0/devices/${ETH}\n`);
  assert.equal(sh('find', '.', '-name', 'reset_required', '-type', 'f'), './sys/module/vfio_platform/parameters/reset_required\n');
  assert.equal(sh('readlink', `sys/bus/platform/devices/${ETH}/driver`), '../../../../bus/platform/drivers/vfio-platform\n');
  assert.equal(sh('readlink', '-f', `sys/bus/platform/devices/${ETH}/driver`), path.join(out, 'sys/bus/platform/drivers/vfio-platform') + '\n');
  const ls = sh('ls', '-l', 'sys/bus/platform/drivers/vfio-platform');
  assert.match(ls, /^--w------- .* bind$/m);
  assert.match(ls, /^l[rwx-]{9} .* fff51000\.ethernet -> \.\.\/\.\.\/\.\.\/\.\.\/devices\/platform\/soc\/fff51000\.ethernet$/m);
  assert.match(ls, /^l[rwx-]{9} .* module -> \.\.\/\.\.\/\.\.\/\.\.\/module\/vfio_platform$/m);
  assert.equal(sh('cat', `sys/bus/platform/drivers/vfio-platform/${ETH}/driver_override`), 'vfio-platform\n');
  assert.match(sh('ls', '-l', 'dev/vfio'), /^-rw------- .* 0$/m);
});

test('export --force replaces only the sys/ and dev/ of an earlier export, removing links without following them', async () => {
  const s = await machine();
  const top = tmp();
  const out = path.join(top, 'm');
  const outside = path.join(top, 'outside');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'keep'), 'outside\n');
  await ok(s, '-q', 'export', out);
  writeFileSync(path.join(out, 'notes.txt'), 'mine\n');
  symlinkSync(outside, path.join(out, 'sys', 'escape'));
  writeFileSync(path.join(out, 'sys', 'stray'), 'old\n');
  const again = await expectRefused(s, 1, 'EEXIST', ['export', out]);
  assert.match(again.message, /is not empty/);
  assert.match(again.hint!, /earlier export: add --force/);
  await ok(s, '-q', 'passthrough', ETH);
  await ok(s, '-q', 'export', '--force', out);
  assert.equal(readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine\n', 'other content is left alone');
  assert.equal(existsSync(path.join(out, 'sys', 'stray')), false, 'the old sys/ was replaced');
  assert.deepEqual(readdirSync(outside), ['keep'], 'the link in the old export was removed, not followed');
  assert.equal(readFileSync(path.join(outside, 'keep'), 'utf8'), 'outside\n');
  assert.equal(readlinkSync(path.join(out, 'sys/bus/platform/devices', ETH, 'driver')), '../../../../bus/platform/drivers/vfio-platform');
  compareWithVfs(liveRoot(s), out);
});

test('export refusals: non-empty, target a link, sys a link, sys a file, sys not ours, marker a link, target a file', async () => {
  const s = await machine();
  const top = tmp();
  const outside = path.join(top, 'outside');
  mkdirSync(outside);
  const untouched = (): void => assert.deepEqual(readdirSync(outside), [], 'nothing was written outside');

  // non-empty directory without --force
  const full = path.join(top, 'full');
  mkdirSync(full);
  writeFileSync(path.join(full, 'notes.txt'), 'mine\n');
  let e = await expectRefused(s, 1, 'EEXIST', ['export', full]);
  assert.equal(e.message, `export: ${full} is not empty`);
  assert.equal(e.path, full);
  assert.deepEqual(readdirSync(full), ['notes.txt']);

  // the target itself is a symbolic link (to an empty directory), with and without --force
  const viaLink = path.join(top, 'via-link');
  symlinkSync(outside, viaLink);
  for (const argv of [['export', viaLink], ['export', '--force', viaLink], ['export', viaLink + '/']]) {
    e = await expectRefused(s, 1, 'ELOOP', argv);
    assert.equal(e.message, `export: target ${viaLink} is a symbolic link (-> ${outside}); export never writes through a link`);
    untouched();
  }

  // sys -> a directory elsewhere
  const linked = path.join(top, 'linked');
  mkdirSync(linked);
  symlinkSync(outside, path.join(linked, 'sys'));
  await expectRefused(s, 1, 'EEXIST', ['export', linked]);
  writeFileSync(path.join(linked, MARKER), 'vfioctl export of something\n');
  e = await expectRefused(s, 1, 'ELOOP', ['export', '--force', linked]);
  assert.match(e.message, /existing \S+\/linked\/sys is a symbolic link \(-> \S+\/outside\); export never writes through a link/);
  assert.equal(readlinkSync(path.join(linked, 'sys')), outside, 'the link is left as it was');
  untouched();

  // a file named sys, even in an earlier export
  const fileSys = path.join(top, 'file-sys');
  mkdirSync(fileSys);
  writeFileSync(path.join(fileSys, 'sys'), 'not a directory\n');
  await expectRefused(s, 1, 'EEXIST', ['export', fileSys]);
  writeFileSync(path.join(fileSys, MARKER), 'x\n');
  e = await expectRefused(s, 1, 'EEXIST', ['export', '--force', fileSys]);
  assert.equal(e.message, `export: ${path.join(fileSys, 'sys')} exists and is not a directory an export made`);
  assert.equal(readFileSync(path.join(fileSys, 'sys'), 'utf8'), 'not a directory\n');

  // a sys/ directory that no export made (no marker): --force does not remove it
  const notOurs = path.join(top, 'not-ours');
  mkdirSync(path.join(notOurs, 'sys'), { recursive: true });
  writeFileSync(path.join(notOurs, 'sys', 'precious'), 'x\n');
  e = await expectRefused(s, 1, 'EEXIST', ['export', '--force', notOurs]);
  assert.match(e.message, /sys exists and was not made by vfioctl export \(no \.vfioctl-export file/);
  assert.deepEqual(readdirSync(path.join(notOurs, 'sys')), ['precious']);

  // the marker is a symbolic link
  const markerLink = path.join(top, 'marker-link');
  mkdirSync(markerLink);
  symlinkSync(path.join(outside, 'x'), path.join(markerLink, MARKER));
  e = await expectRefused(s, 1, 'ELOOP', ['export', '--force', markerLink]);
  assert.match(e.message, /marker \S+ is a symbolic link/);
  untouched();

  // the target is a regular file
  const file = path.join(top, 'file');
  writeFileSync(file, 'x');
  e = await expectRefused(s, 1, 'ENOTDIR', ['export', file]);
  assert.equal(e.message, `export: ${file} is not a directory`);

  // the human form names the path, the errno and the fix
  const human = await run(s, 'export', full);
  assert.equal(human.code, 1);
  assert.equal(human.stdout, '');
  assert.equal(human.stderr, `vfioctl: export: ${full} is not empty (EEXIST)\nhint: give a new or empty directory (--force replaces only the sys/ and dev/ an earlier export made)\n`);
});

test('export: a hand-edited state naming a device "../../../../escape" is refused whole (exit 4) before anything is written', async () => {
  const s = await machine();
  const text = readFileSync(s, 'utf8').replaceAll('"fff52000.dma"', '"../../../../escape"');
  writeFileSync(s, text);
  const top = tmp();
  const out = path.join(top, 'm');
  const e = await expectRefused(s, 4, 'STATE', ['export', out]);
  assert.match(e.message, /machine\.devices\[\d+\]\.name is a string \("\.\.\/\.\.\/\.\.\/\.\.\/escape"\), expected a name/);
  assert.deepEqual(readdirSync(top), [], 'nothing was created, not even the target');
  assert.equal(stateBytes(s)!.toString('utf8'), text);
});
