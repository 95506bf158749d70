/**
 * FUSE operations answered from the one sysfs layer (src/sysfs/vfs.ts): a request names an
 * inode, the inode stands for a path, and every request walks that path in the tree of the
 * machine as it is now. What kernfs decides itself (open permission checks, the page-sized
 * write, no creation or removal of files) is decided here the same way; what an attribute
 * shows or stores is only ever the tree's show/store.
 */
import { KernelError } from '../base/errors.js';
import { errnoNumber, isErrnoName } from '../base/errno.js';
import { resolve, readable, linkText, lazyDir, vstat, vcreate, vtruncate, vmkdir, vrmdir, vunlink, vsymlink, vlink, vrename, S_IFMT, S_IFCHR, type VDir, type VNode, type VStat } from '../sysfs/vfs.js';
import type { Machine } from '../base/machine.js';
import * as P from './protocol.js';
import { BlockedWrite, type Backend } from './backend.js';
import { procDir } from './procfs.js';

/** Which tree the mount shows: a whole machine root (`/sys`, `/dev`, `/proc/modules`) or `/sys` alone. */
export type Layout = 'machine' | 'sys';

export interface Caller {
  uid: number;
  gid: number;
  pid: number;
}

/** One sysfs access as the script made it, with the kernel's answer (for --explain / --trace). */
export interface TraceEvent {
  pid: number;
  op: 'open' | 'read' | 'write' | 'readlink' | 'list' | 'lookup' | 'create' | 'mkdir' | 'unlink' | 'rmdir' | 'symlink' | 'rename' | 'link' | 'mknod' | 'wait';
  path: string;
  /** the bytes written, or the text read */
  data?: string;
  /** "ok", a count, or an errno name */
  result: string;
  dmesg?: string[];
}

export interface Reply {
  (error: number, body?: Buffer): void;
}

interface Handle {
  path: string;
  /** what the first read produced (kernfs reads the whole attribute once per open) */
  content?: Buffer;
  /** directory listing made at opendir */
  list?: P.Dirent[];
  write: boolean;
}

/** the operations that would make or remove a name, and where the name starts in the request */
const NAMESPACE_OPS: Record<number, readonly [TraceEvent['op'], number]> = {
  [P.OP.CREATE]: ['create', 56], // fuse_create_in
  [P.OP.MKDIR]: ['mkdir', 48], // fuse_mkdir_in
  [P.OP.MKNOD]: ['mknod', 56], // fuse_mknod_in
  [P.OP.UNLINK]: ['unlink', 40],
  [P.OP.RMDIR]: ['rmdir', 40],
  [P.OP.SYMLINK]: ['symlink', 40], // the new name, then the target
  [P.OP.RENAME]: ['rename', 48], // fuse_rename_in, then the old name
  [P.OP.RENAME2]: ['rename', 56], // fuse_rename2_in
  [P.OP.LINK]: ['link', 48], // fuse_link_in, then the new name
};

/** requests answered without looking at the machine */
const NO_TREE = new Set<number>([P.OP.FORGET, P.OP.BATCH_FORGET, P.OP.INTERRUPT, P.OP.RELEASE, P.OP.RELEASEDIR, P.OP.FLUSH, P.OP.FSYNC, P.OP.FSYNCDIR, P.OP.STATFS, P.OP.DESTROY]);

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;

export interface OpsOptions {
  layout: Layout;
  /** called for each access worth showing a learner */
  trace?: (e: TraceEvent) => void;
  /** the `comm` of a process (for the blocked-task log line) */
  comm?: (pid: number) => string;
  /** how often a blocked writer looks again whether the device was released */
  pollMs?: number;
}

const codeOf = (e: unknown): string => (e instanceof KernelError ? e.code : ((e as { code?: string }).code ?? 'EIO'));
const errnoOf = (e: unknown): number => (e instanceof KernelError ? e.errno : errnoNumber(isErrnoName(codeOf(e)) ? (codeOf(e) as 'EIO') : 'EIO'));

