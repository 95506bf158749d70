/**
 * The FUSE operations on an in-memory machine, request by request, with no /dev/fuse: what
 * each opcode answers (errno, attributes, data) comes from the one sysfs layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootTree } from './helpers.js';
import { FuseOps } from '../src/fuse/ops.js';
import * as P from '../src/fuse/protocol.js';
import { BlockedWrite, type Backend } from '../src/fuse/backend.js';
import { sysRoot } from '../src/sysfs/tree.js';
import { vwrite } from '../src/sysfs/vfs.js';
import type { Machine } from '../src/base/machine.js';

function memBackend(m: Machine, extra: Partial<Backend> = {}): Backend & { logged: string[] } {
  const logged: string[] = [];
  return {
    path: ':memory:',
    logged,
    current: async () => ({ m, root: sysRoot(m) }),
    write: async (p, data) => ({ count: vwrite(sysRoot(m), p, data), dmesg: [] }),
    logBlockedTask: async (dev, comm, pid) => void logged.push(`${dev} ${comm} ${pid}`),
    deviceOpen: async () => false,
    ...extra,
  };
}

let unique = 1n;
function req(opcode: number, nodeid: bigint, body: Buffer = Buffer.alloc(0), pid = 4242): { h: P.InHeader; b: Buffer } {
  const b = Buffer.alloc(P.IN_HEADER_SIZE + body.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(unique++, 8);
  b.writeBigUInt64LE(nodeid, 16);
  b.writeUInt32LE(pid, 32);
  body.copy(b, P.IN_HEADER_SIZE);
  return { h: P.decodeHeader(b), b };
}
const name = (s: string): Buffer => Buffer.from(s + '\0');
const u32s = (...xs: number[]): Buffer => {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeUInt32LE(x, i * 4));
  return b;
};

interface Answer {
  error: number;
  body: Buffer;
}

async function ask(ops: FuseOps, opcode: number, nodeid: bigint, body?: Buffer): Promise<Answer> {
  const { h, b } = req(opcode, nodeid, body);
  let a: Answer | null = null;
  await ops.handle(h, b, (error, out) => (a = { error, body: out ?? Buffer.alloc(0) }));
  assert.ok(a, `opcode ${opcode} got no reply`);
  return a;
}

/** LOOKUP each component from the root; the last one's nodeid and attributes */
async function walk(ops: FuseOps, p: string): Promise<{ id: bigint; mode: number; size: number; nlink: number }> {
  let id = 1n;
  let a: Answer | null = null;
  for (const part of p.split('/').filter(Boolean)) {
    a = (await ask(ops, P.OP.LOOKUP, id, name(part)));
    assert.equal(a.error, 0, `lookup ${part} of ${p}: ${a.error}`);
    id = a.body.readBigUInt64LE(0);
  }
  const attr = a!.body.subarray(40);
  return { id, size: Number(attr.readBigUInt64LE(8)), mode: attr.readUInt32LE(60), nlink: attr.readUInt32LE(64) };
}

function open(ops: FuseOps, id: bigint, flags: number): Promise<Answer> {
  return ask(ops, P.OP.OPEN, id, u32s(flags, 0));
}
function readIn(fh: bigint, offset: number, size: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(fh, 0);
  b.writeBigUInt64LE(BigInt(offset), 8);
  b.writeUInt32LE(size, 16);
  return b;
}
function writeIn(fh: bigint, data: string): Buffer {
  const d = Buffer.from(data);
  const b = Buffer.alloc(40 + d.length);
  b.writeBigUInt64LE(fh, 0);
  b.writeUInt32LE(d.length, 16);
  d.copy(b, 40);
  return b;
}

const EACCES = 13;
const EPERM = 1;
const ENOENT = 2;
const ENODEV = 19;
const ENOSYS = 38;
const DEV = '/bus/platform/devices/fff51000.ethernet';

test('lookup and getattr: kernfs modes, 4096-byte attributes, directories and links of size 0, ENOENT for what is not there', async () => {
  const ops = new FuseOps(memBackend(bootTree()), { layout: 'sys' });
  const probe = (await walk(ops, '/bus/platform/drivers_probe'));
  assert.equal(probe.mode, P.S_IFREG | 0o200);
  assert.equal(probe.size, 4096);
  assert.equal((await walk(ops, '/bus/platform/drivers_autoprobe')).mode, P.S_IFREG | 0o644);
  const dir = (await walk(ops, '/bus/platform'));
  assert.equal(dir.mode, P.S_IFDIR | 0o755);
  assert.equal(dir.size, 0);
  const l = (await walk(ops, DEV));
  assert.equal(l.mode, P.S_IFLNK | 0o777);
  assert.equal((await ask(ops, P.OP.LOOKUP, (await walk(ops, '/bus/platform')).id, name('nosuch'))).error, ENOENT);
  // the same path keeps its inode number
  assert.equal((await walk(ops, '/bus/platform/drivers_probe')).id, probe.id);
  const ga = (await ask(ops, P.OP.GETATTR, probe.id, Buffer.alloc(16)));
  assert.equal(ga.error, 0);
  assert.equal(ga.body.subarray(16).readUInt32LE(60), P.S_IFREG | 0o200);
});

