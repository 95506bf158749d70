/**
 * pread/pwrite and mmap of the device fd, cf. vfio_platform_read/write (the region
 * index in bits 40 and up of the file offset, the READ/WRITE flag, the bounds check of
 * "vfio/platform: check the bounds of read/write syscalls", the count clamped to the
 * region's end, the access split into 4-, 2- and 1-byte MMIO operations by alignment)
 * and vfio_platform_mmap (MAP_SHARED, the MMAP flag, the protection against the region's
 * flags, at least a page, inside the region).
 */
import type { Machine, Device } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { regionInfo, REGION_FLAGS, VFIO_PLATFORM_OFFSET_SHIFT, PAGE_SIZE } from './info.js';
import { mmioRead, mmioWrite } from '../userspace/registers.js';
import { pollIrqs } from './irq.js';
import { syncActivity } from '../userspace/engine.js';
import type { Recorder } from './recorder.js';

const OFFSET_MASK = (1n << VFIO_PLATFORM_OFFSET_SHIFT) - 1n;
const hex = (n: bigint | number): string => '0x' + n.toString(16);

export interface Access {
  region: number;
  offset: bigint;
  width: 1 | 2 | 4 | 8;
  /** through an mmap of the region instead of pread/pwrite */
  mmap: boolean;
}

export interface AccessResult {
  /** the file offset (index << 40) + offset */
  pos: string;
  /** bytes done (a pread/pwrite near the end of a region is short) */
  bytes: number;
  /** the value read or written, little-endian over `bytes` */
  value: string;
  /** the MMIO operations the kernel made */
  ops: string[];
}

const einval = (call: string, why: string, path?: string): KernelError => new KernelError('EINVAL', { op: call === 'pwrite' || call === 'mmap' ? 'write' : 'read', path, message: `${call}: Invalid argument`, hint: why });

/** Split [off, off+count) into the accesses vfio_platform_{read,write}_mmio make. */
function split(off: bigint, count: number): [bigint, 1 | 2 | 4][] {
  const out: [bigint, 1 | 2 | 4][] = [];
  let o = off;
  let c = count;
  while (c > 0) {
    const w: 1 | 2 | 4 = c >= 4 && o % 4n === 0n ? 4 : c >= 2 && o % 2n === 0n ? 2 : 1;
    out.push([o, w]);
    o += BigInt(w);
    c -= w;
  }
  return out;
}

/** The region an offset names and the checks both calls make first. */
function target(dev: Device, a: Access, call: 'pread' | 'pwrite' | 'mmap'): { index: number; off: bigint; pos: bigint; size: bigint; flags: number } {
  const pos = (BigInt(a.region) << VFIO_PLATFORM_OFFSET_SHIFT) + a.offset;
  const index = Number(pos >> VFIO_PLATFORM_OFFSET_SHIFT);
  const off = pos & OFFSET_MASK;
  const regions = regionInfo(dev);
  const r = regions[index];
  if (!r) throw einval(call, `region index ${index} does not exist (num_regions ${regions.length}); the file offset ${hex(pos)} names index ${index}`);
  return { index, off, pos, size: BigInt(r.size), flags: r.flags };
}

/** pread(2) / a load through the mapping. */
export function regionRead(m: Machine, rec: Recorder, dev: Device, a: Access): AccessResult {
  if (a.mmap) return viaMmap(m, rec, dev, a, null);
  const t = target(dev, a, 'pread');
  return rec.run(`pread(device, buf, ${a.width}, ${hex(t.pos)})`, `region ${t.index} is at file offset ${t.index} << 40; the kernel splits the access by alignment`, () => {
    if (!(t.flags & REGION_FLAGS.READ)) throw einval('pread', `region ${t.index} has no READ flag`);
    if (t.off >= t.size) throw einval('pread', `offset ${hex(t.off)} is past the end of region ${t.index} (size ${hex(t.size)})`);
    const count = Number(t.size - t.off < BigInt(a.width) ? t.size - t.off : BigInt(a.width));
    let v = 0n;
    const ops: string[] = [];
    let shift = 0n;
    for (const [o, w] of split(t.off, count)) {
      const x = mmioRead(dev, t.index, Number(o), w);
      ops.push(`ioread${w * 8}(+${hex(o)}) = ${hex(x)}`);
      v |= BigInt(x) << shift;
      shift += BigInt(w * 8);
    }
    return { pos: hex(t.pos), bytes: count, value: hex(v), ops };
  });
}

