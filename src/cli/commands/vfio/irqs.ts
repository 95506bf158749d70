/** `irqs DEV`: VFIO_DEVICE_GET_IRQ_INFO for each IRQ index (cf. drivers/vfio/platform/vfio_platform_irq.c). */
import { defineCommand, word } from '../../command.js';
import { lookupDevice } from '../../devices.js';
import { irqInfo } from '../../../vfio/info.js';
import { table } from '../../output.js';
import { hexFlags, queryDevice, queryOwnerOption } from './shared.js';
import { ownerFlag } from '../owner/shared.js';

export interface IrqsData {
  device: string;
  irqs: { index: number; count: number; flags: number; flagNames: string[]; level: boolean }[];
}

export default defineCommand({
  name: 'irqs',
  group: 'vfio',
  summary: 'VFIO_DEVICE_GET_IRQ_INFO for each IRQ index: count, flags',
  example: 'vfioctl irqs fff51000.ethernet',
  args: [{ name: 'device', complete: 'device' }],
  flags: [queryOwnerOption],
  machine: 'write',
  options: (p) => ({ device: word(p, 0), owner: ownerFlag(p) }),
  run(_rc, o: { device: string; owner: string | undefined }, { m, sys }): IrqsData {
    const dev = lookupDevice(m, o.device);
    return queryDevice(m, sys, dev, o.owner, () => {
      const q = irqInfo(dev);
      q.forEach((x) => sys.record(`ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, {argsz=16, index=${x.index}}) → count=1 flags=${hexFlags(x.flags)}`, 'each platform IRQ is its own index with one vector', 'ok'));
      return { device: dev.name, irqs: q.map(({ index, count, flags, flagNames, level }) => ({ index, count, flags, flagNames, level })) };
    });
  },
  render: (d: IrqsData) =>
    d.irqs.length
      ? table([['index', 'count', 'flags', 'names', 'trigger'], ...d.irqs.map((x) => [String(x.index), '1', hexFlags(x.flags), x.flagNames.join('|'), x.level ? 'level (automasked: unmask after each)' : 'edge'])])
      : `${d.device}: no IRQs\n`,
});
