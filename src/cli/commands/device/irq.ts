/** `irq DEV INDEX ACTION`: VFIO_DEVICE_SET_IRQS (cf. vfio_platform_irq.c), or read(2) of the eventfd an index signals. */
import { defineCommand, word } from '../../command.js';
import { runIrq, asData, renderText, type IrqOpts } from './shared.js';

export default defineCommand({
  name: 'irq',
  group: 'device',
  summary: 'VFIO_DEVICE_SET_IRQS (ACTION_TRIGGER/MASK/UNMASK with DATA_EVENTFD/NONE), or read the eventfd of an index',
  example: 'vfioctl irq fff51000.ethernet 0 trigger --eventfd rx\nvfioctl irq fff51000.ethernet 0 read\nvfioctl irq fff51000.ethernet 0 unmask',
  args: [
    { name: 'device', complete: 'device' },
    { name: 'index', description: 'IRQ index', complete: 'none' },
    { name: 'action', description: 'trigger | mask | unmask | disable | read', complete: { words: ['trigger', 'mask', 'unmask', 'disable', 'read'] } },
  ],
  flags: [
    { flags: '--eventfd <name>', description: 'trigger: the eventfd to signal (created on first use); without it, trigger fires the handler in software', complete: 'none' },
    { flags: '--owner <name>', description: 'owner whose device fd is used', complete: 'owner' },
    { flags: '--start <n>', description: 'first vector (a platform IRQ index has one: 0)', complete: 'none' },
    { flags: '--count <n>', description: 'number of vectors (1; disable uses 0)', complete: 'none' },
  ],
  machine: 'write',
  options: (p): { device: string; index: string; action: string; opts: IrqOpts } => ({ device: word(p, 0), index: word(p, 1), action: word(p, 2), opts: p.flags as IrqOpts }),
  run: (_rc, o: { device: string; index: string; action: string; opts: IrqOpts }, { m, sys }) => asData(runIrq(m, sys, o.device, o.index, o.action, o.opts)),
  render: renderText,
});