test('readlink gives the relative target; read gives the attribute; the machine layout has /dev/vfio and /proc/modules', async () => {
  const m = bootTree();
  const ops = new FuseOps(memBackend(m), { layout: 'sys' });
  const rl = (await ask(ops, P.OP.READLINK, (await walk(ops, DEV)).id));
  assert.equal(rl.body.toString(), '../../../devices/platform/soc/fff51000.ethernet');
  const f = (await walk(ops, '/devices/platform/soc/fff51000.ethernet/driver_override'));
  const o = (await open(ops, f.id, 0));
  assert.equal(o.error, 0);
  assert.equal(o.body.readUInt32LE(8) & P.FOPEN_DIRECT_IO, P.FOPEN_DIRECT_IO);
  const fh = o.body.readBigUInt64LE(0);
  assert.equal((await ask(ops, P.OP.READ, f.id, readIn(fh, 0, 4096))).body.toString(), '(null)\n');
  assert.equal((await ask(ops, P.OP.READ, f.id, readIn(fh, 7, 4096))).body.length, 0);
  const whole = new FuseOps(memBackend(m), { layout: 'machine' });
  assert.equal((await walk(whole, '/dev/vfio')).mode, P.S_IFDIR | 0o755);
  assert.equal((await walk(whole, '/proc/modules')).mode, P.S_IFREG | 0o444);
  assert.equal((await walk(whole, '/sys/bus/platform/drivers_probe')).mode, P.S_IFREG | 0o200);
});

test('open permission checks (EACCES both ways), a write answered with the store\'s errno or the byte count', async () => {
  const m = bootTree();
  const ops = new FuseOps(memBackend(m), { layout: 'sys' });
  const probe = (await walk(ops, '/bus/platform/drivers_probe'));
  assert.equal((await open(ops, probe.id, 0)).error, EACCES); // O_RDONLY of a write-only attribute
  assert.equal((await open(ops, (await walk(ops, DEV + '/modalias')).id, 1)).error, EACCES); // O_WRONLY of a read-only one
  const fh = (await open(ops, probe.id, 1)).body.readBigUInt64LE(0);
  assert.equal((await ask(ops, P.OP.WRITE, probe.id, writeIn(fh, 'nosuch\n'))).error, ENODEV);
  const ov = (await walk(ops, DEV + '/driver_override'));
  const ofh = (await open(ops, ov.id, 1 | 0o1000)).body.readBigUInt64LE(0); // O_WRONLY|O_TRUNC as `>` opens
  const w = (await ask(ops, P.OP.WRITE, ov.id, writeIn(ofh, 'vfio-platform\n')));
  assert.equal(w.error, 0);
  assert.equal(w.body.readUInt32LE(0), 14);
  assert.equal(m.devices.find((d) => d.name === 'fff51000.ethernet')!.driverOverride, 'vfio-platform');
});

test('no names can be made or removed: CREATE EACCES, MKDIR/UNLINK/RMDIR/SYMLINK/RENAME/LINK/MKNOD EPERM, EEXIST first; other opcodes ENOSYS', async () => {
  const ops = new FuseOps(memBackend(bootTree()), { layout: 'sys' });
  const plat = (await walk(ops, '/bus/platform')).id;
  assert.equal((await ask(ops, P.OP.CREATE, plat, Buffer.concat([u32s(0o101, 0o644, 0o22, 0), name('newfile')]))).error, EACCES);
  assert.equal((await ask(ops, P.OP.MKDIR, plat, Buffer.concat([u32s(0o755, 0o22), name('d')]))).error, EPERM);
  assert.equal((await ask(ops, P.OP.MKDIR, plat, Buffer.concat([u32s(0o755, 0o22), name('devices')]))).error, 17); // EEXIST
  assert.equal((await ask(ops, P.OP.UNLINK, plat, name('uevent'))).error, EPERM);
  assert.equal((await ask(ops, P.OP.RMDIR, plat, name('devices'))).error, EPERM);
  assert.equal((await ask(ops, P.OP.SYMLINK, plat, Buffer.concat([name('l'), name('x')]))).error, EPERM);
  const ren = Buffer.alloc(8);
  ren.writeBigUInt64LE(plat, 0);
  assert.equal((await ask(ops, P.OP.RENAME, plat, Buffer.concat([ren, name('uevent'), name('u2')]))).error, EPERM);
  const lnk = Buffer.alloc(8);
  lnk.writeBigUInt64LE((await walk(ops, '/bus/platform/uevent')).id, 0);
  assert.equal((await ask(ops, P.OP.LINK, plat, Buffer.concat([lnk, name('u3')]))).error, EPERM);
  assert.equal((await ask(ops, P.OP.MKNOD, plat, Buffer.concat([u32s(0o20644, 0, 0o22, 0), name('c')]))).error, EPERM);
  assert.equal((await ask(ops, P.OP.ACCESS, plat, u32s(4, 0))).error, ENOSYS);
  assert.equal((await ask(ops, P.OP.GETXATTR, plat, Buffer.concat([u32s(0, 0), name('security.selinux')]))).error, ENOSYS);
});

