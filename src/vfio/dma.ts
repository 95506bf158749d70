/**
 * DMA mappings of a container, cf. drivers/vfio/vfio_iommu_type1.c (vfio_dma_do_map,
 * vfio_dma_do_unmap, VFIO_IOMMU_GET_INFO) and the IOMMU's view of a device's DMA: an
 * IOVA that a mapping of the group's container covers reaches that process's memory; any
 * other IOVA is a translation fault, which arm-smmu reports as an unhandled context fault.
 *
 * Memory is sparse and bounded: only what devices wrote, in 16-byte records, at most
 * MAX_MEMORY_CHUNKS per owner (64 KiB); a mapping that goes takes its memory with it.
 */
import type { Machine, Device, Owner, OwnerDma, DmaMapping } from '../base/machine.js';
import { findGroup } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { printk, KERN_ERR } from '../klog/klog.js';
import type { Recorder } from './recorder.js';

export const DMA_MAP_FLAG = { READ: 0x1, WRITE: 0x2, EXEC: 0x4 } as const;
/** SZ_4K | SZ_2M | SZ_1G: the page sizes of an LPAE stage-1 table with a 4 KiB granule */
export const IOVA_PGSIZES = 0x40201000n;
export const PGSIZE = 0x1000n;
/** the IOMMU's input address space (48 bits) */
export const IOVA_LIMIT = 1n << 48n;
/** the software MSI window every arm-smmu group reserves (MSI_IOVA_BASE, MSI_IOVA_LENGTH) */
export const MSI_WINDOW = { start: 0x8000000n, end: 0x80fffffn };
/** vfioctl's dma_entry_limit (the kernel's default is 65535): mappings per container */
export const MAX_MAPPINGS = 256;
export const MAX_MEMORY_CHUNKS = 4096;
export const CHUNK = 16;

const hex = (n: bigint): string => '0x' + n.toString(16);
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const fromHex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));

export function ownerDma(owner: Owner): OwnerDma {
  return (owner.dma ??= { mappings: [], memory: {} });
}

export function flagNames(flags: number): string {
  return Object.entries(DMA_MAP_FLAG).filter(([, v]) => (flags & v) !== 0).map(([k]) => k).join('|') || '0';
}

const einval = (call: string, why: string): KernelError => new KernelError('EINVAL', { op: 'ioctl', message: `${call}: Invalid argument`, hint: why });

/** VFIO_IOMMU_GET_INFO: flags PGSIZES, the page-size bitmap. */
export function iommuGetInfo(rec: Recorder): { flags: number; iovaPgsizes: string } {
  rec.record(`ioctl(container, VFIO_IOMMU_GET_INFO) → flags=0x1 (PGSIZES) iova_pgsizes=${hex(IOVA_PGSIZES)}`, 'the smallest page size (4 KiB) is the alignment every mapping needs', 'ok');
  return { flags: 1, iovaPgsizes: hex(IOVA_PGSIZES) };
}

/** VFIO_IOMMU_MAP_DMA, in vfio_dma_do_map's order of checks. */
export function mapDma(_m: Machine, rec: Recorder, owner: Owner, iova: bigint, size: bigint, flags: number, opts: { exec: boolean }): DmaMapping {
  const call = 'VFIO_IOMMU_MAP_DMA';
  const known = DMA_MAP_FLAG.READ | DMA_MAP_FLAG.WRITE | (opts.exec ? DMA_MAP_FLAG.EXEC : 0);
  return rec.run(`ioctl(container, ${call}, {argsz=32, flags=${flagNames(flags)}, iova=${hex(iova)}, size=${hex(size)}})`, opts.exec && flags & DMA_MAP_FLAG.EXEC ? 'WHAT-IF (never merged): the 2014 RFC\'s VFIO_DMA_MAP_FLAG_EXEC, IOMMU_EXEC on the mapping' : 'map process memory at an IOVA: the device can reach exactly these pages', () => {
    if (flags & ~known) throw einval(call, `unknown flag bits 0x${(flags & ~known).toString(16)}`);
    if ((flags & (DMA_MAP_FLAG.READ | DMA_MAP_FLAG.WRITE)) === 0) throw einval(call, 'no READ or WRITE flag: a mapping without protection is refused');
    if (size === 0n) throw einval(call, 'size 0');
    if ((size | iova) & (PGSIZE - 1n)) throw einval(call, `iova and size must be multiples of the smallest IOMMU page size, ${hex(PGSIZE)}`);
    if (iova + size - 1n < iova || iova + size > 1n << 64n) throw einval(call, 'the IOVA range wraps');
    const dma = ownerDma(owner);
    const end = iova + size;
    const clash = dma.mappings.find((x) => BigInt(x.iova) < end && iova < BigInt(x.iova) + BigInt(x.size));
    if (clash) {
      throw new KernelError('EEXIST', { op: 'ioctl', message: `${call}: File exists`, hint: `overlaps the mapping at ${clash.iova} (size ${clash.size}); unmap it first` });
    }
    if (dma.mappings.length >= MAX_MAPPINGS) throw new KernelError('ENOSPC', { op: 'ioctl', message: `${call}: No space left on device`, hint: `the container has ${MAX_MAPPINGS} mappings (vfioctl's dma_entry_limit)` });
    if (end > IOVA_LIMIT || (iova <= MSI_WINDOW.end && MSI_WINDOW.start < end)) {
      throw einval(call, `outside the group's usable IOVA ranges: the IOMMU takes 48-bit IOVAs and reserves ${hex(MSI_WINDOW.start)}-${hex(MSI_WINDOW.end)} for MSIs (reserved_regions)`);
    }
    const mapping: DmaMapping = { iova: hex(iova), size: hex(size), flags };
    dma.mappings.push(mapping);
    dma.mappings.sort((a, b) => (BigInt(a.iova) < BigInt(b.iova) ? -1 : 1));
    return mapping;
  });
}