/** pwrite(2) / a store through the mapping. */
export function regionWrite(m: Machine, rec: Recorder, dev: Device, a: Access, value: bigint, why?: string): AccessResult {
  if (a.mmap) return viaMmap(m, rec, dev, a, value);
  const t = target(dev, a, 'pwrite');
  return rec.run(`pwrite(device, &${hex(value)}, ${a.width}, ${hex(t.pos)})`, why ?? `region ${t.index} is at file offset ${t.index} << 40; the kernel splits the access by alignment`, () => {
    if (!(t.flags & REGION_FLAGS.WRITE)) throw einval('pwrite', `region ${t.index} has no WRITE flag (read-only)`);
    if (t.off >= t.size) throw einval('pwrite', `offset ${hex(t.off)} is past the end of region ${t.index} (size ${hex(t.size)})`);
    const count = Number(t.size - t.off < BigInt(a.width) ? t.size - t.off : BigInt(a.width));
    const ops: string[] = [];
    let shift = 0n;
    for (const [o, w] of split(t.off, count)) {
      const x = Number((value >> shift) & ((1n << BigInt(w * 8)) - 1n));
      mmioWrite(dev, t.index, Number(o), w, x);
      ops.push(`iowrite${w * 8}(${hex(x)}, +${hex(o)})`);
      shift += BigInt(w * 8);
    }
    after(m, dev);
    return { pos: hex(t.pos), bytes: count, value: hex(value & ((1n << BigInt(count * 8)) - 1n)), ops };
  });
}

/** A register store can start or stop the engine, clear a status bit (deasserting a line) or enable one. */
function after(m: Machine, dev: Device): void {
  syncActivity(m, dev);
  pollIrqs(m, dev);
}

function viaMmap(m: Machine, rec: Recorder, dev: Device, a: Access, value: bigint | null): AccessResult {
  const t = target(dev, a, 'mmap');
  const page = t.off & ~(PAGE_SIZE - 1n);
  const prot = value === null ? 'PROT_READ' : 'PROT_READ|PROT_WRITE';
  rec.run(`mmap(NULL, ${hex(PAGE_SIZE)}, ${prot}, MAP_SHARED, device, ${hex((BigInt(t.index) << VFIO_PLATFORM_OFFSET_SHIFT) + page)})`, 'map one page of the region: loads and stores then go straight to the device, no system call', () => {
    if (!(t.flags & REGION_FLAGS.MMAP)) throw einval('mmap', `region ${t.index} has no MMAP flag (its start or size is not a multiple of the page size)`);
    if (!(t.flags & REGION_FLAGS.READ)) throw einval('mmap', `PROT_READ on region ${t.index}, which has no READ flag`);
    if (value !== null && !(t.flags & REGION_FLAGS.WRITE)) throw einval('mmap', `PROT_WRITE on region ${t.index}, which has no WRITE flag`);
    if (t.size < PAGE_SIZE || page + PAGE_SIZE > t.size) throw einval('mmap', `the page at ${hex(page)} is not inside region ${t.index} (size ${hex(t.size)})`);
  });
  if (t.off % BigInt(a.width) !== 0n) {
    throw new KernelError('EFAULT', { op: value === null ? 'read' : 'write', message: `SIGBUS: a ${a.width}-byte access at ${hex(t.off)} is not aligned (device memory faults on unaligned accesses)` });
  }
  const words: [bigint, 1 | 2 | 4][] = a.width === 8 ? [[t.off, 4], [t.off + 4n, 4]] : [[t.off, a.width]];
  const ops: string[] = [];
  let v = 0n;
  let shift = 0n;
  for (const [o, w] of words) {
    if (value === null) {
      const x = mmioRead(dev, t.index, Number(o), w);
      v |= BigInt(x) << shift;
      ops.push(`load${w * 8}(map + ${hex(o - page)}) = ${hex(x)}`);
    } else {
      const x = Number((value >> shift) & ((1n << BigInt(w * 8)) - 1n));
      mmioWrite(dev, t.index, Number(o), w, x);
      ops.push(`store${w * 8}(map + ${hex(o - page)}, ${hex(x)})`);
    }
    shift += BigInt(w * 8);
  }
  for (const op of ops) rec.record(op, value === null ? 'a load from the mapping: no system call' : 'a store to the mapping: no system call', 'ok');
  if (value !== null) after(m, dev);
  return { pos: hex(t.pos), bytes: a.width, value: hex(value ?? v), ops };
}
