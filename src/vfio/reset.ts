/**
 * vfio_platform_call_reset (drivers/vfio/platform/vfio_platform_common.c): the one
 * reset routine behind first open, last close and VFIO_DEVICE_RESET, and the reset
 * operations themselves as the register reads and writes the kernel modules make
 * (drivers/vfio/platform/reset/vfio_platform_{calxedaxgmac,amdxgbe,bcmflexrm}.c).
 * The reset lookup is here too (vfio_platform_lookup_reset, vfio_platform_get_reset, the
 * `vfio-reset:<compat>` alias of module_vfio_reset_handler; since v6.18 each handler
 * prints a dev_err_once deprecation notice when it first runs).
 *
 * A fault injected on the device (`reset-fails`, `phy-timeout`, `mac-reset-fails`,
 * `ring-timeout`) makes the hardware or the mapping misbehave the way each module can
 * notice it; the module's own lines and return value follow from that.
 */
import type { Machine, Device, ResetMethod } from '../base/machine.js';
import type { ErrnoName } from '../base/errno.js';
import { devErr, devInfo, devWarn } from '../klog/klog.js';
import { requestModule } from '../base/module.js';
import { mmioRead, mmioWrite, XGMAC, XGBE, FLEXRM, GENERIC_SOFT_RESET, flexrmRings } from '../userspace/registers.js';
import { syncActivity } from '../userspace/engine.js';

/** vfio_platform_lookup_reset: exact strcmp of the first compatible in the handler list. */
function lookupReset(m: Machine, compat: string): ResetMethod | null {
  const h = m.resetHandlers.find((r) => r.compatible === compat);
  return h ? { kind: 'module', module: h.module, compatible: compat } : null;
}

/**
 * The what-if generic reset-controller path (Geert Uytterhoeven's series, never merged):
 * exactly one `resets` line that no other device uses.
 */
export function genericResetCandidate(dev: Device): ResetMethod | null {
  if (dev.resets.length !== 1) return null;
  const line = dev.resets[0]!;
  if (line.sharedWith.length > 0) return null;
  return { kind: 'reset-controller', controller: line.controller, args: line.args };
}

/** vfio_platform_get_reset: ACPI _RST, else a registered handler, else request_module("vfio-reset:<compat>") and look again. */
export function getReset(m: Machine, dev: Device, compat: string): ResetMethod | null {
  if (dev.acpiRst) return { kind: 'acpi' };
  let r = lookupReset(m, compat);
  if (!r) {
    requestModule(m, `vfio-reset:${compat}`);
    r = lookupReset(m, compat);
  }
  if (!r && m.options.genericResetWhatIf) r = genericResetCandidate(dev);
  return r;
}

/**
 * dev_err_once in a module: printed the first time after each load of `module`
 * (the once-flag lives in the module's data, so rmmod + modprobe prints it again).
 */
export function devErrOnce(m: Machine, module: string, dev: Device, text: string): void {
  const mod = m.modules.find((x) => x.name === module);
  if (!mod) return;
  const once = (mod.once ??= []);
  if (once.includes(text)) return;
  once.push(text);
  devErr(m, dev, text);
}

/** What vfio_platform_call_reset returned: 0, or a negative errno with its name. */
export interface ResetResult {
  /** a reset function exists (the VFIO: reset line was logged) */
  ran: boolean;
  rc: number;
  errno: ErrnoName | null;
  /** extra_dbg: the ACPI exception text, else "" */
  extra: string;
}

const ERR: Record<string, [number, ErrnoName]> = { ENOMEM: [-12, 'ENOMEM'], ETIMEDOUT: [-110, 'ETIMEDOUT'], EINVAL: [-22, 'EINVAL'], EIO: [-5, 'EIO'] };
const fail = (name: keyof typeof ERR, extra = ''): Omit<ResetResult, 'ran'> => ({ rc: ERR[name]![0], errno: ERR[name]![1], extra });
const OK: Omit<ResetResult, 'ran'> = { rc: 0, errno: null, extra: '' };

const readl = (dev: Device, region: number, off: number): number => mmioRead(dev, region, off, 4);
const writel = (dev: Device, region: number, off: number, v: number): void => mmioWrite(dev, region, off, 4, v >>> 0);
const faulty = (dev: Device, f: string): boolean => dev.faults?.includes(f) ?? false;

/** vfio_platform_calxedaxgmac_reset: interrupts off, DMA TX/RX stop, MAC TX/RX off. */
function calxedaxgmacReset(dev: Device): Omit<ResetResult, 'ran'> {
  if (faulty(dev, 'reset-fails')) return fail('ENOMEM'); // ioremap of region 0 failed
  writel(dev, 0, XGMAC.DMA_INTR_ENA, 0);
  writel(dev, 0, XGMAC.DMA_CONTROL, readl(dev, 0, XGMAC.DMA_CONTROL) & ~(XGMAC.DMA_CONTROL_ST | XGMAC.DMA_CONTROL_SR));
  writel(dev, 0, XGMAC.CONTROL, readl(dev, 0, XGMAC.CONTROL) & ~(XGMAC.MAC_ENABLE_TX | XGMAC.MAC_ENABLE_RX));
  return OK;
}

const mmdRead = (dev: Device, mmd: number, r: number): number => {
  const a = (mmd << 16) | (r & 0xffff);
  writel(dev, 1, XGBE.PCS_SELECT, a >> 8);
  return readl(dev, 1, (a & 0xff) << 2);
};
const mmdWrite = (dev: Device, mmd: number, r: number, v: number): void => {
  const a = (mmd << 16) | (r & 0xffff);
  writel(dev, 1, XGBE.PCS_SELECT, a >> 8);
  writel(dev, 1, (a & 0xff) << 2, v);
};

