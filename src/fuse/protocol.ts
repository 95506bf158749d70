/**
 * The FUSE wire protocol, the subset a sysfs stand-in needs (cf. include/uapi/linux/fuse.h,
 * Documentation/filesystems/fuse.rst). Requests are read from /dev/fuse as one header
 * (struct fuse_in_header) followed by the opcode's input structure; replies are one
 * struct fuse_out_header followed by the opcode's output structure. All little-endian
 * host order (this runs where the kernel runs).
 */

/** enum fuse_opcode (the ones this server answers or recognises) */
export const OP = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  READDIRPLUS: 44,
  RENAME2: 45,
} as const;

export const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(OP).map(([k, v]) => [v, k]));

/** The protocol version this server speaks: 7.31 (init_out of 64 bytes, fuse_attr with flags). */
export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR_VERSION = 31;

/** INIT flags */
export const FUSE_ATOMIC_O_TRUNC = 1 << 3;
/** OPEN reply flags */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_NONSEEKABLE = 1 << 2;

/** fuse_setattr_in.valid bits */
export const FATTR = { MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5, FH: 1 << 6 } as const;

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
/** sizeof(struct fuse_write_in) */
export const WRITE_IN_SIZE = 40;
/** kernfs takes at most a page per write(2); the kernel splits longer writes to match */
export const MAX_WRITE = 4096;
/**
 * The buffer one read(2) of /dev/fuse needs: header + write_in + max_write at least, and the
 * kernel refuses anything under FUSE_MIN_READ_BUFFER (8192) with EINVAL.
 */
export const READ_BUFFER_SIZE = 64 * 1024;

/** file type bits of st_mode */
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

/** d_type values of a dirent */
export const DT = { CHR: 2, DIR: 4, REG: 8, LNK: 10 } as const;

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
}

export function decodeHeader(b: Buffer): InHeader {
  return {
    len: b.readUInt32LE(0),
    opcode: b.readUInt32LE(4),
    unique: b.readBigUInt64LE(8),
    nodeid: b.readBigUInt64LE(16),
    uid: b.readUInt32LE(24),
    gid: b.readUInt32LE(28),
    pid: b.readUInt32LE(32),
  };
}

/** A NUL-terminated name at `off` (LOOKUP, CREATE, MKDIR, UNLINK … carry one). */
export function cName(b: Buffer, off: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 ? b.length : end);
}

export interface InitIn { major: number; minor: number; maxReadahead: number; flags: number }
export const decodeInit = (b: Buffer): InitIn => ({ major: b.readUInt32LE(40), minor: b.readUInt32LE(44), maxReadahead: b.readUInt32LE(48), flags: b.readUInt32LE(52) });

export interface OpenIn { flags: number }
export const decodeOpen = (b: Buffer): OpenIn => ({ flags: b.readUInt32LE(40) });

export interface ReadIn { fh: bigint; offset: bigint; size: number }
export const decodeRead = (b: Buffer): ReadIn => ({ fh: b.readBigUInt64LE(40), offset: b.readBigUInt64LE(48), size: b.readUInt32LE(56) });

export interface WriteIn { fh: bigint; offset: bigint; size: number; data: Buffer }
export function decodeWrite(b: Buffer): WriteIn {
  const size = b.readUInt32LE(56);
  return { fh: b.readBigUInt64LE(40), offset: b.readBigUInt64LE(48), size, data: b.subarray(40 + WRITE_IN_SIZE, 40 + WRITE_IN_SIZE + size) };
}

export interface ReleaseIn { fh: bigint }
export const decodeRelease = (b: Buffer): ReleaseIn => ({ fh: b.readBigUInt64LE(40) });

export interface SetattrIn { valid: number; size: bigint; mode: number }
export const decodeSetattr = (b: Buffer): SetattrIn => ({ valid: b.readUInt32LE(40), size: b.readBigUInt64LE(56), mode: b.readUInt32LE(108) });

export interface CreateIn { flags: number; mode: number; name: string }
export const decodeCreate = (b: Buffer): CreateIn => ({ flags: b.readUInt32LE(40), mode: b.readUInt32LE(44), name: cName(b, 56) });

export const decodeInterrupt = (b: Buffer): bigint => b.readBigUInt64LE(40);

/** The name argument of LOOKUP, UNLINK, RMDIR (right after the header). */
export const decodeNameArg = (b: Buffer): string => cName(b, 40);

// ---- replies ----

/** What a reply says about a file (struct fuse_attr, 88 bytes). */
export interface Attr {
  ino: bigint;
  size: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  /** seconds since the epoch for atime, mtime and ctime */
  time: number;
}

