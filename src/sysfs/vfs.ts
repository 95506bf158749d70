/**
 * A path walk over a generated tree of directories, attributes and symbolic links,
 * with the errno a real path walk gives (cf. fs/namei.c, fs/kernfs, fs/sysfs).
 */
import { posix } from 'node:path';
import { KernelError } from '../base/errors.js';

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
  if (r.node.kind === 'chr') throw new KernelError('EINVAL', { path, op: 'read', hint: 'a VFIO group is used through ioctl(2), not read(2): see vfioctl open' });
  if (r.node.kind !== 'attr') throw new KernelError('ENOENT', { path, op: 'read' });
  // sysfs refuses opening for read without a read bit or show method (kernfs open permission check)
  if (!readable(r.node)) throw new KernelError('EACCES', { path, op: 'open', hint: 'this attribute is write-only' });
  return r.node.show();
}

/** write(2) of `buf` (a byte string) to an attribute, as `echo` would do it. Returns the count. */
export function vwrite(root: VDir, path: string, buf: string, missingHint?: (path: string) => string | undefined): number {
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
    r = resolve(root, path, true, 'write');
  } catch (e) {
    if (e instanceof KernelError && e.code === 'ENOENT') {
      const hint = missingHint?.(path) ?? 'sysfs files cannot be created; check the path with: vfioctl sysfs ls ' + parentOf(path);
      throw new KernelError('ENOENT', { path, op: 'open', hint });
    }
    throw e;
  }
  if (r.node.kind === 'dir') throw new KernelError('EISDIR', { path, op: 'open' });
  if (r.node.kind === 'chr') throw new KernelError('EINVAL', { path, op: 'write', hint: 'a VFIO group is used through ioctl(2): see vfioctl open' });
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