/** Decode written bytes: UTF-8 when they are UTF-8 (names from trees are), else byte per char. */
const utf8 = new TextDecoder('utf-8', { fatal: true });
function bytesToText(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    return b.toString('latin1');
  }
}

export class FuseOps {
  private ids = new Map<string, bigint>([['/', 1n]]);
  private paths = new Map<bigint, string>([[1n, '/']]);
  private nextId = 2n;
  private handles = new Map<bigint, Handle>();
  private nextFh = 1n;
  /** writes sleeping on a busy device, by request id */
  private waiting = new Map<bigint, { interrupt(): void; cancel(): void }>();
  private readonly start = Math.floor(Date.now() / 1000);

  constructor(private readonly backend: Backend, private readonly opts: OpsOptions) {}

  /** the tree the request being answered sees (taken once per request) */
  private cur: VDir | null = null;

  /** the tree the mount shows, for the machine as it is now */
  private async tree(): Promise<VDir> {
    const { m, root } = await this.backend.current();
    if (m !== this.seen) {
      // another machine (the state file was replaced): what was looked up before may differ
      this.seen = m;
      this.stats.clear();
      this.whole = this.opts.layout === 'sys' ? root : lazyDir(() => [...root.list(), 'proc'], (n) => (n === 'proc' ? procDir(m) : root.lookup(n)));
    }
    return this.whole!;
  }

  /** the machine the cached answers below belong to */
  private seen: Machine | null = null;
  private whole: VDir | null = null;
  /** lstat answers for that machine, by tree path (a path walk asks for the same ones again and again) */
  private readonly stats = new Map<string, VStat>();

  private root(): VDir {
    if (!this.cur) throw new KernelError('EIO', { message: 'no machine' });
    return this.cur;
  }

  /** a path of the mount as a path of the tree */
  private vfs(p: string): string {
    if (this.opts.layout === 'machine') return p;
    return p === '/' ? '/sys' : '/sys' + p;
  }

