/**
 * The simulated hardware behind a device's MMIO regions: one register model per device
 * kind, at the level the kernel's reset modules (drivers/vfio/platform/reset/*.c) and a
 * user-space driver touch it. Registers are 32 bits wide, little-endian, stored sparsely
 * (only those of the model, only when they differ from their reset value); an offset the
 * model does not define reads 0 and ignores writes.
 *
 * The model is chosen by the tree (`vfioctl,registers = "xgmac"` on the device node) or
 * else by the first compatible; everything else gets the documented generic block.
 */
import type { Device, DeviceHw } from '../base/machine.js';
import { IRQ_TYPE_LEVEL_MASK } from '../base/machine.js';
import { type DtNode, getProp, readStrings, nodePath, TreeError } from '../devicetree/tree.js';

/** Faults a device can be given (`vfioctl,fault` in the tree, `vfioctl fault DEV KIND`). */
export const FAULT_KINDS = ['reset-fails', 'phy-timeout', 'mac-reset-fails', 'ring-timeout'] as const;

export type RegisterModelName = 'generic' | 'xgmac' | 'amd-xgbe' | 'flexrm';
export const REGISTER_MODELS: readonly RegisterModelName[] = ['generic', 'xgmac', 'amd-xgbe', 'flexrm'];

/** A register as `read`/`write` name it and the README documents it. */
export interface RegisterDoc {
  region: number;
  offset: number;
  name: string;
  access: 'rw' | 'ro' | 'w1c';
  bits: string;
}

/** A write the owner's driver makes to program or quiesce the device. */
export interface RegWrite {
  region: number;
  offset: number;
  value: number;
  name: string;
}

export interface RegisterModel {
  name: RegisterModelName;
  summary: string;
  registers: readonly RegisterDoc[];
  /** registers whose reset value is not 0 */
  initial(dev: Device): Record<string, number>;
  /** the device side of a 32-bit store; `mask` has the bytes written (sub-word stores) */
  store(hw: DeviceHw, dev: Device, region: number, offset: number, value: number, mask: number): void;
  /** is the engine doing DMA */
  running(hw: DeviceHw, dev: Device): boolean;
  /** where the engine writes its next record, and the length of its buffer */
  dma(hw: DeviceHw, dev: Device): { addr: bigint; len: number } | null;
  /** one DMA record done: set the status bits; the IRQ indexes that get an edge */
  completed(hw: DeviceHw, dev: Device): number[];
  /** is level IRQ `index` asserted by the device */
  asserted(hw: DeviceHw, dev: Device, index: number): boolean;
  start(dev: Device, iova: bigint): RegWrite[];
  stop(dev: Device): RegWrite[];
}

export const key = (region: number, offset: number): string => `${region}:${offset.toString(16)}`;

/** The stored value of a register (its reset value when not stored). */
export function reg(hw: DeviceHw, dev: Device, region: number, offset: number): number {
  const k = key(region, offset);
  const v = hw.regs[k];
  if (v !== undefined) return v;
  return modelOf(dev).initial(dev)[k] ?? 0;
}

export function setReg(hw: DeviceHw, dev: Device, region: number, offset: number, value: number): void {
  const k = key(region, offset);
  const v = value >>> 0;
  if ((modelOf(dev).initial(dev)[k] ?? 0) === v) delete hw.regs[k];
  else hw.regs[k] = v;
}

const merge = (old: number, value: number, mask: number): number => ((old & ~mask) | (value & mask)) >>> 0;
const isLevel = (dev: Device, i: number): boolean => ((dev.irqs[i]?.trigger ?? 0) & IRQ_TYPE_LEVEL_MASK) !== 0;
const allIrqs = (dev: Device): number => (dev.irqs.length >= 32 ? 0xffffffff : (1 << dev.irqs.length) - 1) >>> 0;

function defined(model: { registers: readonly RegisterDoc[] }, region: number, offset: number): RegisterDoc | undefined {
  return model.registers.find((r) => r.region === region && r.offset === offset);
}

