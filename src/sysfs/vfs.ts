/**
 * A path walk over a generated tree of directories, attributes and symbolic links,
 * with the errno a real path walk gives (cf. fs/namei.c, fs/kernfs, fs/sysfs).
 */
import { posix } from 'node:path';
import { KernelError, type Reason } from '../base/errors.js';

export const PAGE_SIZE = 4096;
const PATH_MAX = 4096;
const NAME_MAX = 255;
const MAXSYMLINKS = 40;

export interface VDir {
  kind: 'dir';
  /** entry names (unsorted) */
  list(): string[];
  lookup(name: string): VNode | undefined;
}

export interface VAttr {
  kind: 'attr';
  mode: number;
  show?: () => string;
  /** returns the byte count consumed; throws KernelError */
  store?: (buf: string) => number;
}

export interface VLink {
  kind: 'link';
  target: string;
}

export interface VChr {
  kind: 'chr';
  mode: number;
  rdev: string;
}

export type VNode = VDir | VAttr | VLink | VChr;

export interface Resolved {
  node: VNode;
  /** the physical path after following links */
  path: string;
}

export function checkPathSyntax(path: string): void {
  if (path.includes('\0')) throw new KernelError('EINVAL', { path: path.replace(/\0/g, '\\0'), op: 'open', message: 'path contains a NUL byte', hint: 'a file name cannot contain NUL' });
  if (path.length >= PATH_MAX) throw new KernelError('ENAMETOOLONG', { path: path.slice(0, 80) + '…', op: 'open' });
  if (!path.startsWith('/')) throw new KernelError('ENOENT', { path, op: 'open', hint: 'use an absolute path such as /sys/bus/platform/devices' });
  for (const c of path.split('/')) if (Buffer.byteLength(c) > NAME_MAX) throw new KernelError('ENAMETOOLONG', { path: path.slice(0, 80) + '…', op: 'open' });
}

/** A name a directory entry can have: not empty, '.' or '..', no '/' or NUL, at most NAME_MAX bytes. */
export function isFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && Buffer.byteLength(name) <= NAME_MAX;
}

/** Whether read(2) of the attribute works: kernfs refuses an open for reading without a read bit or a show method. */
export function readable(a: VAttr): a is VAttr & { show: () => string } {
  return (a.mode & 0o444) !== 0 && a.show !== undefined;
}

/** Walk `path` from `root`. Intermediate links are always followed; the last one only if `follow`. */
export function resolve(root: VDir, path: string, follow: boolean, op: KernelError['op'] = 'open'): Resolved {
  checkPathSyntax(path);
  let budget = MAXSYMLINKS;
  const nodeAt = (names: readonly string[]): VNode => {
    let n: VNode = root;
    for (const part of names) {
      if (n.kind !== 'dir') throw new KernelError('ENOTDIR', { path, op });
      const nx: VNode | undefined = n.lookup(part);
      if (!nx) throw new KernelError('ENOENT', { path, op });
      n = nx;
    }
    return n;
  };
  const walk = (p: string, followLast: boolean): string[] => {
    let names: string[] = [];
    let cur: VNode = root;
    const comps = p.split('/').filter((c) => c !== '');
    for (let i = 0; i < comps.length; i++) {
      const c = comps[i]!;
      const last = i === comps.length - 1;
      // every component, '.' and '..' included, is looked up in a directory: `file/.`, `file/..` are ENOTDIR
      if (cur.kind !== 'dir') throw new KernelError('ENOTDIR', { path, op });
      if (c === '.') continue;
      if (c === '..') {
        // '..' leaves the physical directory, as the kernel's path walk does after a link
        names = names.slice(0, -1);
        cur = nodeAt(names);
        continue;
      }
      const next: VNode | undefined = cur.lookup(c);
      if (!next) throw new KernelError('ENOENT', { path, op });
      if (next.kind === 'link' && (!last || followLast)) {
        if (--budget < 0) throw new KernelError('ELOOP', { path, op });
        names = walk(next.target, true);
        cur = nodeAt(names);
        continue;
      }
      names = [...names, c];
      cur = next;
    }
    return names;
  };
  // A trailing slash (or a final '.' or '..') asks for a directory: a final link is followed
  // and anything else than a directory is ENOTDIR (fs/namei.c LOOKUP_DIRECTORY).
  const wantDir = /\/\.{0,2}$/.test(path) && path !== '/';
  const names = walk(path, follow || wantDir);
  const node = nodeAt(names);
  if (wantDir && node.kind !== 'dir') throw new KernelError('ENOTDIR', { path, op });
  return { node, path: '/' + names.join('/') };
}

