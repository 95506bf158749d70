/** What override, unbind, bind and probe have in common: the device's sysfs paths and their result. */
import type { Device } from '../../../base/machine.js';
import type { Style } from '../../output.js';

/** The result of one binding write, as --json prints it. */
export interface BindingResult {
  device: string;
  action: string;
  driver: string | null;
  driverOverride: string | null;
  iommuGroup: number | null;
  /** human summary lines */
  notes: string[];
}

export function bindingResult(d: Device, action: string, notes: string[]): BindingResult {
  return { device: d.name, action, driver: d.driver, driverOverride: d.driverOverride, iommuGroup: d.iommuGroup, notes };
}

/** `DEV: note` per line */
export function renderBinding(r: BindingResult, _st: Style): string {
  return r.notes.map((n) => `${r.device}: ${n}\n`).join('');
}

export function devPath(d: Device, attr: string): string {
  return `/sys/bus/${d.bus}/devices/${d.name}/${attr}`;
}

/** The generic reset-controller path is a what-if: say so wherever it was used. */
export function whatIfNotes(d: Device): string[] {
  const r = d.vfio?.reset;
  if (r?.kind !== 'reset-controller') return [];
  return [
    `WHAT-IF, NOT IN MAINLINE LINUX: reset through reset controller ${r.controller} <${r.args.join(' ')}> (Geert Uytterhoeven's generic reset-controller series, never merged)`,
    'the risk that blocked it: an exclusive reset control does not prove the line is dedicated; if another block shares it, a reset here resets that block too',
  ];
}