/** vfio_platform_amdxgbe_reset: PHY reset through MDIO, AN off, MAC software reset; warns, always returns 0. */
function amdxgbeReset(m: Machine, dev: Device): Omit<ResetResult, 'ran'> {
  if (faulty(dev, 'reset-fails') || dev.regions.length < 2) return fail('ENOMEM'); // ioremap of region 0 or 1 failed
  mmdWrite(dev, XGBE.MMD_PCS, XGBE.MDIO_CTRL1, mmdRead(dev, XGBE.MMD_PCS, XGBE.MDIO_CTRL1) | XGBE.MDIO_CTRL1_RESET);
  let pcs = 0;
  for (let count = 50; count > 0; count--) {
    pcs = mmdRead(dev, XGBE.MMD_PCS, XGBE.MDIO_CTRL1); // after msleep(20)
    if (!(pcs & XGBE.MDIO_CTRL1_RESET)) break;
  }
  if (pcs & XGBE.MDIO_CTRL1_RESET) devWarn(m, dev, 'vfio_platform_amdxgbe_reset: XGBE PHY reset timeout');
  mmdWrite(dev, XGBE.MMD_AN, XGBE.MDIO_CTRL1, mmdRead(dev, XGBE.MMD_AN, XGBE.MDIO_CTRL1) & ~XGBE.MDIO_AN_CTRL1_ENABLE);
  mmdWrite(dev, XGBE.MMD_AN, XGBE.MDIO_AN_INTMASK, 0);
  mmdWrite(dev, XGBE.MMD_AN, XGBE.MDIO_AN_INT, 0);
  writel(dev, 0, XGBE.DMA_MR, readl(dev, 0, XGBE.DMA_MR) | 1);
  let count = 2000;
  while (--count && readl(dev, 0, XGBE.DMA_MR) & 1);
  if (!count) devWarn(m, dev, 'vfio_platform_amdxgbe_reset: MAC SW reset failed');
  return OK;
}

/** vfio_platform_bcmflexrm_reset: every ring with the version magic is deactivated and flushed. */
function bcmflexrmReset(m: Machine, dev: Device): Omit<ResetResult, 'ran'> {
  if (faulty(dev, 'reset-fails')) return fail('ENOMEM');
  let ret = 0;
  let ringNum = 0;
  for (let r = 0; r < flexrmRings(dev); r++) {
    const ring = r * FLEXRM.RING_REGS_SIZE;
    if (readl(dev, 0, ring + FLEXRM.RING_VER) !== FLEXRM.RING_VER_MAGIC) continue;
    let rc = 0;
    writel(dev, 0, ring + FLEXRM.RING_CONTROL, 0);
    writel(dev, 0, ring + FLEXRM.RING_CONTROL, FLEXRM.CONTROL_FLUSH);
    let timeout = 1000;
    do if (readl(dev, 0, ring + FLEXRM.RING_FLUSH_DONE) & FLEXRM.FLUSH_DONE) break; while (--timeout);
    if (!timeout) rc = -110;
    else {
      writel(dev, 0, ring + FLEXRM.RING_CONTROL, 0);
      timeout = 1000;
      do if (!(readl(dev, 0, ring + FLEXRM.RING_FLUSH_DONE) & FLEXRM.FLUSH_DONE)) break; while (--timeout);
      if (!timeout) rc = -110;
    }
    if (rc) {
      devWarn(m, dev, `FlexRM ring${ringNum} shutdown error ${rc}`);
      ret |= rc;
    }
    ringNum++;
  }
  return ret === 0 ? OK : ret === -110 ? fail('ETIMEDOUT') : { rc: ret, errno: 'EIO', extra: '' };
}

/** A reset of the whole block (ACPI _RST, a tree-declared module, the reset-controller what-if): SOFT_RESET. */
function blockReset(dev: Device, r: ResetMethod): Omit<ResetResult, 'ran'> {
  if (faulty(dev, 'reset-fails')) return r.kind === 'acpi' ? fail('EINVAL', 'AE_ERROR') : fail('EIO');
  writel(dev, 0, 0x0, GENERIC_SOFT_RESET);
  return OK;
}

/** The reset operation of a method, on the device's registers. */
function resetOperation(m: Machine, dev: Device, r: ResetMethod): Omit<ResetResult, 'ran'> {
  if (r.kind !== 'module') return blockReset(dev, r);
  switch (r.compatible) {
    case 'calxeda,hb-xgmac': return calxedaxgmacReset(dev);
    case 'amd,xgbe-seattle-v1a': return amdxgbeReset(m, dev);
    case 'brcm,iproc-flexrm-mbox': return bcmflexrmReset(m, dev);
    default: return blockReset(dev, r);
  }
}

/**
 * vfio_platform_call_reset, with the messages of open, close and VFIO_DEVICE_RESET:
 * `VFIO: reset` (info) before the handler runs, then the handler's own lines. No reset:
 * `VFIO: no reset function found!` (warn) and -EINVAL.
 */
export function callReset(m: Machine, dev: Device): ResetResult {
  const r = dev.vfio?.reset ?? null;
  if (!r) {
    devWarn(m, dev, 'VFIO: no reset function found!');
    return { ran: false, ...fail('EINVAL') };
  }
  devInfo(m, dev, 'VFIO: reset');
  if (r.kind === 'module') {
    // the handler's own first line: its deprecation notice, at err level, once per module load
    const h = m.resetHandlers.find((x) => x.module === r.module);
    if (h?.deprecation) devErrOnce(m, h.module, dev, h.deprecation);
  }
  const res = resetOperation(m, dev, r);
  syncActivity(m, dev);
  return { ran: true, ...res };
}
