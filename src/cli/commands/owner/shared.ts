/** What the owner commands share: the --owner name, and the device's activity after the ioctl. */
import { UsageError } from '../../../base/errors.js';
import type { Device } from '../../../base/machine.js';
import type { FlagSpec, Parsed } from '../../command.js';

export const OWNER_NAME = /^[A-Za-z0-9._-]{1,32}$/;

/** --owner NAME, checked */
export function ownerFlag(p: Parsed): string | undefined {
  const v = p.flags['owner'];
  if (v === undefined) return undefined;
  const s = String(v);
  if (!OWNER_NAME.test(s)) throw new UsageError(`bad owner name "${s}"`, 'use 1-32 letters, digits, ".", "_" or "-"');
  return s;
}

export const ownerOption = (description: string, dflt?: string): FlagSpec => ({ flags: '--owner <name>', description, complete: 'owner', ...(dflt === undefined ? {} : { default: dflt }) });

export interface OwnerData {
  device: string;
  action: string;
  activity: { running: boolean; dmaWrites: number; dmaFaults: number; irqsRaised: number[] };
  /** human lines */
  notes: string[];
}

export function ownerData(dev: Device, action: string, notes: string[], extra: Record<string, unknown> = {}): OwnerData {
  const a = dev.activity;
  return { device: dev.name, action, ...extra, activity: { running: a.running, dmaWrites: a.dmaWrites, dmaFaults: a.dmaFaults, irqsRaised: a.irqsRaised }, notes };
}

export const renderNotes = (d: { notes: string[] }): string => d.notes.map((l) => l + '\n').join('');
