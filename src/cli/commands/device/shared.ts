/**
 * Behind the device fd, shared by the commands of this folder: read/write (pread/pwrite
 * or mmap of a region), irq (VFIO_DEVICE_SET_IRQS and the eventfds), map/unmap
 * (VFIO_IOMMU_MAP_DMA/UNMAP_DMA), mem (the owner's mapped memory) and fault (injected
 * hardware faults). Each `run…` returns its data and the human text (`text`, which the
 * command's render() prints and --json leaves out); nothing here prints.
 */
import type { Machine, Device, Owner } from '../../../base/machine.js';
import { KernelError, UsageError } from '../../../base/errors.js';
import type { Sys } from '../../sys.js';
import { word, type Parsed } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { fdOwner, findOwner } from '../../../userspace/owner.js';
import { regionRead, regionWrite, type Access } from '../../../vfio/rw.js';
import { setIrqs, eventfdRead, IRQ_SET } from '../../../vfio/irq.js';
import { mapDma, unmapDma, readMemory, iommuGetInfo, DMA_MAP_FLAG, flagNames } from '../../../vfio/dma.js';
import { modelOf, modelName, FAULT_KINDS } from '../../../userspace/registers.js';

export interface Result {
  data: Record<string, unknown>;
  text: string;
}

/** run()'s data: the JSON fields, with the human text kept out of JSON.stringify */
export function asData(r: Result): Record<string, unknown> {
  const d = { ...r.data };
  Object.defineProperty(d, 'text', { value: r.text, enumerable: false });
  return d;
}

export const renderText = (d: object): string => (d as { text?: string }).text ?? '';

const OWNER_RE = /^[A-Za-z0-9._-]{1,32}$/;

/** A number as C's strtoull(…, 0) takes it: 0x hex, else decimal. */
export function parseNum(what: string, s: string, max: bigint = (1n << 64n) - 1n): bigint {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(s)) throw new UsageError(`${what} must be a number (decimal or 0x hex), not "${s}"`);
  const v = BigInt(s);
  if (v > max) throw new UsageError(`${what} ${s} is too large (at most 0x${max.toString(16)})`);
  return v;
}

function ownerArg(name: string | undefined): string | undefined {
  if (name !== undefined && !OWNER_RE.test(name)) throw new UsageError(`bad owner name "${name}"`, 'use 1-32 letters, digits, ".", "_" or "-"');
  return name;
}

function liveOwner(m: Machine, name: string): Owner {
  const o = findOwner(m, name);
  if (!o) {
    throw new KernelError('ENOENT', { op: 'exec', path: name, message: `no owner named '${name}' (no such process)`, hint: `owners: ${m.owners.map((x) => x.name).join(', ') || 'none'}` });
  }
  return o;
}

const regName = (dev: Device, region: number, offset: bigint): string => {
  const r = modelOf(dev).registers.find((x) => x.region === region && BigInt(x.offset) === offset);
  return r ? r.name : '';
};

export interface RwOpts {
  width?: string;
  owner?: string;
  mmap?: boolean;
}

/** the flags of read and write: access width, whose fd, pread/pwrite or mmap */
export const RW_FLAGS = [
  { flags: '--width <bytes>', description: 'access size: 1, 2, 4 or 8 bytes (default 4)', choices: ['1', '2', '4', '8'] },
  { flags: '--owner <name>', description: 'owner whose device fd is used (default: the one holding it)', complete: 'owner' as const },
  { flags: '--mmap', description: 'through an mmap of the region instead of pread/pwrite (needs the MMAP flag)' },
];

/** What read and write act on: DEVICE REGION OFFSET and the RW_FLAGS. */
export interface RwTarget {
  device: string;
  access: Access;
  owner: string | undefined;
}

/** DEVICE REGION OFFSET (arguments 0–2) and the RW_FLAGS as an RwTarget; usage errors raised here */
export function rwTarget(p: Parsed): RwTarget {
  const f = p.flags as RwOpts;
  return { device: word(p, 0), access: accessOf(word(p, 1), word(p, 2), f), owner: f.owner };
}

/** OWNER IOVA SIZE (or LEN), the arguments of map, unmap and mem */
export interface OwnerRange {
  owner: string;
  iova: string;
  size: string;
}

