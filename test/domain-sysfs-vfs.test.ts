/**
 * sysfs as a file system (issue 11.8, kernel-semantics §1.4): what stat, create, touch,
 * truncate, mkdir, rmdir, unlink, link, symlink and rename answer on the simulated /sys,
 * as kernfs answers them. These are the functions the FUSE server calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sysRoot } from '../src/sysfs/tree.js';
import {
  vstat, vcreate, vtouch, vtruncate, vmkdir, vrmdir, vunlink, vsymlink, vlink, vrename, vwrite, vread, vopen, vreadlink,
  S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR,
} from '../src/sysfs/vfs.js';
import { KernelError } from '../src/base/errors.js';
import { modprobe } from '../src/base/module.js';
import { bootTree } from './helpers.js';

const ETH = 'fff51000.ethernet';
const DEV = `/sys/bus/platform/devices/${ETH}`;

function errno(fn: () => unknown, code: string, what = ''): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KernelError, `expected KernelError, got ${String(e)}`);
    assert.equal(e.code, code, what);
    return true;
  });
}

function fresh() {
  const m = bootTree('default');
  return { m, root: sysRoot(m) };
}

test('stat: every attribute is a 4096-byte regular file with its kernfs mode', () => {
  const { root } = fresh();
  const probe = vstat(root, '/sys/bus/platform/drivers_probe', true);
  assert.deepEqual(probe, { kind: 'file', mode: S_IFREG | 0o200, size: 4096, nlink: 1 });
  assert.equal(vstat(root, '/sys/bus/platform/drivers_autoprobe', true).mode, S_IFREG | 0o644);
  assert.equal(vstat(root, `${DEV}/modalias`, true).mode, S_IFREG | 0o444);
  assert.equal(vstat(root, `${DEV}/modalias`, true).size, 4096, 'the size is PAGE_SIZE whatever the content');
  assert.equal(vstat(root, `${DEV}/driver_override`, true).mode, S_IFREG | 0o644);
});

test('stat: directories 0755, size 0, nlink 2 + subdirectories; links 0777 size 0 with their relative target', () => {
  const { root } = fresh();
  const bus = vstat(root, '/sys/bus/platform', true);
  assert.equal(bus.kind, 'dir');
  assert.equal(bus.mode, S_IFDIR | 0o755);
  assert.equal(bus.size, 0);
  assert.equal(bus.nlink, 4, 'devices/ and drivers/ are its subdirectories');
  const l = vstat(root, DEV, false);
  assert.equal(l.kind, 'link');
  assert.equal(l.mode, S_IFLNK | 0o777);
  assert.equal(l.size, 0);
  assert.equal(l.target, '../../../devices/platform/soc/fff51000.ethernet');
  assert.equal(vstat(root, DEV, true).kind, 'dir', 'stat follows the link');
});

test('stat: /dev/vfio/vfio is a 0666 character device 10:196', () => {
  const { m, root } = fresh();
  errno(() => vstat(root, '/dev/vfio/vfio', true), 'ENOENT', 'no vfio module, no node');
  modprobe(m, 'vfio');
  const r = sysRoot(m);
  assert.deepEqual(vstat(r, '/dev/vfio/vfio', true), { kind: 'chr', mode: S_IFCHR | 0o666, size: 0, nlink: 1, rdev: '10:196' });
  void root;
});

test('stat of a missing path: ENOENT; through a file: ENOTDIR', () => {
  const { root } = fresh();
  errno(() => vstat(root, `${DEV}/nosuch`, true), 'ENOENT');
  errno(() => vstat(root, `${DEV}/modalias/x`, true), 'ENOTDIR');
});

test('creating a file: EACCES in an existing directory, ENOENT when the directory is missing; an existing attribute opens', () => {
  const { root } = fresh();
  errno(() => vcreate(root, '/sys/bus/platform/newfile'), 'EACCES');
  errno(() => vcreate(root, `${DEV}/new_file`), 'EACCES');
  errno(() => vcreate(root, '/sys/nosuch/newfile'), 'ENOENT');
  errno(() => vcreate(root, '/dev/vfio/newfile'), 'EACCES');
  assert.equal(vcreate(root, `${DEV}/driver_override`).node.kind, 'attr');
  errno(() => vwrite(root, '/sys/bus/platform/newfile', 'x\n'), 'EACCES');
  errno(() => vread(root, '/sys/bus/platform/newfile'), 'ENOENT', 'and nothing was created');
});

test('touch of an attribute, a directory or a link succeeds; of a new name is EACCES', () => {
  const { root } = fresh();
  vtouch(root, `${DEV}/driver_override`);
  vtouch(root, '/sys/bus/platform');
  vtouch(root, DEV);
  assert.equal(vread(root, `${DEV}/driver_override`), '(null)\n', 'touch writes nothing');
  errno(() => vtouch(root, '/sys/bus/platform/stamp'), 'EACCES');
});

test('truncate of an attribute succeeds and changes nothing; of a directory EISDIR', () => {
  const { root } = fresh();
  vwrite(root, `${DEV}/driver_override`, 'vfio-platform\n');
  vtruncate(root, `${DEV}/driver_override`);
  assert.equal(vread(root, `${DEV}/driver_override`), 'vfio-platform\n');
  errno(() => vtruncate(root, '/sys/bus'), 'EISDIR');
});

test('mkdir: EPERM for a new name, EEXIST for an existing one, ENOENT under a missing directory', () => {
  const { root } = fresh();
  errno(() => vmkdir(root, '/sys/bus/platform/newdir'), 'EPERM');
  errno(() => vmkdir(root, '/sys/bus/platform/drivers'), 'EEXIST');
  errno(() => vmkdir(root, `${DEV}/modalias`), 'EEXIST');
  errno(() => vmkdir(root, '/sys/nosuch/newdir'), 'ENOENT');
});

test('rm of an attribute or a link: EPERM; of a directory EISDIR; missing ENOENT', () => {
  const { root } = fresh();
  errno(() => vunlink(root, `${DEV}/driver_override`), 'EPERM');
  errno(() => vunlink(root, DEV), 'EPERM', 'the devices/ link');
  errno(() => vunlink(root, '/sys/bus/platform/drivers'), 'EISDIR');
  errno(() => vunlink(root, `${DEV}/nosuch`), 'ENOENT');
  errno(() => vunlink(root, `${DEV}/modalias/`), 'ENOTDIR');
  assert.equal(vread(root, `${DEV}/driver_override`), '(null)\n');
});

test('rmdir: EPERM for a directory, ENOTDIR for an attribute or a link, ENOENT for a missing one', () => {
  const { root } = fresh();
  errno(() => vrmdir(root, '/sys/bus/platform/drivers/calxedaxgmac'), 'EPERM');
  errno(() => vrmdir(root, `${DEV}/modalias`), 'ENOTDIR');
  errno(() => vrmdir(root, DEV), 'ENOTDIR');
  errno(() => vrmdir(root, '/sys/bus/nosuch'), 'ENOENT');
});

test('ln -s and ln: EPERM; EEXIST when the new name exists; ln of a missing file ENOENT', () => {
  const { root } = fresh();
  errno(() => vsymlink(root, '/sys/bus/platform/drivers/vfio-platform', `${DEV}/driver`), 'EEXIST', 'the driver link exists while bound');
  errno(() => vsymlink(root, '/anything', '/sys/bus/platform/mylink'), 'EPERM');
  errno(() => vlink(root, `${DEV}/modalias`, '/sys/bus/platform/modalias2'), 'EPERM');
  errno(() => vlink(root, `${DEV}/nosuch`, '/sys/bus/platform/x'), 'ENOENT');
  errno(() => vlink(root, `${DEV}/modalias`, `${DEV}/uevent`), 'EEXIST');
});

test('mv: EPERM; ENOENT for a missing source; an entry renamed to itself succeeds', () => {
  const { root } = fresh();
  errno(() => vrename(root, `${DEV}/driver_override`, `${DEV}/override2`), 'EPERM');
  errno(() => vrename(root, `${DEV}/nosuch`, `${DEV}/x`), 'ENOENT');
  errno(() => vrename(root, `${DEV}/modalias`, '/sys/nosuch/x'), 'ENOENT');
  vrename(root, `${DEV}/modalias`, `${DEV}/modalias`);
  assert.match(vread(root, `${DEV}/modalias`), /^of:N/);
});

test('open: kernfs permission checks even for root; O_CREAT of a new name EACCES; directories EISDIR for writing', () => {
  const { root } = fresh();
  assert.equal(vopen(root, '/sys/bus/platform/drivers_probe', 'w').node.kind, 'attr');
  errno(() => vopen(root, '/sys/bus/platform/drivers_probe', 'r'), 'EACCES');
  errno(() => vopen(root, '/sys/bus/platform/drivers_probe', 'rw'), 'EACCES');
  errno(() => vopen(root, `${DEV}/modalias`, 'w'), 'EACCES');
  assert.equal(vopen(root, `${DEV}/modalias`, 'r').node.kind, 'attr');
  errno(() => vopen(root, '/sys/bus', 'w'), 'EISDIR');
  assert.equal(vopen(root, '/sys/bus', 'r').node.kind, 'dir');
  errno(() => vopen(root, '/sys/bus/platform/newfile', 'w', { create: true }), 'EACCES');
  errno(() => vopen(root, '/sys/bus/platform/newfile', 'w'), 'ENOENT');
  assert.equal(vopen(root, `${DEV}/driver_override`, 'rw', { create: true }).node.kind, 'attr');
});

test('readlink: the relative target; EINVAL for a file or a directory; ENOENT for a missing name', () => {
  const { root } = fresh();
  assert.equal(vreadlink(root, `${DEV}/subsystem`), '../../../../bus/platform');
  errno(() => vreadlink(root, `${DEV}/modalias`), 'EINVAL');
  errno(() => vreadlink(root, '/sys/bus'), 'EINVAL');
  errno(() => vreadlink(root, `${DEV}/nosuch`), 'ENOENT');
});