/** A plain store to a register of the model, as its access type says. */
function plainStore(model: RegisterModel, hw: DeviceHw, dev: Device, region: number, offset: number, value: number, mask: number): void {
  const r = defined(model, region, offset);
  if (!r || r.access === 'ro') return;
  const old = reg(hw, dev, region, offset);
  if (r.access === 'w1c') setReg(hw, dev, region, offset, old & ~(value & mask));
  else setReg(hw, dev, region, offset, merge(old, value, mask));
}

// ---- generic block ----
const G = { CONTROL: 0x00, STATUS: 0x04, INT_ENABLE: 0x08, INT_STATUS: 0x0c, DMA_ADDR_LO: 0x10, DMA_ADDR_HI: 0x14, DMA_LEN: 0x18 } as const;
export const GENERIC_RUN = 0x1;
export const GENERIC_SOFT_RESET = 0x80000000;
/** DMA buffers are at most a page: memory stays bounded */
export const MAX_DMA_LEN = 0x1000;

const generic: RegisterModel = {
  name: 'generic',
  summary: 'vfioctl generic block (no real device): control, status, interrupt enable/status, DMA address and length',
  registers: [
    { region: 0, offset: G.CONTROL, name: 'CONTROL', access: 'rw', bits: 'bit 0 RUN (engine on); bit 31 SOFT_RESET (self-clearing: every register back to its reset value)' },
    { region: 0, offset: G.STATUS, name: 'STATUS', access: 'ro', bits: 'bit 0 BUSY (the engine is running)' },
    { region: 0, offset: G.INT_ENABLE, name: 'INT_ENABLE', access: 'rw', bits: 'bit n enables IRQ index n' },
    { region: 0, offset: G.INT_STATUS, name: 'INT_STATUS', access: 'w1c', bits: 'bit n: IRQ index n raised (write 1 to clear); a level IRQ stays asserted while its bit is set and enabled' },
    { region: 0, offset: G.DMA_ADDR_LO, name: 'DMA_ADDR_LO', access: 'rw', bits: 'IOVA the engine writes to, low 32 bits' },
    { region: 0, offset: G.DMA_ADDR_HI, name: 'DMA_ADDR_HI', access: 'rw', bits: 'high 32 bits' },
    { region: 0, offset: G.DMA_LEN, name: 'DMA_LEN', access: 'rw', bits: 'length of the DMA buffer in bytes (reset value 0x100, at most 0x1000); one 16-byte record per step, wrapping' },
  ],
  initial: () => ({ [key(0, G.DMA_LEN)]: 0x100 }),
  store(hw, dev, region, offset, value, mask) {
    if (region === 0 && offset === G.CONTROL && (value & mask & GENERIC_SOFT_RESET) !== 0) {
      hw.regs = {};
      return;
    }
    plainStore(this, hw, dev, region, offset, value, mask);
    if (region === 0 && offset === G.CONTROL) {
      const run = (reg(hw, dev, 0, G.CONTROL) & GENERIC_RUN) !== 0;
      setReg(hw, dev, 0, G.STATUS, run ? 1 : 0);
    }
  },
  running: (hw, dev) => (reg(hw, dev, 0, G.CONTROL) & GENERIC_RUN) !== 0,
  dma(hw, dev) {
    const addr = (BigInt(reg(hw, dev, 0, G.DMA_ADDR_HI)) << 32n) | BigInt(reg(hw, dev, 0, G.DMA_ADDR_LO));
    return { addr, len: Math.min(reg(hw, dev, 0, G.DMA_LEN), MAX_DMA_LEN) };
  },
  completed(hw, dev) {
    const en = reg(hw, dev, 0, G.INT_ENABLE) & allIrqs(dev);
    setReg(hw, dev, 0, G.INT_STATUS, reg(hw, dev, 0, G.INT_STATUS) | en);
    return dev.irqs.map((_, i) => i).filter((i) => (en & (1 << i)) !== 0 && !isLevel(dev, i));
  },
  asserted: (hw, dev, i) => ((reg(hw, dev, 0, G.INT_STATUS) & reg(hw, dev, 0, G.INT_ENABLE)) & (1 << i)) !== 0,
  start: (dev, iova) => [
    { region: 0, offset: G.DMA_ADDR_LO, value: Number(iova & 0xffffffffn), name: 'DMA_ADDR_LO' },
    { region: 0, offset: G.DMA_ADDR_HI, value: Number(iova >> 32n), name: 'DMA_ADDR_HI' },
    { region: 0, offset: G.DMA_LEN, value: 0x100, name: 'DMA_LEN' },
    { region: 0, offset: G.INT_ENABLE, value: allIrqs(dev), name: 'INT_ENABLE' },
    { region: 0, offset: G.CONTROL, value: GENERIC_RUN, name: 'CONTROL' },
  ],
  stop: () => [
    { region: 0, offset: G.CONTROL, value: 0, name: 'CONTROL' },
    { region: 0, offset: G.INT_ENABLE, value: 0, name: 'INT_ENABLE' },
  ],
};