export const ownerRange = (p: Parsed): OwnerRange => ({ owner: word(p, 0), iova: word(p, 1), size: word(p, 2) });

export function accessOf(region: string, offset: string, opts: RwOpts): Access {
  const width = opts.width === undefined ? 4 : Number(opts.width);
  if (width !== 1 && width !== 2 && width !== 4 && width !== 8) throw new UsageError(`--width takes 1, 2, 4 or 8, not "${opts.width}"`);
  ownerArg(opts.owner);
  return { region: Number(parseNum('REGION', region, 0xffffffn)), offset: parseNum('OFFSET', offset, (1n << 40n) - 1n), width, mmap: opts.mmap === true };
}

/** `read DEV REGION OFFSET`: pread on the owner's device fd (or a load through an mmap). */
export function runRead(m: Machine, sys: Sys, name: string, a: Access, owner: string | undefined): Result {
  const dev = lookupDevice(m, name);
  const o = fdOwner(m, dev, owner);
  const r = regionRead(m, sys, dev, a);
  const reg = regName(dev, a.region, a.offset);
  const short = r.bytes < a.width ? `  (short read: ${r.bytes} of ${a.width} bytes, the region ends)` : '';
  return {
    data: { device: dev.name, owner: o.name, region: a.region, offset: '0x' + a.offset.toString(16), width: a.width, bytes: r.bytes, value: r.value, register: reg || null, model: modelName(dev), mmap: a.mmap, pos: r.pos, ops: r.ops },
    text: `${dev.name} region ${a.region} +0x${a.offset.toString(16)}${reg ? ` ${reg}` : ''}: ${'0x' + BigInt(r.value).toString(16).padStart(r.bytes * 2, '0')}${short}\n`,
  };
}

/** `write DEV REGION OFFSET VALUE`: pwrite on the owner's device fd (or a store through an mmap). */
export function runWrite(m: Machine, sys: Sys, name: string, a: Access, value: bigint, owner: string | undefined): Result {
  const dev = lookupDevice(m, name);
  const o = fdOwner(m, dev, owner);
  if (value >= 1n << BigInt(a.width * 8)) throw new UsageError(`VALUE 0x${value.toString(16)} does not fit in ${a.width} byte(s)`);
  const r = regionWrite(m, sys, dev, a, value);
  const reg = regName(dev, a.region, a.offset);
  const state = dev.activity.running ? 'engine running' : 'engine stopped';
  return {
    data: { device: dev.name, owner: o.name, region: a.region, offset: '0x' + a.offset.toString(16), width: a.width, bytes: r.bytes, value: r.value, register: reg || null, mmap: a.mmap, pos: r.pos, ops: r.ops, running: dev.activity.running },
    text: `${dev.name} region ${a.region} +0x${a.offset.toString(16)}${reg ? ` ${reg}` : ''} = ${r.value}${r.bytes < a.width ? `  (short write: ${r.bytes} of ${a.width} bytes)` : ''}; ${state}\n` ,
  };
}

export interface IrqOpts {
  eventfd?: string;
  owner?: string;
  start?: string;
  count?: string;
}

const IRQ_ACTIONS = ['trigger', 'mask', 'unmask', 'disable', 'read'] as const;