  private idFor(p: string): bigint {
    let id = this.ids.get(p);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(p, id);
      this.paths.set(id, p);
    }
    return id;
  }

  private pathOf(nodeid: bigint): string {
    const p = this.paths.get(nodeid);
    if (p === undefined) throw new KernelError('ENOENT', { message: 'stale inode' });
    return p;
  }

  private child(nodeid: bigint, name: string): string {
    const dir = this.pathOf(nodeid);
    return dir === '/' ? `/${name}` : `${dir}/${name}`;
  }

  /** the node at a mount path, without following a last link (lstat) */
  private node(p: string): { node: VNode; vpath: string } {
    const vpath = this.vfs(p);
    const r = resolve(this.root(), vpath, false, 'open');
    return { node: r.node, vpath: r.path };
  }

  /** lstat of a mount path, as the one sysfs layer answers it */
  private attr(p: string, root: VDir = this.root()): P.Attr {
    const vp = this.vfs(p);
    let st = root === this.whole ? this.stats.get(vp) : undefined;
    if (!st) {
      st = vstat(root, vp, false);
      if (root === this.whole) this.stats.set(vp, st);
    }
    let rdev = 0;
    if ((st.mode & S_IFMT) === S_IFCHR && st.rdev) {
      const [maj, min] = st.rdev.split(':').map(Number);
      rdev = P.makedev(maj ?? 0, min ?? 0);
    }
    return { ino: this.idFor(p), size: st.size, mode: st.mode, nlink: st.nlink, uid: 0, gid: 0, rdev, time: this.start };
  }

  private trace(e: TraceEvent): void {
    this.opts.trace?.(e);
  }

  /**
   * Answer one request; `reply` is called exactly once unless the opcode has no reply. The
   * promise settles when the answer is given, or, for a writer that sleeps on a busy device,
   * once it sleeps.
   */
  async handle(h: P.InHeader, b: Buffer, reply: Reply): Promise<void> {
    try {
      if (!NO_TREE.has(h.opcode)) this.cur = await this.tree();
      await this.dispatch(h, b, reply);
    } catch (e) {
      reply(errnoOf(e));
    }
  }

  private dispatch(h: P.InHeader, b: Buffer, reply: Reply): void | Promise<void> {
    const caller: Caller = { uid: h.uid, gid: h.gid, pid: h.pid };
    switch (h.opcode) {
      case P.OP.LOOKUP: {
        const p = this.child(h.nodeid, P.decodeNameArg(b));
        let a: P.Attr;
        try {
          a = this.attr(p);
        } catch (e) {
          this.trace({ pid: h.pid, op: 'lookup', path: this.vfs(p), result: codeOf(e) });
          throw e;
        }
        return reply(0, P.entryOut(this.idFor(p), a));
      }
      case P.OP.FORGET:
      case P.OP.BATCH_FORGET:
        return; // inode numbers stay: a path keeps its number for the life of the mount
      case P.OP.GETATTR:
        return reply(0, P.attrOut(this.attr(this.pathOf(h.nodeid))));
      case P.OP.SETATTR: {
        // kernfs lets root touch and truncate attributes; nothing about the attribute changes
        const p = this.pathOf(h.nodeid);
        const root = this.root();
        if (P.decodeSetattr(b).valid & P.FATTR.SIZE) vtruncate(root, this.vfs(p));
        return reply(0, P.attrOut(this.attr(p, root)));
      }
      case P.OP.READLINK: {
        const p = this.pathOf(h.nodeid);
        const n = this.node(p);
        if (n.node.kind !== 'link') return reply(errnoNumber('EINVAL'));
        const text = linkText(n.vpath, n.node.target);
        this.trace({ pid: h.pid, op: 'readlink', path: n.vpath, result: text });
        return reply(0, Buffer.from(text, 'utf8'));
      }
      case P.OP.OPEN:
        return this.open(h, P.decodeOpen(b).flags, reply);
      case P.OP.READ:
        return this.read(h, P.decodeRead(b), reply);
      case P.OP.WRITE:
        return this.write(h, P.decodeWrite(b), caller, reply);
      case P.OP.FLUSH:
      case P.OP.FSYNC:
      case P.OP.FSYNCDIR:
        return reply(0);
      case P.OP.RELEASE:
      case P.OP.RELEASEDIR:
        this.handles.delete(P.decodeRelease(b).fh);
        return reply(0);
      case P.OP.OPENDIR:
        return this.opendir(h, reply);
      case P.OP.READDIR: {
        const r = P.decodeRead(b);
        const hd = this.handles.get(r.fh);
        if (!hd?.list) return reply(errnoNumber('EBADF'));
        return reply(0, P.direntsOut(hd.list, Number(r.offset), r.size));
      }
      case P.OP.STATFS:
        return reply(0, P.statfsOut());
      case P.OP.CREATE:
      case P.OP.MKDIR:
      case P.OP.MKNOD:
      case P.OP.UNLINK:
      case P.OP.RMDIR:
      case P.OP.SYMLINK:
      case P.OP.RENAME:
      case P.OP.RENAME2:
      case P.OP.LINK:
        return this.namespaceOp(h, b);
      case P.OP.INTERRUPT: {
        this.waiting.get(P.decodeInterrupt(b))?.interrupt();
        return; // the interrupted request itself gets the reply
      }
      case P.OP.DESTROY:
        return reply(0);
      default:
        // xattrs, access, locks, ioctl, poll, lseek…: not implemented, as the kernel then remembers
        return reply(38 /* ENOSYS */);
    }
  }

  /**
   * Making or removing a name: sysfs (kernfs) has no such operations, so the answers are
   * the VFS's (EACCES for a new file, EPERM for the rest), taken from the sysfs layer.
   */
  private namespaceOp(h: P.InHeader, b: Buffer): never {
    const [op, nameAt] = NAMESPACE_OPS[h.opcode]!;
    const name = P.cName(b, nameAt);
    const at = this.vfs(this.child(h.nodeid, name));
    const root = this.root();
    try {
      switch (h.opcode) {
        case P.OP.CREATE: vcreate(root, at); break;
        case P.OP.MKDIR: vmkdir(root, at); break;
        case P.OP.MKNOD: throw new KernelError('EPERM', { path: at, op: 'mkdir' });
        case P.OP.UNLINK: vunlink(root, at); break;
        case P.OP.RMDIR: vrmdir(root, at); break;
        case P.OP.SYMLINK: vsymlink(root, P.cName(b, nameAt + Buffer.byteLength(name) + 1), at); break;
        case P.OP.LINK: vlink(root, this.vfs(this.pathOf(b.readBigUInt64LE(40))), at); break;
        default: {
          const newdir = b.readBigUInt64LE(40);
          const newName = P.cName(b, nameAt + Buffer.byteLength(name) + 1);
          vrename(root, at, this.vfs(this.child(newdir, newName)));
        }
      }
      // only a create of an existing name or a rename onto itself gets here; the kernel
      // never asks for those (it looked the name up first)
      throw new KernelError(h.opcode === P.OP.CREATE ? 'EEXIST' : 'EPERM', { path: at });
    } catch (e) {
      this.trace({ pid: h.pid, op, path: at, result: codeOf(e) });
      throw e;
    }
  }

  private open(h: P.InHeader, flags: number, reply: Reply): void {
    const p = this.pathOf(h.nodeid);
    const n = this.node(p);
    const acc = flags & O_ACCMODE;
    const wantWrite = acc === O_WRONLY || acc === O_RDWR;
    const wantRead = acc !== O_WRONLY;
    if (n.node.kind === 'dir') return reply(errnoNumber('EISDIR'));
    if (n.node.kind !== 'attr') return reply(errnoNumber('EACCES'));
    // kernfs "extra open permission check": no read without a show, no write without a store
    const refused = (wantRead && !readable(n.node)) || (wantWrite && (!(n.node.mode & 0o222) || !n.node.store));
    if (refused) {
      this.trace({ pid: h.pid, op: 'open', path: n.vpath, data: wantWrite ? (wantRead ? 'read-write' : 'write') : 'read', result: 'EACCES' });
      return reply(errnoNumber('EACCES'));
    }
    const fh = this.nextFh++;
    this.handles.set(fh, { path: p, write: wantWrite });
    return reply(0, P.openOut(fh, P.FOPEN_DIRECT_IO));
  }

  private read(h: P.InHeader, r: P.ReadIn, reply: Reply): void {
    const hd = this.handles.get(r.fh);
    if (!hd) return reply(errnoNumber('EBADF'));
    if (r.offset === 0n || !hd.content) {
      const n = this.node(hd.path);
      if (n.node.kind !== 'attr' || !readable(n.node)) return reply(errnoNumber('EACCES'));
      const text = n.node.show();
      hd.content = Buffer.from(text, 'utf8');
      if (r.offset === 0n) this.trace({ pid: h.pid, op: 'read', path: n.vpath, data: text, result: 'ok' });
    }
    const off = Number(r.offset);
    return reply(0, hd.content.subarray(Math.min(off, hd.content.length), Math.min(off + r.size, hd.content.length)));
  }

  private async write(h: P.InHeader, w: P.WriteIn, caller: Caller, reply: Reply): Promise<void> {
    const hd = this.handles.get(w.fh);
    if (!hd?.write) return reply(errnoNumber('EBADF'));
    const vpath = this.vfs(hd.path);
    const text = bytesToText(w.data);
    const done = (count: number, dmesg: string[]): void => {
      this.trace({ pid: h.pid, op: 'write', path: vpath, data: text, result: 'ok', dmesg });
      // the store counts characters; the writer counts bytes
      reply(0, P.writeOut(count >= text.length ? w.data.length : count));
    };
    try {
      const r = await this.backend.write(vpath, text);
      return done(r.count, r.dmesg);
    } catch (e) {
      if (e instanceof BlockedWrite) return this.block(h, vpath, text, caller, e, done, reply);
      this.trace({ pid: h.pid, op: 'write', path: vpath, data: text, result: codeOf(e), dmesg: e instanceof KernelError ? e.dmesg : [] });
      return reply(errnoOf(e));
    }
  }

  /**
   * vfio_unregister_group_dev: the writer sleeps until the device's last fd is closed. A
   * signal (FUSE_INTERRUPT) is logged once and the sleep goes on, uninterruptible, as in the
   * kernel; then the unbind is made again and answered.
   */
  private block(h: P.InHeader, vpath: string, text: string, caller: Caller, b: BlockedWrite, done: (n: number, d: string[]) => void, reply: Reply): void {
    this.trace({ pid: h.pid, op: 'wait', path: vpath, data: text, result: `sleeping: ${b.device} is open through VFIO` });
    let interrupted = false;
    let timer: NodeJS.Timeout | null = null;
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      this.waiting.delete(h.unique);
    };
    const poll = async (): Promise<void> => {
      timer = null;
      try {
        if (await this.backend.deviceOpen(b.device)) {
          timer = setTimeout(() => void poll(), this.opts.pollMs ?? 50);
          return;
        }
        const r = await this.backend.write(vpath, text);
        finish();
        done(r.count, r.dmesg);
      } catch (e) {
        if (e instanceof BlockedWrite) {
          timer = setTimeout(() => void poll(), this.opts.pollMs ?? 50);
          return;
        }
        finish();
        this.trace({ pid: h.pid, op: 'write', path: vpath, data: text, result: codeOf(e) });
        reply(errnoOf(e));
      }
    };
    this.waiting.set(h.unique, {
      interrupt: () => {
        if (interrupted) return;
        interrupted = true;
        const comm = this.opts.comm?.(caller.pid) ?? String(caller.pid);
        // the log line is lost if the state cannot be written; the wait goes on
        this.backend.logBlockedTask(b.device, comm, caller.pid).catch(() => undefined);
      },
      cancel: () => {
        if (timer) clearTimeout(timer);
        this.waiting.delete(h.unique);
      },
    });
    timer = setTimeout(() => void poll(), this.opts.pollMs ?? 50);
  }

  private opendir(h: P.InHeader, reply: Reply): void {
    const p = this.pathOf(h.nodeid);
    const n = this.node(p);
    if (n.node.kind !== 'dir') return reply(errnoNumber('ENOTDIR'));
    const dir = n.node;
    const names = dir.list().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const parent = p === '/' ? '/' : p.slice(0, p.lastIndexOf('/')) || '/';
    const list: P.Dirent[] = [
      { ino: this.idFor(p), name: '.', type: P.DT.DIR },
      { ino: this.idFor(parent), name: '..', type: P.DT.DIR },
    ];
    for (const name of names) {
      const c = dir.lookup(name);
      if (!c) continue;
      const cp = p === '/' ? `/${name}` : `${p}/${name}`;
      const type = c.kind === 'dir' ? P.DT.DIR : c.kind === 'link' ? P.DT.LNK : c.kind === 'chr' ? P.DT.CHR : P.DT.REG;
      list.push({ ino: this.idFor(cp), name, type });
    }
    this.trace({ pid: h.pid, op: 'list', path: n.vpath, result: `${names.length} entries` });
    const fh = this.nextFh++;
    this.handles.set(fh, { path: p, list, write: false });
    return reply(0, P.openOut(fh, 0));
  }

  /** the connection ended: stop every sleeping writer */
  close(): void {
    for (const w of [...this.waiting.values()]) w.cancel();
  }

  /** how many writers sleep on a busy device now */
  get sleeping(): number {
    return this.waiting.size;
  }
}
