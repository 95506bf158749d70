/**
 * Nodes that early boot code claims before of_platform_populate runs, so they never
 * become platform devices: interrupt controllers set up by of_irq_init() (IRQCHIP_DECLARE),
 * which marks them OF_POPULATED.
 */
import { type DtNode, readStrings, hasProp } from './tree.js';

/** IRQCHIP_DECLARE compatibles of the root interrupt controllers on our boards (drivers/irqchip/irq-gic*.c, irq-mpic) */
const EARLY_IRQCHIPS = new Set([
  'arm,gic-400', 'arm,cortex-a15-gic', 'arm,cortex-a9-gic', 'arm,cortex-a7-gic', 'arm,cortex-a5-gic',
  'arm,arm11mp-gic', 'arm,eb11mp-gic', 'arm,pl390', 'arm,arm1176jzf-devchip-gic', 'arm,tc11mp-gic',
  'qcom,msm-8660-qgic', 'qcom,msm-qgic2', 'arm,gic-v3',
]);

export function isEarlyClaimed(node: DtNode): boolean {
  if (!hasProp(node, 'interrupt-controller')) return false;
  const c = readStrings(node, 'compatible') ?? [];
  return c.some((x) => EARLY_IRQCHIPS.has(x));
}