const ATTR_SIZE = 88;

function writeAttr(b: Buffer, off: number, a: Attr): void {
  b.writeBigUInt64LE(a.ino, off);
  b.writeBigUInt64LE(BigInt(a.size), off + 8);
  b.writeBigUInt64LE(0n, off + 16); // blocks: sysfs reports 0
  const t = BigInt(a.time);
  b.writeBigUInt64LE(t, off + 24);
  b.writeBigUInt64LE(t, off + 32);
  b.writeBigUInt64LE(t, off + 40);
  // atimensec, mtimensec, ctimensec stay 0
  b.writeUInt32LE(a.mode, off + 60);
  b.writeUInt32LE(a.nlink, off + 64);
  b.writeUInt32LE(a.uid, off + 68);
  b.writeUInt32LE(a.gid, off + 72);
  b.writeUInt32LE(a.rdev, off + 76);
  b.writeUInt32LE(4096, off + 80); // blksize
  b.writeUInt32LE(0, off + 84); // flags
}

/** struct fuse_entry_out, with entry and attribute validity 0 so every path walk asks again. */
export function entryOut(nodeid: bigint, a: Attr): Buffer {
  const b = Buffer.alloc(40 + ATTR_SIZE);
  b.writeBigUInt64LE(nodeid, 0);
  // generation, entry_valid, attr_valid and their nsec fields: all 0
  writeAttr(b, 40, a);
  return b;
}

/** struct fuse_attr_out */
export function attrOut(a: Attr): Buffer {
  const b = Buffer.alloc(16 + ATTR_SIZE);
  writeAttr(b, 16, a);
  return b;
}

/** struct fuse_open_out */
export function openOut(fh: bigint, openFlags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(fh, 0);
  b.writeUInt32LE(openFlags, 8);
  return b;
}

/** struct fuse_write_out */
export function writeOut(size: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(size, 0);
  return b;
}

/** struct fuse_init_out (64 bytes since 7.23) */
export function initOut(minor: number, maxReadahead: number, flags: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(FUSE_KERNEL_VERSION, 0);
  b.writeUInt32LE(minor, 4);
  b.writeUInt32LE(maxReadahead, 8);
  b.writeUInt32LE(flags, 12);
  b.writeUInt16LE(12, 16); // max_background
  b.writeUInt16LE(9, 18); // congestion_threshold
  b.writeUInt32LE(MAX_WRITE, 20);
  b.writeUInt32LE(1, 24); // time_gran
  b.writeUInt16LE(1, 28); // max_pages
  return b;
}

/** struct fuse_statfs_out: sysfs reports no blocks and no inodes, 4096-byte blocks, NAME_MAX 255. */
export function statfsOut(): Buffer {
  const b = Buffer.alloc(80);
  b.writeUInt32LE(4096, 40); // bsize
  b.writeUInt32LE(255, 44); // namelen
  b.writeUInt32LE(4096, 48); // frsize
  return b;
}

export interface Dirent {
  ino: bigint;
  name: string;
  type: number;
}

/**
 * READDIR reply: struct fuse_dirent records from index `from`, each padded to 8 bytes,
 * as many as fit in `size`; `off` of each is the index of the next one.
 */
export function direntsOut(list: readonly Dirent[], from: number, size: number): Buffer {
  const parts: Buffer[] = [];
  let used = 0;
  for (let i = from; i < list.length; i++) {
    const d = list[i]!;
    const name = Buffer.from(d.name, 'utf8');
    const len = (24 + name.length + 7) & ~7;
    if (used + len > size) break;
    const b = Buffer.alloc(len);
    b.writeBigUInt64LE(d.ino, 0);
    b.writeBigUInt64LE(BigInt(i + 1), 8);
    b.writeUInt32LE(name.length, 16);
    b.writeUInt32LE(d.type, 20);
    name.copy(b, 24);
    parts.push(b);
    used += len;
  }
  return Buffer.concat(parts);
}

/** One reply: header (len, -errno, unique) and body. */
export function reply(unique: bigint, error: number, body?: Buffer): Buffer {
  const len = OUT_HEADER_SIZE + (body?.length ?? 0);
  const b = Buffer.alloc(len);
  b.writeUInt32LE(len, 0);
  b.writeInt32LE(error === 0 ? 0 : -Math.abs(error), 4);
  b.writeBigUInt64LE(unique, 8);
  body?.copy(b, OUT_HEADER_SIZE);
  return b;
}

/** makedev as glibc encodes it for a 32-bit rdev (fuse_attr.rdev): minor low byte, major, minor high bits. */
export function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}