// ---- Calxeda xgmac (offsets and bits as vfio_platform_calxedaxgmac.c and the xgmac driver) ----
export const XGMAC = {
  CONTROL: 0x000, DMA_RX_BASE_ADDR: 0xf0c, DMA_STATUS: 0xf14, DMA_CONTROL: 0xf18, DMA_INTR_ENA: 0xf1c,
  MAC_ENABLE_TX: 0x8, MAC_ENABLE_RX: 0x4, DMA_CONTROL_ST: 0x2000, DMA_CONTROL_SR: 0x2,
  DMA_STATUS_RI: 0x40, DMA_STATUS_NIS: 0x10000, DMA_INTR_ENA_RIE: 0x40, DMA_INTR_ENA_NIE: 0x10000,
} as const;
const XGMAC_RING = 0x100;

const xgmac: RegisterModel = {
  name: 'xgmac',
  summary: 'Calxeda xgmac, region 0: the MAC and DMA registers its reset module writes',
  registers: [
    { region: 0, offset: XGMAC.CONTROL, name: 'XGMAC_CONTROL', access: 'rw', bits: 'bit 3 TE (MAC_ENABLE_TX), bit 2 RE (MAC_ENABLE_RX)' },
    { region: 0, offset: XGMAC.DMA_RX_BASE_ADDR, name: 'XGMAC_DMA_RX_BASE_ADDR', access: 'rw', bits: 'IOVA of the receive buffer (a 0x100-byte ring here)' },
    { region: 0, offset: XGMAC.DMA_STATUS, name: 'XGMAC_DMA_STATUS', access: 'w1c', bits: 'bit 6 RI (frame received), bit 16 NIS (normal interrupt summary); write 1 to clear' },
    { region: 0, offset: XGMAC.DMA_CONTROL, name: 'XGMAC_DMA_CONTROL', access: 'rw', bits: 'bit 13 ST (DMA_CONTROL_ST, transmit), bit 1 SR (DMA_CONTROL_SR, receive)' },
    { region: 0, offset: XGMAC.DMA_INTR_ENA, name: 'XGMAC_DMA_INTR_ENA', access: 'rw', bits: 'bit 6 RIE, bit 16 NIE: IRQ index 0 (level) is asserted while DMA_STATUS & DMA_INTR_ENA' },
  ],
  initial: () => ({}),
  store(hw, dev, region, offset, value, mask) {
    plainStore(this, hw, dev, region, offset, value, mask);
  },
  running: (hw, dev) => (reg(hw, dev, 0, XGMAC.DMA_CONTROL) & XGMAC.DMA_CONTROL_SR) !== 0 && (reg(hw, dev, 0, XGMAC.CONTROL) & XGMAC.MAC_ENABLE_RX) !== 0,
  dma: (hw, dev) => ({ addr: BigInt(reg(hw, dev, 0, XGMAC.DMA_RX_BASE_ADDR)), len: XGMAC_RING }),
  completed(hw, dev) {
    setReg(hw, dev, 0, XGMAC.DMA_STATUS, reg(hw, dev, 0, XGMAC.DMA_STATUS) | XGMAC.DMA_STATUS_RI | XGMAC.DMA_STATUS_NIS);
    return [];
  },
  asserted: (hw, dev, i) => i === 0 && (reg(hw, dev, 0, XGMAC.DMA_STATUS) & reg(hw, dev, 0, XGMAC.DMA_INTR_ENA)) !== 0,
  start: (_dev, iova) => [
    { region: 0, offset: XGMAC.DMA_RX_BASE_ADDR, value: Number(iova & 0xffffffffn), name: 'XGMAC_DMA_RX_BASE_ADDR' },
    { region: 0, offset: XGMAC.DMA_INTR_ENA, value: XGMAC.DMA_INTR_ENA_NIE | XGMAC.DMA_INTR_ENA_RIE, name: 'XGMAC_DMA_INTR_ENA' },
    { region: 0, offset: XGMAC.DMA_CONTROL, value: XGMAC.DMA_CONTROL_ST | XGMAC.DMA_CONTROL_SR, name: 'XGMAC_DMA_CONTROL' },
    { region: 0, offset: XGMAC.CONTROL, value: XGMAC.MAC_ENABLE_TX | XGMAC.MAC_ENABLE_RX, name: 'XGMAC_CONTROL' },
  ],
  stop: () => [
    { region: 0, offset: XGMAC.CONTROL, value: 0, name: 'XGMAC_CONTROL' },
    { region: 0, offset: XGMAC.DMA_CONTROL, value: 0, name: 'XGMAC_DMA_CONTROL' },
    { region: 0, offset: XGMAC.DMA_INTR_ENA, value: 0, name: 'XGMAC_DMA_INTR_ENA' },
  ],
};