/** read(2) of a whole attribute. */
export function vread(root: VDir, path: string): string {
  const r = resolve(root, path, true, 'read');
  if (r.node.kind === 'dir') throw new KernelError('EISDIR', { path, op: 'read' });
  if (r.node.kind === 'chr') throw new KernelError('EINVAL', { path, op: 'read', hint: 'a VFIO group is used through ioctl(2), not read(2)', reason: { kind: 'vfio-chr-io', op: 'read' } });
  if (r.node.kind !== 'attr') throw new KernelError('ENOENT', { path, op: 'read' });
  // sysfs refuses opening for read without a read bit or show method (kernfs open permission check)
  if (!readable(r.node)) throw new KernelError('EACCES', { path, op: 'open', hint: 'this attribute is write-only' });
  return r.node.show();
}

/** write(2) of `buf` (a byte string) to an attribute, as `echo` would do it. Returns the count. */
export function vwrite(root: VDir, path: string, buf: string, missingReason?: (path: string) => Reason | undefined): number {
  // the shell opens with O_CREAT, and open_last_lookups refuses a trailing slash on a name to
  // create with EISDIR before looking the name up (once the directories above it resolve)
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed !== path && trimmed !== '' && !/(^|\/)\.{1,2}$/.test(trimmed)) {
    checkPathSyntax(path);
    const up = resolve(root, parentOf(trimmed), true, 'open');
    if (up.node.kind !== 'dir') throw new KernelError('ENOTDIR', { path, op: 'open' });
    throw new KernelError('EISDIR', { path, op: 'open', hint: 'a trailing slash names a directory; write the attribute without it' });
  }
  let r: Resolved;
  try {
    r = vcreate(root, path);
  } catch (e) {
    if (e instanceof KernelError && (e.code === 'ENOENT' || e.code === 'EACCES')) {
      const reason = missingReason?.(path);
      throw new KernelError(e.code, { path, op: 'open', hint: e.hint, reason: reason ?? { kind: e.code === 'EACCES' ? 'sysfs-create' : 'sysfs-no-such-file', path, parent: parentOf(path) } });
    }
    throw e;
  }
  if (r.node.kind === 'dir') throw new KernelError('EISDIR', { path, op: 'open' });
  if (r.node.kind === 'chr') throw new KernelError('EINVAL', { path, op: 'write', hint: 'a VFIO group is used through ioctl(2)', reason: { kind: 'vfio-chr-io', op: 'write' } });
  if (r.node.kind !== 'attr') throw new KernelError('ENOENT', { path, op: 'open' });
  if (!(r.node.mode & 0o222) || !r.node.store) throw new KernelError('EACCES', { path, op: 'open', hint: 'this attribute is read-only' });
  if (buf.length === 0) return 0; // kernfs: a zero-length write never reaches the store method
  const data = buf.length > PAGE_SIZE ? buf.slice(0, PAGE_SIZE) : buf;
  try {
    return r.node.store(data);
  } catch (e) {
    if (e instanceof KernelError && e.path === undefined) {
      throw new KernelError(e.code, { path, op: 'write', message: e.message, hint: e.hint, reason: e.reason });
    }
    throw e;
  }
}

export interface VEntry {
  name: string;
  type: 'd' | 'l' | '-' | 'c';
  mode: number;
  target?: string;
}

/** readdir(3) plus lstat(2) of each entry, sorted like ls. */
export function vlist(root: VDir, path: string): VEntry[] {
  const r = resolve(root, path, true, 'open');
  if (r.node.kind !== 'dir') {
    const base = path.slice(path.lastIndexOf('/') + 1);
    return [entry(base, r.node, r.path)];
  }
  const dir = r.node;
  return dir
    .list()
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => entry(n, dir.lookup(n)!, `${r.path === '/' ? '' : r.path}/${n}`));
}

