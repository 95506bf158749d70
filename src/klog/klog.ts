/**
 * The kernel log ring (cf. kernel/printk). Lines carry a simulated timestamp; the
 * clock only moves when the simulation says so, so output is deterministic.
 */
import type { Machine, Device } from '../base/machine.js';

/** The ring keeps at most this many lines, like the kernel's fixed-size buffer. */
export const LOG_RING_LINES = 4000;

export const KERN_ERR = 3;
export const KERN_WARNING = 4;
export const KERN_INFO = 6;
export const KERN_DEBUG = 7;

/** Each line advances the clock a little, as printk timestamps do within one operation. */
const LINE_STEP_US = 41;

export function printk(m: Machine, level: number, text: string): void {
  m.clockUs += LINE_STEP_US;
  m.log.push({ t: m.clockUs, level, text });
  // trim in batches so a burst of lines stays linear
  if (m.log.length > LOG_RING_LINES + 256) m.log.splice(0, m.log.length - LOG_RING_LINES);
}

/** dev_printk prefix: "<driver or bus> <device>: " (cf. dev_driver_string). */
export function devPrefix(dev: Device): string {
  return `${dev.driver ?? dev.bus} ${dev.name}: `;
}

export function devInfo(m: Machine, dev: Device, text: string): void {
  printk(m, KERN_INFO, devPrefix(dev) + text);
}
export function devWarn(m: Machine, dev: Device, text: string): void {
  printk(m, KERN_WARNING, devPrefix(dev) + text);
}
export function devErr(m: Machine, dev: Device, text: string): void {
  printk(m, KERN_ERR, devPrefix(dev) + text);
}

/** The texts of the lines logged since the log had `before` lines (what one command printed). */
export function logSince(m: Machine, before: number): string[] {
  return m.log.slice(before).map((l) => l.text);
}

/**
 * The texts of the lines stamped after `us` (what one command logged, taken by the clock:
 * timestamps strictly increase, so this holds however much of the ring was trimmed since).
 */
export function logAfter(m: Machine, us: number): string[] {
  let i = m.log.length;
  while (i > 0 && m.log[i - 1]!.t > us) i--;
  return m.log.slice(i).map((l) => l.text);
}

/** `[    1.234567] ` as dmesg prints it. */
export function formatTimestamp(us: number): string {
  const s = Math.floor(us / 1_000_000);
  const frac = String(us % 1_000_000).padStart(6, '0');
  return `[${String(s).padStart(5, ' ')}.${frac}]`;
}

/** Advance the clock by one command's worth of wall time (deterministic). */
export function tick(m: Machine, us = 1_000_000): void {
  m.clockUs += us;
}