// ---- AMD XGBE: MAC (region 0) and the PCS behind MDIO-over-MMIO (region 1) ----
export const XGBE = {
  MAC_RCR: 0x0004, MAC_ISR: 0x00b0, MAC_VR: 0x0110, DMA_MR: 0x3000, DMA_ISR: 0x3008,
  DMA_CH0_RCR: 0x3108, DMA_CH0_RDLR_HI: 0x3118, DMA_CH0_RDLR_LO: 0x311c, DMA_CH0_IER: 0x3138, DMA_CH0_SR: 0x3160,
  /** PCS_MMD_SELECT << 2 in region 1 */
  PCS_SELECT: 0xff << 2,
  MMD_PCS: 3, MMD_AN: 7, MDIO_CTRL1: 0x0000, MDIO_AN_INTMASK: 0x8001, MDIO_AN_INT: 0x8002,
  MDIO_CTRL1_RESET: 0x8000, MDIO_AN_CTRL1_ENABLE: 0x1000,
} as const;
/** the MMD register a PCS window access reaches: (select << 8) | window index, as xmdio_read/xmdio_write address it */
export const mmdKey = (mmdAddress: number): string => `1:mmd${mmdAddress.toString(16)}`;

const amdXgbe: RegisterModel = {
  name: 'amd-xgbe',
  summary: 'AMD XGBE (Seattle): region 0 the MAC and DMA channel 0, region 1 the PCS reached through a select register, as vfio_platform_amdxgbe.c uses them',
  registers: [
    { region: 0, offset: XGBE.MAC_RCR, name: 'MAC_RCR', access: 'rw', bits: 'bit 0 RE (receiver enable)' },
    { region: 0, offset: XGBE.MAC_ISR, name: 'MAC_ISR', access: 'w1c', bits: 'MAC interrupt status' },
    { region: 0, offset: XGBE.MAC_VR, name: 'MAC_VR', access: 'ro', bits: 'version (reads 0x0000101a)' },
    { region: 0, offset: XGBE.DMA_MR, name: 'DMA_MR', access: 'rw', bits: 'bit 0 SWR: software reset of the MAC and DMA (self-clearing; every region 0 register back to its reset value)' },
    { region: 0, offset: XGBE.DMA_ISR, name: 'DMA_ISR', access: 'ro', bits: 'bit 0 DC0IS: channel 0 has status' },
    { region: 0, offset: XGBE.DMA_CH0_RCR, name: 'DMA_CH0_RCR', access: 'rw', bits: 'bit 0 SR (receive DMA start)' },
    { region: 0, offset: XGBE.DMA_CH0_RDLR_HI, name: 'DMA_CH0_RDLR_HI', access: 'rw', bits: 'receive buffer IOVA, high 32 bits' },
    { region: 0, offset: XGBE.DMA_CH0_RDLR_LO, name: 'DMA_CH0_RDLR_LO', access: 'rw', bits: 'receive buffer IOVA, low 32 bits (a 0x100-byte ring here)' },
    { region: 0, offset: XGBE.DMA_CH0_IER, name: 'DMA_CH0_IER', access: 'rw', bits: 'bit 6 RIE: IRQ index 0 is asserted while DMA_CH0_SR & DMA_CH0_IER' },
    { region: 0, offset: XGBE.DMA_CH0_SR, name: 'DMA_CH0_SR', access: 'w1c', bits: 'bit 6 RI (frame received)' },
    { region: 1, offset: XGBE.PCS_SELECT, name: 'PCS_MMD_SELECT', access: 'rw', bits: 'MMD address >> 8; the window (offset (address & 0xff) << 2) then reaches PCS CTRL1 (MMD 3 reg 0: bit 15 RESET, self-clearing), AN CTRL1 (MMD 7 reg 0: bit 12 AN enable), AN INTMASK (7:0x8001), AN INT (7:0x8002)' },
  ],
  initial: () => ({ [key(0, XGBE.MAC_VR)]: 0x101a, [mmdKey((XGBE.MMD_AN << 16) | XGBE.MDIO_CTRL1)]: XGBE.MDIO_AN_CTRL1_ENABLE }),
  store(hw, dev, region, offset, value, mask) {
    if (region === 1 && offset !== XGBE.PCS_SELECT && offset < 0x400 && offset % 4 === 0) {
      const addr = ((reg(hw, dev, 1, XGBE.PCS_SELECT) << 8) | (offset >> 2)) >>> 0;
      const k = mmdKey(addr);
      let v = merge(hw.regs[k] ?? this.initial(dev)[k] ?? 0, value, mask) & 0xffff;
      // PCS CTRL1 RESET self-clears once the PHY is reset, unless the PHY is stuck
      if (addr === ((XGBE.MMD_PCS << 16) | XGBE.MDIO_CTRL1) && !dev.faults?.includes('phy-timeout')) v &= ~XGBE.MDIO_CTRL1_RESET;
      if ((this.initial(dev)[k] ?? 0) === v) delete hw.regs[k];
      else hw.regs[k] = v;
      return;
    }
    if (region === 0 && offset === XGBE.DMA_MR && (value & mask & 1) !== 0) {
      if (dev.faults?.includes('mac-reset-fails')) {
        setReg(hw, dev, 0, XGBE.DMA_MR, reg(hw, dev, 0, XGBE.DMA_MR) | 1); // stuck in reset: nothing else changes
        return;
      }
      for (const k of Object.keys(hw.regs)) if (k.startsWith('0:')) delete hw.regs[k];
      return;
    }
    plainStore(this, hw, dev, region, offset, value, mask);
  },
  running: (hw, dev) => (reg(hw, dev, 0, XGBE.MAC_RCR) & 1) !== 0 && (reg(hw, dev, 0, XGBE.DMA_CH0_RCR) & 1) !== 0,
  dma: (hw, dev) => ({ addr: (BigInt(reg(hw, dev, 0, XGBE.DMA_CH0_RDLR_HI)) << 32n) | BigInt(reg(hw, dev, 0, XGBE.DMA_CH0_RDLR_LO)), len: 0x100 }),
  completed(hw, dev) {
    setReg(hw, dev, 0, XGBE.DMA_CH0_SR, reg(hw, dev, 0, XGBE.DMA_CH0_SR) | 0x40);
    return [];
  },
  asserted: (hw, dev, i) => i === 0 && (reg(hw, dev, 0, XGBE.DMA_CH0_SR) & reg(hw, dev, 0, XGBE.DMA_CH0_IER)) !== 0,
  start: (_dev, iova) => [
    { region: 0, offset: XGBE.DMA_CH0_RDLR_HI, value: Number(iova >> 32n), name: 'DMA_CH0_RDLR_HI' },
    { region: 0, offset: XGBE.DMA_CH0_RDLR_LO, value: Number(iova & 0xffffffffn), name: 'DMA_CH0_RDLR_LO' },
    { region: 0, offset: XGBE.DMA_CH0_IER, value: 0x40, name: 'DMA_CH0_IER' },
    { region: 0, offset: XGBE.DMA_CH0_RCR, value: 1, name: 'DMA_CH0_RCR' },
    { region: 0, offset: XGBE.MAC_RCR, value: 1, name: 'MAC_RCR' },
  ],
  stop: () => [
    { region: 0, offset: XGBE.MAC_RCR, value: 0, name: 'MAC_RCR' },
    { region: 0, offset: XGBE.DMA_CH0_RCR, value: 0, name: 'DMA_CH0_RCR' },
    { region: 0, offset: XGBE.DMA_CH0_IER, value: 0, name: 'DMA_CH0_IER' },
  ],
};