/** `at`: the entry's own path (links show their target relative to its directory, as ls -l does) */
function entry(name: string, n: VNode, at: string): VEntry {
  switch (n.kind) {
    case 'dir': return { name, type: 'd', mode: 0o755 };
    case 'link': return { name, type: 'l', mode: 0o777, target: linkText(at, n.target) };
    case 'chr': return { name, type: 'c', mode: n.mode };
    default: return { name, type: '-', mode: n.mode };
  }
}

function parentOf(p: string): string {
  const i = p.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

// ---- small builders ----

/**
 * A directory's entry table with no prototype: entry names come from device, driver and
 * module names, and `e[name] = …` with a name like `__proto__` would otherwise set the
 * object's prototype instead of adding an entry.
 */
export function entries<T>(init: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, init);
}

/** A directory whose entries are found one by one, for directories with thousands of them. */
export function lazyDir(list: () => string[], lookup: (name: string) => VNode | undefined): VDir {
  return { kind: 'dir', list, lookup };
}

export function dir(entries: () => Record<string, VNode | (() => VNode)>): VDir {
  let cache: Record<string, VNode | (() => VNode)> | null = null;
  const get = (): Record<string, VNode | (() => VNode)> => (cache ??= entries());
  return {
    kind: 'dir',
    list: () => Object.keys(get()),
    lookup: (name) => {
      const e = get();
      if (!Object.prototype.hasOwnProperty.call(e, name)) return undefined;
      const v = e[name]!;
      return typeof v === 'function' ? v() : v;
    },
  };
}

export function ro(show: () => string, mode = 0o444): VAttr {
  return { kind: 'attr', mode, show };
}
export function wo(store: (buf: string) => number, mode = 0o200): VAttr {
  return { kind: 'attr', mode, store };
}
export function rw(show: () => string, store: (buf: string) => number, mode = 0o644): VAttr {
  return { kind: 'attr', mode, show, store };
}
export function link(target: string): VLink {
  return { kind: 'link', target };
}

/**
 * What readlink(2) and `ls -l` show for a link: sysfs makes its links relative to the
 * directory they are in (`../../../bus/platform/drivers/vfio-platform`); the tree keeps
 * absolute targets, which this turns into the kernel's form.
 */
export function linkText(linkPath: string, target: string): string {
  return posix.relative(posix.dirname(linkPath), target);
}

// ---- the file system around the attributes (issue 11.8) ----
//
// sysfs is kernfs: its directories have no create, mkdir, unlink, link or symlink
// operations, and its rename refuses (sysfs registers no syscall ops), so the VFS
// answers: open(O_CREAT) of a new name → EACCES (fs/namei.c lookup_open), mkdir, rmdir,
// unlink, link, symlink, rename → EPERM (vfs_mkdir & co. when the inode op is missing).
// What exists can be stat'ed, opened, truncated (kernfs_iop_setattr ignores the size)
// and touched (utimensat). cf. fs/kernfs/{dir,inode}.c, fs/sysfs/file.c.

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export interface VStat {
  kind: 'dir' | 'file' | 'link' | 'chr';
  /** st_mode: the S_IF* type bits and the kernfs permission bits */
  mode: number;
  /** st_size: PAGE_SIZE for every attribute (sysfs_add_file_mode_ns), 0 for directories and links */
  size: number;
  /** st_nlink: 2 + subdirectories for a directory (kernfs_refresh_inode), else 1 */
  nlink: number;
  /** st_rdev "major:minor" of a character device */
  rdev?: string;
  /** readlink(2) text of a link (relative, as sysfs makes them) */
  target?: string;
}

/** stat(2) (`follow`) or lstat(2) of `path`. */
export function vstat(root: VDir, path: string, follow: boolean): VStat {
  const r = resolve(root, path, follow, 'stat');
  return statNode(r.node, r.path);
}

