/** Following a learner through a scenario: which step they are on, judged from the machine's state alone. */
import type { Machine } from '../base/machine.js';
import type { LessonProgress } from '../state/lessons.js';
import type { Scenario, Step } from './scenario.js';

export function freshProgress(m: Machine): LessonProgress {
  return { step: 0, done: false, since: m.clockUs, clock: m.clockUs };
}

export interface Check {
  /** indexes of the steps the last command completed */
  completed: number[];
  /** the last command changed the machine */
  changed: boolean;
}

/** Advance `p` past every step the machine now shows done, in order. */
export function checkSteps(s: Scenario, p: LessonProgress, m: Machine): Check {
  const completed: number[] = [];
  const changed = m.clockUs !== p.clock;
  while (p.step < s.steps.length && s.steps[p.step]!.done(m, p.since)) {
    completed.push(p.step);
    p.step++;
    p.since = m.clockUs;
  }
  p.done = p.step >= s.steps.length;
  p.clock = m.clockUs;
  return { completed, changed };
}

export function currentStep(s: Scenario, p: LessonProgress): Step | undefined {
  return s.steps[p.step];
}

/** A refusal in lesson terms: the step's own reading first, then the common mistakes. */
export function explainRefusal(step: Step | undefined, code: string, path: string | undefined, m: Machine): string {
  const own = step?.refusal?.(code, m);
  if (own) return own;
  if (code === 'ENOENT' && path?.includes('/drivers/vfio-platform/')) return 'there is no drivers/vfio-platform until the module is loaded: vfioctl modprobe vfio-platform';
  if (code === 'ENOENT' && path?.endsWith('/driver/unbind')) return 'the device is not bound to any driver, so there is nothing to unbind';
  if (code === 'EBUSY') return 'the device is already bound: bind never takes a device from another driver; unbind it first';
  if (code === 'ENODEV') return 'the driver does not match this device: with driver_override set, only the driver it names can bind';
  if (code === 'EPERM') return 'the IOMMU group is not viable: every device in it must be unbound or bound to a VFIO driver (vfioctl groups shows who is in the way)';
  if (code === 'EINVAL' && path?.endsWith('driver_override')) return 'driver_override takes at most 4094 bytes of driver name';
  if (code === 'EWOULDBLOCK') return 'the device is open: the kernel would block the unbind until its owner lets go; close it first';
  return 'the kernel refused; the hint above names the fix';
}
