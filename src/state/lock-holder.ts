/**
 * Who holds a lock, in words that survive PID namespaces: the pid, the PID namespace it
 * means something in (/proc/self/ns/pid), the boot (/proc/sys/kernel/random/boot_id), the
 * process start time (field 22 of /proc/<pid>/stat), the host name. A pid says whether
 * its process runs only when read in the same namespace of the same boot; any other
 * holder cannot be seen from here and is never judged dead.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

/** The first line of every lock file vfioctl writes. */
export const LOCK_MARKER = 'vfioctl-lock 1';

export interface Holder {
  pid: number;
  /** "pid:[4026531836]", or '' where /proc is missing */
  pidns: string;
  boot: string;
  /** clock ticks after boot, as /proc/<pid>/stat says; '' if unknown */
  start: string;
  host: string;
  /** random, one per lock taken */
  token: string;
}

let me: Holder | null = null;

function readOr(f: string, dflt: string, fn: (f: string) => string): string {
  try {
    return fn(f);
  } catch {
    return dflt;
  }
}

const small = Buffer.allocUnsafe(4096);

/** A /proc file (stat says size 0, so readFileSync would read it in growing chunks): one read(2) of at most 4 KiB. */
function readProc(f: string): string {
  const fd = fs.openSync(f, 'r');
  try {
    return small.toString('latin1', 0, fs.readSync(fd, small, 0, small.length, null));
  } finally {
    fs.closeSync(fd);
  }
}

/** /proc/<pid>/stat field 22 (starttime); '' when unreadable */
function startTime(pid: number | 'self'): string {
  const stat = readOr(`/proc/${pid}/stat`, '', readProc);
  if (!stat) return '';
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? '';
}

/** This process, as a holder (read once). */
export function self(): Holder {
  return (me ??= {
    pid: process.pid,
    pidns: readOr('/proc/self/ns/pid', '', (f) => fs.readlinkSync(f)),
    boot: readOr('/proc/sys/kernel/random/boot_id', '', (f) => readProc(f).trim()),
    start: startTime('self'),
    host: os.hostname(),
    token: '',
  });
}

export function holderText(h: Holder, token: string): string {
  return `${LOCK_MARKER}\npid=${h.pid}\npidns=${h.pidns}\nboot=${h.boot}\nstart=${h.start}\nhost=${h.host}\ntoken=${token}\n`;
}

/**
 * The holder a lock file names; '' for a lock file being written (a prefix of the marker);
 * null when the text is not a vfioctl lock file.
 */
export function parseHolder(text: string): Holder | '' | null {
  if (text.length <= LOCK_MARKER.length) return LOCK_MARKER.startsWith(text) ? '' : null;
  if (!text.startsWith(LOCK_MARKER + '\n')) return null;
  const f = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) f.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const pid = Number(f.get('pid'));
  if (!Number.isSafeInteger(pid) || pid <= 0) return '';
  return { pid, pidns: f.get('pidns') ?? '', boot: f.get('boot') ?? '', start: f.get('start') ?? '', host: f.get('host') ?? '', token: f.get('token') ?? '' };
}

/** Whether the holder's pid means something here: same boot, same PID namespace. */
export function visible(h: Holder, from: Holder): boolean {
  return h.boot !== '' && h.boot === from.boot && h.pidns !== '' && h.pidns === from.pidns;
}

/** Certainly gone: visible from here, and its pid runs no more (or runs another process, or is a zombie). */
export function isGone(h: Holder, from: Holder): boolean {
  if (!visible(h, from)) return false;
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  const stat = readOr(`/proc/${h.pid}/stat`, '', (f) => fs.readFileSync(f, 'latin1'));
  if (!stat) return false;
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  if (state === 'Z' || state === 'X') return true;
  return h.start !== '' && startTime(h.pid) !== h.start;
}

/** "pid 123" for a holder seen from here; more when its pid means something elsewhere. */
export function describeHolder(h: Holder): string {
  const here = self();
  if (visible(h, here)) return `pid ${h.pid}`;
  if (h.boot !== here.boot) return `pid ${h.pid} on ${h.host || 'another host'} (another boot or host${h.boot ? `, boot id ${h.boot}` : ''})`;
  return `pid ${h.pid} in another PID namespace (${h.pidns || 'unknown'})`;
}