function statNode(n: VNode, at: string): VStat {
  switch (n.kind) {
    case 'dir': {
      let subdirs = 0;
      for (const name of n.list()) if (n.lookup(name)?.kind === 'dir') subdirs++;
      return { kind: 'dir', mode: S_IFDIR | 0o755, size: 0, nlink: 2 + subdirs };
    }
    case 'link':
      return { kind: 'link', mode: S_IFLNK | 0o777, size: 0, nlink: 1, target: linkText(at, n.target) };
    case 'chr':
      return { kind: 'chr', mode: S_IFCHR | n.mode, size: 0, nlink: 1, rdev: n.rdev };
    default:
      return { kind: 'file', mode: S_IFREG | n.mode, size: PAGE_SIZE, nlink: 1 };
  }
}

/** Split `path` into its directory (resolved, must be a directory) and last name. */
function parentAndName(root: VDir, path: string, op: KernelError['op']): { dir: VDir; dirPath: string; name: string } {
  checkPathSyntax(path);
  const trimmed = path.replace(/\/+$/, '');
  const i = trimmed.lastIndexOf('/');
  const name = trimmed.slice(i + 1);
  const up = resolve(root, i <= 0 ? '/' : trimmed.slice(0, i), true, op);
  if (up.node.kind !== 'dir') throw new KernelError('ENOTDIR', { path, op });
  return { dir: up.node, dirPath: up.path, name };
}

/**
 * open(2) with O_CREAT, as `>` and `touch` do: an existing entry is opened (links
 * followed); a new name in an existing directory → EACCES (kernfs directories have no
 * create); a missing directory → ENOENT.
 */
export function vcreate(root: VDir, path: string): Resolved {
  const { dir, name } = parentAndName(root, path, 'open');
  if (name === '' || name === '.' || name === '..' || dir.lookup(name) !== undefined) {
    const r = resolve(root, path, true, 'open');
    if (/\/$/.test(path) && r.node.kind !== 'dir') throw new KernelError('ENOTDIR', { path, op: 'open' });
    return r;
  }
  if (/\/$/.test(path)) throw new KernelError('EISDIR', { path, op: 'open' });
  throw new KernelError('EACCES', { path, op: 'open', hint: 'sysfs files cannot be created: only the kernel adds them' });
}

/** utimensat(2) as `touch` does it: succeeds on anything that exists; a new name is created (→ EACCES). */
export function vtouch(root: VDir, path: string): void {
  vcreate(root, path);
}

/** truncate(2) / open(O_TRUNC): kernfs accepts a size change on an attribute and ignores it. */
export function vtruncate(root: VDir, path: string): void {
  const r = resolve(root, path, true, 'open');
  if (r.node.kind === 'dir') throw new KernelError('EISDIR', { path, op: 'open' });
}

const NOT_PERMITTED = 'sysfs entries are made and removed by the kernel only';

/** mkdir(2): EEXIST if the name exists, else EPERM. */
export function vmkdir(root: VDir, path: string): never {
  const { dir, name } = parentAndName(root, path, 'mkdir');
  if (name === '' || name === '.' || name === '..' || dir.lookup(name) !== undefined) throw new KernelError('EEXIST', { path, op: 'mkdir' });
  throw new KernelError('EPERM', { path, op: 'mkdir', hint: NOT_PERMITTED });
}

/** rmdir(2): ENOENT, ENOTDIR for a non-directory (or a link), EINVAL for a final '.', else EPERM. */
export function vrmdir(root: VDir, path: string): never {
  const { dir, name } = parentAndName(root, path, 'rmdir');
  if (name === '.') throw new KernelError('EINVAL', { path, op: 'rmdir' });
  if (name === '..') throw new KernelError('ENOTEMPTY', { path, op: 'rmdir' });
  if (name === '') throw new KernelError('EBUSY', { path, op: 'rmdir' });
  const n = dir.lookup(name);
  if (!n) throw new KernelError('ENOENT', { path, op: 'rmdir' });
  if (n.kind !== 'dir') throw new KernelError('ENOTDIR', { path, op: 'rmdir' });
  throw new KernelError('EPERM', { path, op: 'rmdir', hint: NOT_PERMITTED });
}