// ---- Broadcom FlexRM: 64 KiB ring windows in region 0 (vfio_platform_bcmflexrm.c) ----
export const FLEXRM = {
  RING_REGS_SIZE: 0x10000, RING_VER_MAGIC: 0x76303031, RING_VER: 0x000, RING_CMPL_START_ADDR: 0x018,
  RING_CONTROL: 0x034, RING_FLUSH_DONE: 0x038, CONTROL_ACTIVE: 1 << 4, CONTROL_FLUSH: 1 << 5, FLUSH_DONE: 0x1,
  /** RING_CMPL_START_ADDR holds the address >> 13, as bcm-flexrm-mailbox.c writes it */
  CMPL_ALIGN_ORDER: 13,
  MAX_RINGS: 32,
} as const;

/** how many rings region 0 holds (at most 32, as the FlexRM has) */
export function flexrmRings(dev: Device): number {
  const size = Number(BigInt(dev.regions[0]?.size ?? '0'));
  return Math.min(FLEXRM.MAX_RINGS, Math.max(size > 0 ? 1 : 0, Math.ceil(size / FLEXRM.RING_REGS_SIZE)));
}

const flexrm: RegisterModel = {
  name: 'flexrm',
  summary: 'Broadcom FlexRM ring manager: region 0 in 64 KiB ring windows, the ring registers its reset module reads and writes',
  registers: [
    { region: 0, offset: FLEXRM.RING_VER, name: 'RING_VER (ring n at n × 0x10000)', access: 'ro', bits: 'reads the version magic 0x76303031 for each ring' },
    { region: 0, offset: FLEXRM.RING_CMPL_START_ADDR, name: 'RING_CMPL_START_ADDR', access: 'rw', bits: 'completion ring IOVA >> 13' },
    { region: 0, offset: FLEXRM.RING_CONTROL, name: 'RING_CONTROL', access: 'rw', bits: 'bit 4 ACTIVE (ring runs: DMA into its completion ring, IRQ index n), bit 5 FLUSH' },
    { region: 0, offset: FLEXRM.RING_FLUSH_DONE, name: 'RING_FLUSH_DONE', access: 'ro', bits: 'bit 0: set once FLUSH is written (the flush handshake), clear once RING_CONTROL is 0' },
  ],
  initial(dev) {
    const o: Record<string, number> = {};
    for (let r = 0; r < flexrmRings(dev); r++) o[key(0, r * FLEXRM.RING_REGS_SIZE + FLEXRM.RING_VER)] = FLEXRM.RING_VER_MAGIC;
    return o;
  },
  store(hw, dev, region, offset, value, mask) {
    if (region !== 0) return;
    const ring = Math.floor(offset / FLEXRM.RING_REGS_SIZE);
    if (ring >= flexrmRings(dev)) return;
    const base = ring * FLEXRM.RING_REGS_SIZE;
    const o = offset - base;
    if (o === FLEXRM.RING_CMPL_START_ADDR || o === FLEXRM.RING_CONTROL) setReg(hw, dev, 0, offset, merge(reg(hw, dev, 0, offset), value, mask));
    if (o === FLEXRM.RING_CONTROL) {
      const flush = (reg(hw, dev, 0, offset) & FLEXRM.CONTROL_FLUSH) !== 0;
      if (flush && !dev.faults?.includes('ring-timeout')) setReg(hw, dev, 0, base + FLEXRM.RING_FLUSH_DONE, FLEXRM.FLUSH_DONE);
      if (reg(hw, dev, 0, offset) === 0) setReg(hw, dev, 0, base + FLEXRM.RING_FLUSH_DONE, 0);
    }
  },
  running(hw, dev) {
    for (let r = 0; r < flexrmRings(dev); r++) if (reg(hw, dev, 0, r * FLEXRM.RING_REGS_SIZE + FLEXRM.RING_CONTROL) & FLEXRM.CONTROL_ACTIVE) return true;
    return false;
  },
  dma(hw, dev) {
    for (let r = 0; r < flexrmRings(dev); r++) {
      const base = r * FLEXRM.RING_REGS_SIZE;
      if (reg(hw, dev, 0, base + FLEXRM.RING_CONTROL) & FLEXRM.CONTROL_ACTIVE) return { addr: BigInt(reg(hw, dev, 0, base + FLEXRM.RING_CMPL_START_ADDR)) << BigInt(FLEXRM.CMPL_ALIGN_ORDER), len: 0x100 };
    }
    return null;
  },
  completed(hw, dev) {
    const out: number[] = [];
    for (let r = 0; r < flexrmRings(dev) && r < dev.irqs.length; r++) {
      if (reg(hw, dev, 0, r * FLEXRM.RING_REGS_SIZE + FLEXRM.RING_CONTROL) & FLEXRM.CONTROL_ACTIVE) if (!isLevel(dev, r)) out.push(r);
    }
    return out;
  },
  asserted: (hw, dev, i) => i < flexrmRings(dev) && (reg(hw, dev, 0, i * FLEXRM.RING_REGS_SIZE + FLEXRM.RING_CONTROL) & FLEXRM.CONTROL_ACTIVE) !== 0,
  start: (_dev, iova) => [
    { region: 0, offset: FLEXRM.RING_CMPL_START_ADDR, value: Number(iova >> BigInt(FLEXRM.CMPL_ALIGN_ORDER)), name: 'RING_CMPL_START_ADDR (ring 0)' },
    { region: 0, offset: FLEXRM.RING_CONTROL, value: FLEXRM.CONTROL_ACTIVE, name: 'RING_CONTROL (ring 0)' },
  ],
  stop: () => [{ region: 0, offset: FLEXRM.RING_CONTROL, value: 0, name: 'RING_CONTROL (ring 0)' }],
};