test('readdir lists . and .. then the entries, sorted, with their types, in as many replies as the buffer needs', async () => {
  const ops = new FuseOps(memBackend(bootTree()), { layout: 'sys' });
  const plat = (await walk(ops, '/bus/platform')).id;
  const fh = (await ask(ops, P.OP.OPENDIR, plat, u32s(0, 0))).body.readBigUInt64LE(0);
  const names: string[] = [];
  for (let off = 0; ; ) {
    const r = (await ask(ops, P.OP.READDIR, plat, readIn(fh, off, 64)));
    if (r.body.length === 0) break;
    for (let i = 0; i < r.body.length; ) {
      const len = r.body.readUInt32LE(i + 16);
      names.push(`${r.body.readUInt32LE(i + 20)}:${r.body.toString('utf8', i + 24, i + 24 + len)}`);
      off = Number(r.body.readBigUInt64LE(i + 8));
      i += (24 + len + 7) & ~7;
    }
  }
  assert.deepEqual(names, ['4:.', '4:..', '4:devices', '4:drivers', '8:drivers_autoprobe', '8:drivers_probe', '8:uevent']);
});

test('a blocked unbind waits without a reply; INTERRUPT logs the task once and the wait goes on; the release answers it', async () => {
  let open = true;
  let writes = 0;
  const backend = memBackend(bootTree(), {
    write: async () => {
      writes++;
      if (open) throw new BlockedWrite('fff51000.ethernet', []);
      return { count: 18, dmesg: [] };
    },
    deviceOpen: async () => open,
  });
  const ops = new FuseOps(backend, { layout: 'sys', pollMs: 5, comm: (pid) => `task${pid}` });
  const f = (await walk(ops, '/bus/platform/drivers/calxedaxgmac/unbind'));
  const fh = (await ask(ops, P.OP.OPEN, f.id, u32s(1, 0))).body.readBigUInt64LE(0);
  const { h, b } = req(P.OP.WRITE, f.id, writeIn(fh, 'fff51000.ethernet\n'), 777);
  let answer: Answer | null = null;
  await ops.handle(h, b, (error, body) => (answer = { error, body: body ?? Buffer.alloc(0) }));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(answer, null);
  assert.equal(ops.sleeping, 1);
  const intr = Buffer.alloc(8);
  intr.writeBigUInt64LE(h.unique, 0);
  await ask2(ops, P.OP.INTERRUPT, intr);
  await ask2(ops, P.OP.INTERRUPT, intr);
  assert.deepEqual(backend.logged, ['fff51000.ethernet task777 777']);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(answer, null, 'still waiting after the signal');
  open = false;
  for (let i = 0; i < 100 && answer === null; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual([answer!.error, answer!.body.readUInt32LE(0)], [0, 18]);
  assert.equal(writes, 2);
  assert.equal(ops.sleeping, 0);
});

/** a request without a reply (INTERRUPT, FORGET) */
async function ask2(ops: FuseOps, opcode: number, body: Buffer): Promise<void> {
  const { h, b } = req(opcode, 1n, body);
  await ops.handle(h, b, () => assert.fail('no reply expected'));
}

test('protocol encoding: reply header carries -errno and the length; makedev packs major and minor as glibc does', async () => {
  const r = P.reply(5n, 19);
  assert.equal(r.readUInt32LE(0), 16);
  assert.equal(r.readInt32LE(4), -19);
  assert.equal(r.readBigUInt64LE(8), 5n);
  assert.equal(P.makedev(10, 196), (10 << 8) | 196);
  assert.equal(P.makedev(511, 300), (300 & 0xff) | (511 << 8) | ((300 & ~0xff) << 12));
});
