/**
 * Nodes that early boot code claims before of_platform_populate runs, so they never
 * become platform (or AMBA) devices, because the early code sets OF_POPULATED on them:
 *
 *  - of_irq_init() (drivers/of/irq.c, arm/arm64 init_IRQ) for IRQCHIP_DECLARE
 *    compatibles: only available nodes with `interrupt-controller`, starting with the
 *    root controllers (interrupt parent is none or the node itself) and then the
 *    cascaded ones whose parent controller was initialised. PowerPC boards set up their
 *    MPIC from board code instead, so nothing is claimed there.
 *  - of_clk_init() (drivers/clk/clk.c, called from time_init on arm, arm64 and powerpc)
 *    for CLK_OF_DECLARE compatibles: every available matching node ("Don't populate
 *    platform devices"), but only for clock drivers the kernel was built with. The
 *    SP810 driver (CONFIG_CLK_SP810, drivers/clk/versatile/Kconfig) defaults on only
 *    for 32-bit ARM Versatile Express; arm64 defconfig does not build it, so on arm64
 *    Juno's `arm,sp810` sysctl stays an AMBA (primecell) device.
 *
 * TIMER_OF_DECLARE users are NOT claimed: timer_probe() (drivers/clocksource/timer-probe.c)
 * only calls the init functions and leaves the flag alone, so `/timer` etc. still get a
 * platform device (with no driver).
 */
import { type DtNode, readStrings, hasProp } from '../tree.js';
import { irqParent } from './irq.js';
import type { TreeArch } from './arch.js';

/** IRQCHIP_DECLARE compatibles of the GIC family (drivers/irqchip/irq-gic.c, irq-gic-v3.c) */
const EARLY_IRQCHIPS = new Set([
  'arm,gic-400', 'arm,cortex-a15-gic', 'arm,cortex-a9-gic', 'arm,cortex-a7-gic', 'arm,cortex-a5-gic',
  'arm,arm11mp-gic', 'arm,eb11mp-gic', 'arm,pl390', 'arm,arm1176jzf-devchip-gic', 'arm,tc11mp-gic',
  'brcm,brahma-b15-gic', 'qcom,msm-8660-qgic', 'qcom,msm-qgic2', 'arm,gic-v3',
]);

/**
 * CLK_OF_DECLARE compatibles found on our boards: drivers/clk/clk-fixed-rate.c,
 * clk-fixed-factor.c, versatile/clk-sp810.c (the Juno/Versatile Express SP810, itself an
 * arm,primecell node), clk-qoriq.c (QorIQ clockgen + legacy nodes), clk-highbank.c.
 * Not here: CLK_OF_DECLARE_DRIVER users (they clear the flag again) and clock drivers
 * that are platform drivers (renesas cpg-mssr, Stingray's brcm,sr-* PLLs).
 */
const EARLY_CLOCKS = new Set([
  'fixed-clock', 'fixed-factor-clock',
  'fsl,qoriq-clockgen-1.0', 'fsl,qoriq-clockgen-2.0', 'fsl,b4420-clockgen', 'fsl,b4860-clockgen',
  'fsl,p2041-clockgen', 'fsl,p3041-clockgen', 'fsl,p4080-clockgen', 'fsl,p5020-clockgen', 'fsl,p5040-clockgen',
  'fsl,t1023-clockgen', 'fsl,t1040-clockgen', 'fsl,t2080-clockgen', 'fsl,t4240-clockgen',
  'fsl,qoriq-sysclk-1.0', 'fsl,qoriq-sysclk-2.0', 'fsl,qoriq-core-pll-1.0', 'fsl,qoriq-core-pll-2.0',
  'fsl,qoriq-core-mux-1.0', 'fsl,qoriq-core-mux-2.0', 'fsl,qoriq-platform-pll-1.0', 'fsl,qoriq-platform-pll-2.0',
  'calxeda,hb-pll-clock', 'calxeda,hb-a9periph-clock', 'calxeda,hb-a9bus-clock', 'calxeda,hb-emmc-clock',
]);

/** CLK_OF_DECLARE compatibles whose driver only a 32-bit ARM kernel is built with (see above). */
const EARLY_CLOCKS_ARM32 = new Set(['arm,sp810']);

function available(node: DtNode): boolean {
  const s = readStrings(node, 'status')?.[0];
  return s === undefined || s === 'okay' || s === 'ok';
}

function compatibleWith(node: DtNode, set: ReadonlySet<string>): boolean {
  return (readStrings(node, 'compatible') ?? []).some((x) => set.has(x));
}

/** Whether of_irq_init() initialises this node (and so marks it OF_POPULATED). */
function irqInitClaims(node: DtNode, phandles: Map<number, DtNode>, seen: Set<DtNode> = new Set()): boolean {
  if (seen.has(node)) return false;
  seen.add(node);
  if (!hasProp(node, 'interrupt-controller') || !available(node) || !compatibleWith(node, EARLY_IRQCHIPS)) return false;
  const parent = irqParent(node, phandles);
  if (!parent || parent === node) return true; // a root controller
  return irqInitClaims(parent, phandles, seen); // cascaded: only once its parent was set up
}

export function isEarlyClaimed(node: DtNode, phandles: Map<number, DtNode> = new Map(), arch: TreeArch = 'arm'): boolean {
  if (available(node) && (compatibleWith(node, EARLY_CLOCKS) || (arch === 'arm' && compatibleWith(node, EARLY_CLOCKS_ARM32)))) return true;
  if (arch === 'powerpc') return false;
  return irqInitClaims(node, phandles);
}