const MODELS: Record<RegisterModelName, RegisterModel> = { generic, xgmac, 'amd-xgbe': amdXgbe, flexrm };
const BY_COMPATIBLE: Record<string, RegisterModelName> = {
  'calxeda,hb-xgmac': 'xgmac',
  'amd,xgbe-seattle-v1a': 'amd-xgbe',
  'brcm,iproc-flexrm-mbox': 'flexrm',
};

export function isRegisterModelName(s: string): s is RegisterModelName {
  return (REGISTER_MODELS as readonly string[]).includes(s);
}

export function modelName(dev: Device): RegisterModelName {
  const n = dev.registerModel;
  if (n && isRegisterModelName(n)) return n;
  const c = dev.of.compatible[0];
  return (c !== undefined && Object.hasOwn(BY_COMPATIBLE, c) ? BY_COMPATIBLE[c] : undefined) ?? 'generic';
}

export function modelOf(dev: Device): RegisterModel {
  return MODELS[modelName(dev)];
}

export function registerModel(name: RegisterModelName): RegisterModel {
  return MODELS[name];
}

/** The device's hardware state, made on first use. */
export function hwOf(dev: Device): DeviceHw {
  return (dev.hw ??= { regs: {}, seq: 0, edgePending: dev.irqs.map(() => false) });
}

