/**
 * A sequence (passthrough, restore, or one verb over several devices) that the kernel
 * stopped part-way. It is the kernel's refusal (a KernelError: exit 1, and the session
 * keeps what the kernel did, as Linux does), plus what the sequence had done, where it
 * left each device, and the command that goes back.
 */
import { KernelError } from '../base/errors.js';
import type { Device } from '../base/machine.js';

export interface DeviceState {
  device: string;
  driver: string | null;
  driverOverride: string | null;
}

export function deviceState(d: Device): DeviceState {
  return { device: d.name, driver: d.driver, driverOverride: d.driverOverride };
}

export class Stopped extends KernelError {
  constructor(
    /** the verb that stopped */
    readonly verb: string,
    readonly refusal: KernelError,
    /** the steps that were done before the refusal, in order ("DEV: override") */
    readonly done: readonly string[],
    /** every device the command acted on, as the kernel left it */
    readonly left: readonly DeviceState[],
    /** the command line that returns them to where they were, if one does */
    readonly back: string | null,
    /** what the refusal means for the sequence, when the kernel's own words do not say it */
    message?: string,
  ) {
    super(refusal.code, { path: refusal.path, op: refusal.op, hint: refusal.hint, reason: refusal.reason, message: message ?? refusal.message });
    this.name = 'Stopped';
  }

  /** the lines after the error and its hint */
  lines(): string[] {
    const out = [`${this.verb} stopped${this.done.length ? ` after: ${this.done.join(', ')}` : ' before changing anything'}`];
    for (const s of this.left) out.push(`left: ${s.device}: driver ${s.driver ?? '(none)'}, driver_override ${s.driverOverride ?? '(null)'}`);
    if (this.back && this.done.length) out.push(`the way back: ${this.back}`);
    return out;
  }

  json(): Record<string, unknown> {
    return { verb: this.verb, done: this.done, left: this.left, back: this.done.length ? this.back : null };
  }
}
