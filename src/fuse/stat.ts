/**
 * lstat(2) of a tree node as sysfs reports it (cf. fs/kernfs/inode.c kernfs_refresh_inode,
 * fs/sysfs/file.c): attributes are 4096-byte regular files with their kernfs mode,
 * directories 0755 with size 0, links 0777 with the length of their (relative) target,
 * all owned by root.
 */
import { linkText, PAGE_SIZE, type VNode } from '../sysfs/vfs.js';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, makedev, type Attr } from './protocol.js';

export function nodeAttr(node: VNode, vpath: string, ino: bigint, time: number): Attr {
  const base = { ino, uid: 0, gid: 0, rdev: 0, time };
  switch (node.kind) {
    case 'dir':
      return { ...base, mode: S_IFDIR | 0o755, size: 0, nlink: 2 };
    case 'link':
      return { ...base, mode: S_IFLNK | 0o777, size: Buffer.byteLength(linkText(vpath, node.target)), nlink: 1 };
    case 'chr': {
      const [maj, min] = node.rdev.split(':').map(Number);
      return { ...base, mode: S_IFCHR | node.mode, size: 0, nlink: 1, rdev: makedev(maj ?? 0, min ?? 0) };
    }
    default:
      return { ...base, mode: S_IFREG | node.mode, size: PAGE_SIZE, nlink: 1 };
  }
}
