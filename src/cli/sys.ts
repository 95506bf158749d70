/**
 * The command-side handle on the simulated kernel: every state change is a sysfs
 * write, a module command or a VFIO ioctl made through here, and each is recorded
 * with the reason for it, which is what `--explain` prints.
 */
import type { Machine } from '../base/machine.js';
import { sysRoot, missingPathReason } from '../sysfs/tree.js';
import { vread, vwrite, vlist, resolve, linkText, type VEntry, type VDir } from '../sysfs/vfs.js';

export interface Step {
  /** the shell line (or ioctl call) a real system runs for this step */
  command: string;
  /** why this step, in one line */
  why: string;
  /** what came back: "ok", the value read, or an errno */
  result?: string;
}

/** Quote for a POSIX shell when needed. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export class Sys {
  readonly steps: Step[] = [];
  private rootCache: VDir | null = null;
  constructor(readonly m: Machine) {}

  get root(): VDir {
    return (this.rootCache ??= sysRoot(this.m));
  }
  /** the tree is generated from the machine: drop it after a change */
  private changed(): void {
    this.rootCache = null;
  }

  record(command: string, why: string, result?: string): Step {
    const s: Step = { command, why };
    if (result !== undefined) s.result = result;
    this.steps.push(s);
    return s;
  }

  /** `echo VALUE > PATH` (or `echo -n`), the write(2) the shell does. */
  write(path: string, value: string, why: string, opts: { newline?: boolean } = {}): number {
    const nl = opts.newline ?? true;
    const data = nl ? value + '\n' : value;
    // echo is not safe for every value: dash's echo turns backslashes into escapes and a
    // leading "-n"/"-e" is taken as an option, so such values are written with printf
    const viaPrintf = value.includes('\\') || value.startsWith('-');
    const cmd = viaPrintf
      ? ['printf', nl ? `'%s\\n'` : `'%s'`, shq(value), '>', shq(path)].join(' ')
      : ['echo', ...(nl ? [] : ['-n']), ...(value === '' ? [] : [shq(value)]), '>', shq(path)].join(' ');
    const step = this.record(cmd, why);
    try {
      const n = vwrite(this.root, path, data, (p) => missingPathReason(this.m, p));
      step.result = 'ok';
      return n;
    } catch (e) {
      step.result = (e as { code?: string }).code ?? 'error';
      throw e;
    } finally {
      this.changed();
    }
  }

  read(path: string, why: string): string {
    const step = this.record(`cat ${shq(path)}`, why);
    const v = vread(this.root, path);
    step.result = v.replace(/\n$/, '');
    return v;
  }

  readlink(path: string, why: string): string | null {
    const step = this.record(`readlink ${shq(path)}`, why);
    try {
      const r = resolve(this.root, path, false, 'read');
      if (r.node.kind !== 'link') return null;
      step.result = linkText(r.path, r.node.target);
      return r.node.target;
    } catch {
      step.result = '(no such link: readlink prints nothing and fails)';
      return null;
    }
  }

  ls(path: string, why: string): VEntry[] {
    this.record(`ls -l ${shq(path)}`, why);
    return vlist(this.root, path);
  }

  /** a change made outside sysfs (modprobe, an ioctl): record, run, drop the cached tree */
  run<T>(command: string, why: string, fn: () => T): T {
    const step = this.record(command, why);
    try {
      const r = fn();
      step.result ??= 'ok';
      return r;
    } catch (e) {
      step.result = (e as { code?: string }).code ?? 'error';
      throw e;
    } finally {
      this.changed();
    }
  }
}