/** `irq DEV INDEX ACTION`: VFIO_DEVICE_SET_IRQS, or read(2) of the eventfd the index signals. */
export function runIrq(m: Machine, sys: Sys, name: string, indexArg: string, action: string, opts: IrqOpts): Result {
  if (!(IRQ_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown irq action "${action}"`, `known: ${IRQ_ACTIONS.join(', ')}`);
  if (opts.eventfd !== undefined && !OWNER_RE.test(opts.eventfd)) throw new UsageError(`bad eventfd name "${opts.eventfd}"`, 'use 1-32 letters, digits, ".", "_" or "-"');
  if (opts.eventfd !== undefined && action !== 'trigger') throw new UsageError('--eventfd goes with trigger');
  const index = Number(parseNum('INDEX', indexArg, 0xffffffffn));
  const start = opts.start === undefined ? 0 : Number(parseNum('--start', opts.start, 0xffffffffn));
  const count = opts.count === undefined ? (action === 'disable' ? 0 : 1) : Number(parseNum('--count', opts.count, 0xffffffffn));
  const dev = lookupDevice(m, name);
  const o = fdOwner(m, dev, ownerArg(opts.owner));
  if (action === 'read') {
    const ev = dev.vfio?.triggers?.[index] ?? null;
    if (!ev) throw new KernelError('EBADF', { op: 'read', message: `IRQ index ${index} of ${dev.name} has no trigger eventfd`, reason: { kind: 'no-trigger', device: dev.name, index } });
    const n = sys.run(`read(eventfd "${ev}", &count, 8)`, 'an eventfd counts the interrupts signalled since it was last read; reading resets it', () => eventfdRead(o, ev));
    return { data: { device: dev.name, owner: o.name, index, eventfd: ev, count: n }, text: `${ev}: ${n} interrupt(s) since the last read\n` };
  }
  const flags =
    action === 'trigger' ? (opts.eventfd ? IRQ_SET.DATA_EVENTFD : IRQ_SET.DATA_NONE) | IRQ_SET.ACTION_TRIGGER
    : action === 'disable' ? IRQ_SET.DATA_NONE | IRQ_SET.ACTION_TRIGGER
    : (IRQ_SET.DATA_NONE | (action === 'mask' ? IRQ_SET.ACTION_MASK : IRQ_SET.ACTION_UNMASK));
  const fired = setIrqs(m, sys, dev, o, { index, start, count, flags, ...(opts.eventfd ? { eventfd: opts.eventfd } : {}) });
  const masked = dev.activity.masked[index] ?? false;
  const ev = dev.vfio?.triggers?.[index] ?? null;
  const lines = [
    action === 'trigger' && opts.eventfd ? `${dev.name}: IRQ ${index} signals eventfd "${opts.eventfd}"` : action === 'trigger' ? `${dev.name}: IRQ ${index} fired in software (loopback)` : action === 'disable' ? `${dev.name}: IRQ ${index} trigger disabled` : `${dev.name}: IRQ ${index} ${action}ed`,
  ];
  if (fired.length && action !== 'trigger') lines.push(`IRQ ${fired.join(', ')} fired again at once: the device still asserts it (clear its status first)`);
  else if (fired.length && opts.eventfd) lines.push(`IRQ ${fired.join(', ')} fired the moment the trigger was set: the line was already asserted or an edge was pending`);
  if (masked) lines.push(`IRQ ${index} is masked (automasked after it fired): unmask it to receive the next one`);
  return {
    data: { device: dev.name, owner: o.name, index, action, flags, fired, masked, eventfd: ev, eventfds: { ...(o.eventfds ?? {}) }, irqsRaised: dev.activity.irqsRaised },
    text: lines.map((l) => l + '\n').join(''),
  };
}

export interface MapOpts {
  read?: boolean;
  write?: boolean;
  exec?: boolean;
}

/** `map OWNER IOVA SIZE`: VFIO_IOMMU_GET_INFO, then VFIO_IOMMU_MAP_DMA on the owner's container. */
export function runMap(m: Machine, sys: Sys, ownerName: string, iovaArg: string, sizeArg: string, opts: MapOpts): Result {
  ownerArg(ownerName);
  const iova = parseNum('IOVA', iovaArg);
  const size = parseNum('SIZE', sizeArg);
  const execOn = m.options.dmaExecWhatIf === true;
  if (opts.exec && !execOn) {
    throw new UsageError('--exec is VFIO_DMA_MAP_FLAG_EXEC of the 2014 RFC, which was never merged (mainline gave bit 2 to VFIO_DMA_MAP_FLAG_VADDR)', 'to try the what-if: vfioctl policy dma-exec on');
  }
  const o = liveOwner(m, ownerName);
  const info = iommuGetInfo(sys);
  if (opts.exec) sys.record('ioctl(container, VFIO_CHECK_EXTENSION, VFIO_IOMMU_PROT_EXEC) = 1', 'WHAT-IF: the RFC\'s extension saying the IOMMU can enforce no-execute', '1');
  const flags = (opts.read ? DMA_MAP_FLAG.READ : 0) | (opts.write ? DMA_MAP_FLAG.WRITE : 0) | (opts.exec ? DMA_MAP_FLAG.EXEC : 0);
  const map = mapDma(m, sys, o, iova, size, flags, { exec: execOn });
  return {
    data: { owner: o.name, ...map, flagNames: flagNames(flags).split('|'), iovaPgsizes: info.iovaPgsizes, whatIf: opts.exec === true, mappings: o.dma?.mappings ?? [] },
    text: `${o.name}: mapped iova ${map.iova} size ${map.size} ${flagNames(flags)}${opts.exec ? '  (WHAT-IF: EXEC was never merged)' : ''}\n`,
  };
}

/** `unmap OWNER IOVA SIZE`: VFIO_IOMMU_UNMAP_DMA; the bytes unmapped come back in size. */
export function runUnmap(m: Machine, sys: Sys, ownerName: string, iovaArg: string, sizeArg: string): Result {
  ownerArg(ownerName);
  const iova = parseNum('IOVA', iovaArg);
  const size = parseNum('SIZE', sizeArg);
  const o = liveOwner(m, ownerName);
  const n = unmapDma(m, sys, o, iova, size);
  return {
    data: { owner: o.name, iova: '0x' + iova.toString(16), unmapped: '0x' + n.toString(16), mappings: o.dma?.mappings ?? [] },
    text: `${o.name}: unmapped 0x${n.toString(16)} bytes${n === 0n ? ' (no mapping starts in that range: nothing to do, not an error)' : ''}\n`,
  };
}

/** `mem OWNER IOVA LEN`: the owner's own view of its mapped buffer, hexdump -C style. */
export function runMem(m: Machine, ownerName: string, iovaArg: string, lenArg: string): Result {
  ownerArg(ownerName);
  const iova = parseNum('IOVA', iovaArg);
  const len = Number(parseNum('LEN', lenArg, 0x1000n));
  if (len === 0) throw new UsageError('LEN must be at least 1 (at most 0x1000)');
  const o = liveOwner(m, ownerName);
  const bytes = readMemory(o, iova, len);
  let text = '';
  for (let i = 0; i < len; i += 16) {
    const row = bytes.subarray(i, Math.min(len, i + 16));
    const hx = Array.from(row, (b) => b.toString(16).padStart(2, '0'));
    const left = hx.slice(0, 8).join(' ');
    const right = hx.slice(8).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    text += `${(iova + BigInt(i)).toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|\n`;
  }
  const touched = bytes.some((b) => b !== 0);
  return {
    data: { owner: o.name, iova: '0x' + iova.toString(16), length: len, hex: Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''), written: touched },
    text: text + (touched ? '' : `(all zero: no device has written here)\n`),
  };
}

const FAULTS = [...FAULT_KINDS, 'none'] as const;

/** `fault DEV KIND`: inject a hardware fault (no Linux equivalent: the simulator's switch). */
export function runFault(m: Machine, sys: Sys, name: string, kind: string): Result {
  if (!(FAULTS as readonly string[]).includes(kind)) throw new UsageError(`unknown fault "${kind}"`, `known: ${FAULTS.join(', ')}`);
  const dev = lookupDevice(m, name);
  sys.record('# (simulation only: no Linux equivalent)', kind === 'none' ? 'the hardware behaves again' : 'make the hardware misbehave the way the reset function can notice it');
  if (kind === 'none') delete dev.faults;
  else dev.faults = [...new Set([...(dev.faults ?? []), kind])];
  const what: Record<string, string> = {
    'reset-fails': 'the reset function fails (xgmac/XGBE/FlexRM: mapping region 0 fails, -ENOMEM; ACPI _RST: -EINVAL; tree-declared and generic resets: -EIO)',
    'phy-timeout': 'AMD XGBE: the PHY never leaves reset (PCS CTRL1 RESET stays set): "XGBE PHY reset timeout", the reset still returns 0',
    'mac-reset-fails': 'AMD XGBE: DMA_MR.SWR never clears, the MAC is not reset: "MAC SW reset failed", the reset still returns 0',
    'ring-timeout': 'FlexRM: the flush handshake never completes: "FlexRM ring0 shutdown error -110", the reset returns -ETIMEDOUT',
    none: 'no injected faults',
  };
  return { data: { device: dev.name, faults: dev.faults ?? [], model: modelName(dev) }, text: `${dev.name}: ${what[kind]}\n` };
}
