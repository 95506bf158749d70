/**
 * Writing a `uevent` file: a synthetic uevent, cf. lib/kobject_uevent.c
 * (kobject_synth_uevent, kobject_action_type, kobject_action_args) and
 * drivers/base/core.c uevent_store. The action must be one of the kobject actions,
 * optionally followed by a UUID and `KEY=VALUE` arguments (alphanumeric words, one
 * space apart); anything else is EINVAL with a "synth uevent" warning.
 */
import type { Machine, Device } from './machine.js';
import { KernelError } from './errors.js';
import { printk, devErr, KERN_WARNING } from '../klog/klog.js';

const ACTIONS = ['add', 'remove', 'change', 'move', 'online', 'offline', 'bind', 'unbind'];
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const UUID_STRING_LEN = 36;

/** Drop one trailing newline or NUL, as kobject_action_type and kobject_action_args do. */
function trimOne(s: string): string {
  return s.length > 0 && (s.endsWith('\n') || s.endsWith('\0')) ? s.slice(0, -1) : s;
}

/** kobject_action_args: UUID first, then " KEY=VALUE" pairs of alphanumeric words. */
function validArgs(raw: string): boolean {
  const s = trimOne(raw);
  if (s.length < UUID_STRING_LEN || !UUID_RE.test(s)) return false;
  let i = UUID_STRING_LEN;
  const word = (from: number, delim: string): number => {
    let j = from;
    while (j < s.length && s[j] !== delim) if (!/[A-Za-z0-9]/.test(s[j++]!)) return -1;
    return j === from ? -1 : j;
  };
  while (i < s.length) {
    if (s[i] !== ' ') return false;
    const key = i + 1;
    if (key >= s.length) return false;
    const eq = word(key, '=');
    if (eq < 0 || eq >= s.length || s[eq] !== '=') return false;
    if (eq + 1 >= s.length) return false;
    const end = word(eq + 1, ' ');
    if (end < 0) return false;
    i = end;
  }
  return true;
}

/**
 * kobject_synth_uevent for the kobject at `kobjPath` (its path below /sys). Returns
 * null when the event is sent, else logs the warning and returns the failure.
 */
export function kobjectSynthUevent(m: Machine, kobjPath: string, buf: string): 'EINVAL' | null {
  const s = trimOne(buf);
  const sp = s.indexOf(' ');
  const action = sp < 0 ? s : s.slice(0, sp);
  let msg: string | null = null;
  if (s.length === 0 || !ACTIONS.includes(action)) msg = 'unknown uevent action string';
  else if (sp >= 0 && !validArgs(buf.slice(sp + 1))) msg = 'incorrect uevent action arguments';
  if (msg === null) return null;
  printk(m, KERN_WARNING, `synth uevent: ${kobjPath}: ${msg}`);
  return 'EINVAL';
}

/** A non-device kobject's uevent file (bus, driver, module): the error goes back to the writer. */
export function kobjectUeventStore(m: Machine, kobjPath: string, buf: string): number {
  if (kobjectSynthUevent(m, kobjPath, buf) !== null) throw new KernelError('EINVAL', { hint: 'a uevent write takes an action (add, remove, change, move, online, offline, bind, unbind), optionally a UUID and KEY=VALUE arguments' });
  return buf.length;
}

/** drivers/base/core.c uevent_store: a device also logs the failure with its prefix. */
export function deviceUeventStore(m: Machine, dev: Device, kobjPath: string, buf: string): number {
  if (kobjectSynthUevent(m, kobjPath, buf) !== null) {
    devErr(m, dev, 'uevent: failed to send synthetic uevent: -22');
    throw new KernelError('EINVAL', { hint: 'a uevent write takes an action (add, remove, change, move, online, offline, bind, unbind), optionally a UUID and KEY=VALUE arguments' });
  }
  return buf.length;
}