/** VFIO_IOMMU_UNMAP_DMA as type1 (v1) does it: whole mappings that start inside the range. Returns the bytes unmapped. */
export function unmapDma(_m: Machine, rec: Recorder, owner: Owner, iova: bigint, size: bigint): bigint {
  const call = 'VFIO_IOMMU_UNMAP_DMA';
  return rec.run(`ioctl(container, ${call}, {argsz=24, flags=0, iova=${hex(iova)}, size=${hex(size)}})`, 'take the pages away from the device: DMA to them faults from now on', () => {
    if (iova & (PGSIZE - 1n)) throw einval(call, `iova must be a multiple of ${hex(PGSIZE)}`);
    if (size === 0n || size & (PGSIZE - 1n)) throw einval(call, `size must be a non-zero multiple of ${hex(PGSIZE)}`);
    if (iova + size - 1n < iova) throw einval(call, 'the IOVA range wraps');
    const dma = ownerDma(owner);
    let unmapped = 0n;
    const end = iova + size;
    for (const x of [...dma.mappings]) {
      const xs = BigInt(x.iova);
      const xe = xs + BigInt(x.size);
      if (xe <= iova) continue;
      if (xs >= end) break;
      if (iova > xs) break; // type1 v1: a range that starts inside a mapping stops there
      unmapped += BigInt(x.size);
      dma.mappings.splice(dma.mappings.indexOf(x), 1);
      for (const k of Object.keys(dma.memory)) {
        const a = BigInt(k);
        if (a >= xs && a < xe) delete dma.memory[k];
      }
    }
    return unmapped;
  });
}

/** The process that owns DMA for the device's group now (its container is attached). */
function dmaOwner(m: Machine, dev: Device): Owner | undefined {
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  return g?.owner ? m.owners.find((o) => o.alive && o.name === g.owner) : undefined;
}

/**
 * The device writes `bytes` at `iova`: through a mapping with WRITE of the group's
 * container into that process's memory, or an IOMMU fault. Returns whether it landed.
 */
export function deviceDmaWrite(m: Machine, dev: Device, iova: bigint, bytes: Uint8Array): boolean {
  const owner = dmaOwner(m, dev);
  const map = owner?.dma?.mappings.find((x) => BigInt(x.iova) <= iova && iova + BigInt(bytes.length) <= BigInt(x.iova) + BigInt(x.size));
  if (!owner || !map || !(map.flags & DMA_MAP_FLAG.WRITE)) {
    iommuFault(m, dev, iova);
    return false;
  }
  const mem = owner.dma!.memory;
  for (let off = 0; off < bytes.length; off += CHUNK) {
    const k = hex((iova + BigInt(off)) & ~BigInt(CHUNK - 1));
    if (mem[k] === undefined && Object.keys(mem).length >= MAX_MEMORY_CHUNKS) continue;
    mem[k] = toHex(bytes.subarray(off, off + CHUNK)).padEnd(CHUNK * 2, '0');
  }
  return true;
}

/** What the process sees in its buffer at iova..iova+len (it must be mapped); untouched bytes are 0. */
export function readMemory(owner: Owner, iova: bigint, len: number): Uint8Array {
  const dma = owner.dma;
  const map = dma?.mappings.find((x) => BigInt(x.iova) <= iova && iova + BigInt(len) <= BigInt(x.iova) + BigInt(x.size));
  if (!dma || !map) {
    throw new KernelError('EFAULT', { op: 'read', message: `owner '${owner.name}' has no mapping covering ${hex(iova)}+${hex(BigInt(len))}`, reason: { kind: 'not-mapped', owner: owner.name, iova: hex(iova) } });
  }
  const out = new Uint8Array(len);
  for (let i = 0; i < len; ) {
    const a = iova + BigInt(i);
    const base = a & ~BigInt(CHUNK - 1);
    const chunk = dma.memory[hex(base)];
    const off = Number(a - base);
    const n = Math.min(CHUNK - off, len - i);
    if (chunk) out.set(fromHex(chunk).subarray(off, off + n), i);
    i += n;
  }
  return out;
}

/** The IOMMU's report of a DMA to an address no mapping covers (arm_smmu_context_fault). */
export function iommuFault(m: Machine, dev: Device, iova: bigint): void {
  const g = dev.iommuGroup === null ? undefined : findGroup(m, dev.iommuGroup);
  const iommu = g?.iommu ? m.devices.find((d) => d.of.fullName === g.iommu) : undefined;
  const who = iommu ? `${iommu.driver ?? iommu.bus} ${iommu.name}` : 'iommu';
  const addr = `0x${iova.toString(16).padStart(8, '0')}`;
  if (iommu?.driver === 'arm-smmu') printk(m, KERN_ERR, `${who}: Unhandled context fault: fsr=0x402, iova=${addr}, fsynr=0x1, cbfrsynra=0x${(g?.id ?? 0).toString(16)}, cb=${g?.id ?? 0}`);
  else printk(m, KERN_ERR, `${who}: Unhandled fault: iova ${addr} from ${dev.name} (DMA write to an unmapped address)`);
}
