/** What override, unbind, bind and probe have in common: the device's sysfs paths and their result. */
import type { Machine, Device } from '../../../base/machine.js';
import { findGroup } from '../../../base/machine.js';
import { KernelError, UsageError } from '../../../base/errors.js';
import { lookupDevice } from '../../devices.js';
import { Stopped, deviceState } from '../../stopped.js';
import { shq } from '../../sys.js';
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

/** The devices a binding verb acts on: names on the line, or every member of `--group N`. */
export interface Targets {
  devices: string[];
  group?: number;
}

/** `--group N` as a number, or a usage error */
export function groupFlag(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^[0-9]+$/.test(s)) throw new UsageError(`--group takes an IOMMU group number, not "${s}"`, 'the groups and their numbers: vfioctl groups');
  return Number(s);
}

/** devices from the words and --group; at least one of them, not both */
export function targets(devices: readonly string[], group: number | undefined, usage: string): Targets {
  if (group !== undefined && devices.length) throw new UsageError('give device names or --group, not both', usage);
  if (group === undefined && devices.length === 0) throw new UsageError('missing device name', usage);
  return group === undefined ? { devices: [...devices] } : { devices: [], group };
}

/** Resolve the targets on the machine: each device once, a group's members in the group's order. */
export function resolveTargets(m: Machine, t: Targets): Device[] {
  if (t.group !== undefined) {
    const g = findGroup(m, t.group);
    if (!g) throw new KernelError('ENOENT', { op: 'open', path: `/sys/kernel/iommu_groups/${t.group}`, hint: `no IOMMU group ${t.group} on this machine (groups: ${m.groups.map((x) => x.id).join(', ') || 'none'})` });
    return g.devices.map((n) => lookupDevice(m, n));
  }
  const out: Device[] = [];
  for (const n of t.devices) {
    const d = lookupDevice(m, n);
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

/** `DEV…` or `--group N` as typed back in a suggested command line */
export function targetWords(t: Targets, devs: readonly Device[]): string {
  return t.group !== undefined ? `--group ${t.group}` : devs.map((d) => shq(d.name)).join(' ');
}

/** One result, or { results } for several devices (--json keeps the one-device shape scripts know). */
export type Many<R> = R | { results: R[] };

export function many<R>(rs: R[], t: Targets): Many<R> {
  return rs.length === 1 && t.group === undefined ? rs[0]! : { results: rs };
}

export function eachResult<R>(d: Many<R>): R[] {
  return typeof d === 'object' && d !== null && 'results' in d ? (d as { results: R[] }).results : [d as R];
}

/**
 * Run one verb over several devices; a refusal after the first device has changed
 * something says what was done and where every device is.
 */
export function overEach(verb: string, devs: readonly Device[], back: string | null, fn: (d: Device) => BindingResult): BindingResult[] {
  const out: BindingResult[] = [];
  for (const d of devs) {
    try {
      out.push(fn(d));
    } catch (e) {
      if (!(e instanceof KernelError) || devs.length === 1) throw e;
      throw new Stopped(verb, e, out.map((r) => `${r.device}: ${r.action}`), devs.map((x) => deviceState(x)), back);
    }
  }
  return out;
}

export function renderMany(d: Many<BindingResult>, st: Style): string {
  return eachResult(d).map((r) => renderBinding(r, st)).join('');
}
