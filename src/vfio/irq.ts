/**
 * Interrupts behind the device fd, cf. drivers/vfio/platform/vfio_platform_irq.c and
 * vfio_set_irqs_validate_and_prepare (vfio_main.c). Since "vfio/platform: Create
 * persistent IRQ handlers" each IRQ is requested at open with auto-enable off and is
 * enabled when a trigger eventfd is set; the handler of a level IRQ masks the line
 * (automask) before it signals, and user space unmasks it. An edge that arrives while
 * the line is disabled stays pending in the interrupt controller and is delivered when
 * the line is enabled.
 */
import type { Machine, Device, Owner } from '../base/machine.js';
import { KernelError } from '../base/errors.js';
import { irqInfo } from './info.js';
import { hwOf, modelOf } from '../userspace/registers.js';
import type { Recorder } from './recorder.js';

export const IRQ_SET = { DATA_NONE: 0x1, DATA_BOOL: 0x2, DATA_EVENTFD: 0x4, ACTION_MASK: 0x8, ACTION_UNMASK: 0x10, ACTION_TRIGGER: 0x20 } as const;
const DATA_MASK = 0x7;
const ACTION_MASK = 0x38;

/** The live owner holding a device fd on `dev` (the process whose eventfds the IRQs signal). */
export function fdHolder(m: Machine, dev: Device): Owner | undefined {
  return m.owners.find((o) => o.alive && o.devices.includes(dev.name));
}

function triggers(dev: Device): (string | null)[] {
  const v = dev.vfio!;
  if (!v.triggers || v.triggers.length !== dev.irqs.length) v.triggers = dev.irqs.map((_, i) => v.triggers?.[i] ?? null);
  return v.triggers;
}

/** The handler (vfio_irq_handler / vfio_automasked_irq_handler): automask a level IRQ, signal the eventfd. */
function handle(m: Machine, dev: Device, i: number, level: boolean): void {
  const a = dev.activity;
  if (level) a.masked[i] = true;
  a.irqsRaised[i] = (a.irqsRaised[i] ?? 0) + 1;
  const name = dev.vfio?.triggers?.[i];
  const owner = fdHolder(m, dev);
  if (name && owner) {
    owner.eventfds ??= {};
    owner.eventfds[name] = (owner.eventfds[name] ?? 0) + 1;
  }
}

const enabled = (dev: Device, i: number): boolean => dev.vfio?.triggers?.[i] != null;

/** The device raised an edge on IRQ index i. */
export function edgeRaised(m: Machine, dev: Device, i: number): void {
  if (enabled(dev, i)) handle(m, dev, i, false);
  else hwOf(dev).edgePending[i] = true;
}

/** Deliver what the lines hold now: asserted level IRQs that are enabled and unmasked, pending edges. */
export function pollIrqs(m: Machine, dev: Device): number[] {
  const fired: number[] = [];
  if (!dev.vfio) return fired;
  const hw = hwOf(dev);
  const model = modelOf(dev);
  irqInfo(dev).forEach((q, i) => {
    if (!enabled(dev, i)) return;
    if (q.level) {
      if (!dev.activity.masked[i] && model.asserted(hw, dev, i)) (handle(m, dev, i, true), fired.push(i));
    } else if (hw.edgePending[i]) {
      hw.edgePending[i] = false;
      handle(m, dev, i, false);
      fired.push(i);
    }
  });
  return fired;
}

/** vfio_platform_irq_init at first open and vfio_platform_irq_cleanup at last close: no triggers, unmasked. */
export function irqReset(dev: Device): void {
  if (dev.vfio) delete dev.vfio.triggers;
  dev.activity.masked = dev.activity.masked.map(() => false);
}

export interface SetIrqs {
  index: number;
  start: number;
  count: number;
  /** ACTION_* | DATA_* */
  flags: number;
  /** DATA_EVENTFD: the eventfd's name, or null for fd -1 */
  eventfd?: string | null;
  /** DATA_BOOL */
  bool?: boolean;
}

const einval = (why: string): KernelError => new KernelError('EINVAL', { op: 'ioctl', message: 'VFIO_DEVICE_SET_IRQS: Invalid argument', hint: why });