/** A 32-bit load at a word-aligned offset of a region. */
export function load32(dev: Device, region: number, offset: number): number {
  const hw = hwOf(dev);
  if (region === 1 && modelName(dev) === 'amd-xgbe' && offset !== XGBE.PCS_SELECT && offset < 0x400) {
    const addr = ((reg(hw, dev, 1, XGBE.PCS_SELECT) << 8) | (offset >> 2)) >>> 0;
    const k = mmdKey(addr);
    return hw.regs[k] ?? amdXgbe.initial(dev)[k] ?? 0;
  }
  const m = modelOf(dev);
  if (m.name === 'flexrm') return region === 0 ? reg(hw, dev, 0, offset) : 0;
  return defined(m, region, offset) ? reg(hw, dev, region, offset) : 0;
}

/** A 32-bit store (`mask` selects the bytes of a 1- or 2-byte store). */
export function store32(dev: Device, region: number, offset: number, value: number, mask = 0xffffffff): void {
  modelOf(dev).store(hwOf(dev), dev, region, offset, value >>> 0, mask >>> 0);
}

/** An access of 1, 2 or 4 bytes at `offset` (naturally aligned), as ioread8/16/32 and iowrite8/16/32 do it. */
export function mmioRead(dev: Device, region: number, offset: number, width: 1 | 2 | 4): number {
  const word = offset & ~3;
  const shift = (offset - word) * 8;
  const v = load32(dev, region, word) >>> shift;
  return width === 4 ? v >>> 0 : v & (width === 2 ? 0xffff : 0xff);
}