/** unlink(2): ENOENT, EISDIR for a directory, ENOTDIR for `file/`, else EPERM. */
export function vunlink(root: VDir, path: string): never {
  if (/\/$/.test(path)) {
    const r = resolve(root, path.replace(/\/+$/, '') || '/', true, 'unlink');
    throw new KernelError(r.node.kind === 'dir' ? 'EISDIR' : 'ENOTDIR', { path, op: 'unlink' });
  }
  const { dir, name } = parentAndName(root, path, 'unlink');
  const n = name === '.' || name === '..' ? dir : dir.lookup(name);
  if (!n) throw new KernelError('ENOENT', { path, op: 'unlink' });
  if (n.kind === 'dir') throw new KernelError('EISDIR', { path, op: 'unlink' });
  throw new KernelError('EPERM', { path, op: 'unlink', hint: NOT_PERMITTED });
}

/** symlink(2) TARGET LINKPATH: EEXIST if LINKPATH exists, else EPERM (the target is not looked at). */
export function vsymlink(root: VDir, target: string, linkPath: string): never {
  if (target === '') throw new KernelError('ENOENT', { path: linkPath, op: 'symlink' });
  const { dir, name } = parentAndName(root, linkPath, 'symlink');
  if (name === '' || name === '.' || name === '..' || dir.lookup(name) !== undefined) throw new KernelError('EEXIST', { path: linkPath, op: 'symlink' });
  throw new KernelError('EPERM', { path: linkPath, op: 'symlink', hint: NOT_PERMITTED });
}

/** link(2) OLD NEW: ENOENT if OLD is missing, EEXIST if NEW exists, else EPERM. */
export function vlink(root: VDir, oldPath: string, newPath: string): never {
  resolve(root, oldPath, false, 'link');
  const { dir, name } = parentAndName(root, newPath, 'link');
  if (name === '' || name === '.' || name === '..' || dir.lookup(name) !== undefined) throw new KernelError('EEXIST', { path: newPath, op: 'link' });
  throw new KernelError('EPERM', { path: newPath, op: 'link', hint: NOT_PERMITTED });
}

/** rename(2) OLD NEW: ENOENT if OLD (or NEW's directory) is missing; renaming an entry to itself succeeds; else EPERM. */
export function vrename(root: VDir, oldPath: string, newPath: string): void {
  const from = parentAndName(root, oldPath, 'rename');
  if (from.name === '' || from.name === '.' || from.name === '..') throw new KernelError('EBUSY', { path: oldPath, op: 'rename' });
  if (!from.dir.lookup(from.name)) throw new KernelError('ENOENT', { path: oldPath, op: 'rename' });
  const to = parentAndName(root, newPath, 'rename');
  if (to.dirPath === from.dirPath && to.name === from.name) return;
  throw new KernelError('EPERM', { path: oldPath, op: 'rename', hint: NOT_PERMITTED });
}

/**
 * open(2) as kernfs checks it: O_CREAT of a new name → EACCES (see vcreate); a directory
 * opened for writing → EISDIR; an attribute opened for reading without a read bit or show
 * method, or for writing without a write bit or store method → EACCES (sysfs's "extra
 * open permission check", even for root). Links are followed. Returns what was opened.
 */
export function vopen(root: VDir, path: string, access: 'r' | 'w' | 'rw', opts: { create?: boolean } = {}): Resolved {
  const r = opts.create ? vcreate(root, path) : resolve(root, path, true, 'open');
  const wantRead = access !== 'w';
  const wantWrite = access !== 'r';
  if (r.node.kind === 'dir') {
    if (wantWrite) throw new KernelError('EISDIR', { path, op: 'open' });
    return r;
  }
  if (r.node.kind === 'attr') {
    if (wantRead && !readable(r.node)) throw new KernelError('EACCES', { path, op: 'open', hint: 'this attribute is write-only' });
    if (wantWrite && (!(r.node.mode & 0o222) || !r.node.store)) throw new KernelError('EACCES', { path, op: 'open', hint: 'this attribute is read-only' });
  }
  return r;
}

/** readlink(2): the link's text (relative, as sysfs makes it); EINVAL for anything that is not a link. */
export function vreadlink(root: VDir, path: string): string {
  const r = resolve(root, path, false, 'read');
  if (r.node.kind !== 'link') throw new KernelError('EINVAL', { path, op: 'read' });
  return linkText(r.path, r.node.target);
}