/** VFIO_DEVICE_SET_IRQS on the fd of `owner`: the common checks, then the action. Returns the indexes that fired. */
export function setIrqs(m: Machine, rec: Recorder, dev: Device, owner: Owner, s: SetIrqs): number[] {
  const info = irqInfo(dev);
  const n = info.length;
  const data = s.flags & DATA_MASK;
  const action = s.flags & ACTION_MASK;
  const names = Object.entries(IRQ_SET).filter(([, v]) => (s.flags & v) !== 0).map(([k]) => k).join('|');
  const payload = data === IRQ_SET.DATA_EVENTFD ? `, data=[${s.eventfd ? `eventfd "${s.eventfd}"` : '-1'}]` : data === IRQ_SET.DATA_BOOL ? `, data=[${s.bool ? 1 : 0}]` : '';
  return rec.run(`ioctl(device, VFIO_DEVICE_SET_IRQS, {index=${s.index}, start=${s.start}, count=${s.count}, flags=${names || '0'}${payload}})`, whyOf(action, data, s), () => {
    // vfio_set_irqs_validate_and_prepare
    if (s.index >= n) throw einval(`IRQ index ${s.index} does not exist (num_irqs ${n})`);
    if (s.start >= n || s.start + s.count > n) throw einval(`start ${s.start} + count ${s.count} goes past the ${n} IRQ index(es)`);
    if (data !== IRQ_SET.DATA_NONE && data !== IRQ_SET.DATA_BOOL && data !== IRQ_SET.DATA_EVENTFD) throw einval('the data type must be exactly one of DATA_NONE, DATA_BOOL, DATA_EVENTFD');
    // vfio_platform_set_irqs_ioctl
    if (action !== IRQ_SET.ACTION_MASK && action !== IRQ_SET.ACTION_UNMASK && action !== IRQ_SET.ACTION_TRIGGER) {
      throw new KernelError('ENOTTY', { op: 'ioctl', message: 'VFIO_DEVICE_SET_IRQS: Inappropriate ioctl for device', hint: 'the action must be exactly one of MASK, UNMASK, TRIGGER' });
    }
    const q = info[s.index]!;
    const i = s.index;
    if (action === IRQ_SET.ACTION_MASK || action === IRQ_SET.ACTION_UNMASK) {
      if (s.start !== 0 || s.count !== 1) throw einval('MASK and UNMASK take start 0 and count 1 (one vector per platform IRQ index)');
      if (!q.level) throw einval(`IRQ index ${i} is edge-triggered: only level IRQs are MASKABLE`);
      if (data === IRQ_SET.DATA_EVENTFD) throw einval('masking through an irqfd is not modelled by vfioctl');
      if (data === IRQ_SET.DATA_BOOL && !s.bool) return [];
      dev.activity.masked[i] = action === IRQ_SET.ACTION_MASK;
      return action === IRQ_SET.ACTION_UNMASK ? pollIrqs(m, dev) : [];
    }
    // TRIGGER
    if (s.count === 0 && data === IRQ_SET.DATA_NONE) {
      triggers(dev)[i] = null; // disable
      return [];
    }
    if (s.start !== 0 || s.count !== 1) throw einval('TRIGGER takes start 0 and count 1 (or count 0 with DATA_NONE to disable)');
    const t = triggers(dev);
    if (data === IRQ_SET.DATA_EVENTFD) {
      t[i] = null; // the old eventfd goes first, the line is disabled
      if (s.eventfd) {
        owner.eventfds ??= {};
        owner.eventfds[s.eventfd] ??= 0;
        t[i] = s.eventfd;
        return pollIrqs(m, dev); // enable_irq: an asserted level line or a pending edge fires now
      }
      return [];
    }
    if (data === IRQ_SET.DATA_BOOL && !s.bool) return [];
    // DATA_NONE / BOOL 1: fire the handler in software (loopback)
    handle(m, dev, i, q.level);
    return [i];
  });
}

function whyOf(action: number, data: number, s: SetIrqs): string {
  if (action === IRQ_SET.ACTION_TRIGGER) {
    if (data === IRQ_SET.DATA_EVENTFD) return s.eventfd ? 'wire the IRQ to an eventfd and enable the line: an interrupt still asserted fires at once' : 'fd -1: drop the eventfd, the line is disabled';
    if (s.count === 0) return 'count 0 with DATA_NONE: disable the trigger';
    return 'fire the handler in software (a loopback test of the eventfd)';
  }
  if (action === IRQ_SET.ACTION_UNMASK) return 'a level IRQ stays masked after it fired until user space unmasks it (clear the cause first, or it fires again)';
  if (action === IRQ_SET.ACTION_MASK) return 'mask the line: the device may keep it asserted, nothing is signalled';
  return 'an action the kernel does not know';
}

/** read(2) of an eventfd: the counter, which goes back to 0; EAGAIN when it is 0 (EFD_NONBLOCK). */
export function eventfdRead(owner: Owner, name: string): number {
  const v = owner.eventfds?.[name];
  if (v === undefined) throw new KernelError('EBADF', { op: 'read', message: `owner '${owner.name}' has no eventfd named "${name}"`, reason: { kind: 'no-eventfd', owner: owner.name, eventfd: name } });
  if (v === 0) throw new KernelError('EAGAIN', { op: 'read', message: `read(eventfd "${name}"): Resource temporarily unavailable`, hint: 'the counter is 0: no interrupt was signalled since the last read' });
  owner.eventfds![name] = 0;
  return v;
}