export function mmioWrite(dev: Device, region: number, offset: number, width: 1 | 2 | 4, value: number): void {
  const word = offset & ~3;
  const shift = (offset - word) * 8;
  const lanes = width === 4 ? 0xffffffff : (width === 2 ? 0xffff : 0xff) << shift;
  store32(dev, region, word, (value << shift) >>> 0, lanes >>> 0);
}

/**
 * The tree's word on a device's hardware: `vfioctl,registers = "xgmac"` picks a register
 * model, `vfioctl,fault = "reset-fails"` (a string list) injects faults from boot.
 */
export function hwFromNode(node: DtNode, file: string): { registerModel?: RegisterModelName; faults?: string[] } {
  const out: { registerModel?: RegisterModelName; faults?: string[] } = {};
  const rp = getProp(node, 'vfioctl,registers');
  if (rp) {
    const v = readStrings(node, 'vfioctl,registers') ?? [];
    const name = v[0];
    if (v.length !== 1 || name === undefined || !isRegisterModelName(name)) {
      throw new TreeError(`"vfioctl,registers" of ${nodePath(node)} must be one of ${REGISTER_MODELS.join(', ')}`, rp.loc ?? node.loc ?? { file });
    }
    out.registerModel = name;
  }
  const fp = getProp(node, 'vfioctl,fault');
  if (fp) {
    const v = readStrings(node, 'vfioctl,fault') ?? [];
    const bad = v.find((x) => !(FAULT_KINDS as readonly string[]).includes(x));
    if (v.length === 0 || bad !== undefined) throw new TreeError(`"vfioctl,fault" of ${nodePath(node)} must list faults among ${FAULT_KINDS.join(', ')}${bad !== undefined ? `, not "${bad}"` : ''}`, fp.loc ?? node.loc ?? { file });
    out.faults = [...new Set(v)];
  }
  return out;
}
