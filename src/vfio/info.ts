/**
 * What VFIO_DEVICE_GET_INFO / GET_REGION_INFO / GET_IRQ_INFO return for a platform
 * (or AMBA) device, cf. vfio_platform_common.c and include/uapi/linux/vfio.h.
 */
import type { Device } from '../base/machine.js';
import { IRQ_TYPE_LEVEL_MASK } from '../base/machine.js';

export const VFIO_PLATFORM_OFFSET_SHIFT = 40n;
export const PAGE_SIZE = 4096n;
/** AMBA_NR_IRQS */
export const AMBA_NR_IRQS = 9;

export const REGION_FLAGS = { READ: 0x1, WRITE: 0x2, MMAP: 0x4, CAPS: 0x8 } as const;
export const IRQ_FLAGS = { EVENTFD: 0x1, MASKABLE: 0x2, AUTOMASKED: 0x4, NORESIZE: 0x8 } as const;
export const DEVICE_FLAGS = { RESET: 0x1, PCI: 0x2, PLATFORM: 0x4, AMBA: 0x8, CCW: 0x10, AP: 0x20, FSL_MC: 0x40, CAPS: 0x80, CDX: 0x100 } as const;

export function flagNames(flags: number, table: Record<string, number>): string[] {
  return Object.entries(table).filter(([, v]) => (flags & v) !== 0).map(([k]) => k);
}

export interface RegionInfo {
  index: number;
  offset: string;
  size: string;
  flags: number;
  flagNames: string[];
  start: string;
  mmap: boolean;
}

export function regionInfo(dev: Device): RegionInfo[] {
  const regions = dev.bus === 'amba' ? dev.regions.slice(0, 1) : dev.regions;
  return regions.map((r, index) => {
    const start = BigInt(r.start);
    const size = BigInt(r.size);
    let flags = REGION_FLAGS.READ;
    if (!r.readOnly) flags |= REGION_FLAGS.WRITE;
    const aligned = start % PAGE_SIZE === 0n && size % PAGE_SIZE === 0n;
    if (aligned) flags |= REGION_FLAGS.MMAP;
    return {
      index,
      offset: '0x' + (BigInt(index) << VFIO_PLATFORM_OFFSET_SHIFT).toString(16),
      size: r.size,
      flags,
      flagNames: flagNames(flags, REGION_FLAGS),
      start: r.start,
      mmap: aligned,
    };
  });
}

export interface IrqInfo {
  index: number;
  count: number;
  flags: number;
  flagNames: string[];
  hwirq: number;
  level: boolean;
}

export function irqInfo(dev: Device): IrqInfo[] {
  const irqs = dev.bus === 'amba' ? dev.irqs.slice(0, AMBA_NR_IRQS) : dev.irqs;
  return irqs.map((q, index) => {
    const level = (q.trigger & IRQ_TYPE_LEVEL_MASK) !== 0;
    const flags = IRQ_FLAGS.EVENTFD | (level ? IRQ_FLAGS.MASKABLE | IRQ_FLAGS.AUTOMASKED : 0);
    return { index, count: 1, flags, flagNames: flagNames(flags, IRQ_FLAGS), hwirq: q.hwirq, level };
  });
}

export function deviceInfo(dev: Device): { flags: number; flagNames: string[]; numRegions: number; numIrqs: number } {
  const flags = dev.vfio?.flags ?? 0;
  return { flags, flagNames: flagNames(flags, DEVICE_FLAGS), numRegions: regionInfo(dev).length, numIrqs: irqInfo(dev).length };
}
