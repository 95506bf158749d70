import { type ErrnoName, errnoNumber, errnoText } from './errno.js';

/**
 * Why the kernel refused, as facts (no command names, no advice): the CLI words the hint
 * from them (src/cli/hints.ts), so renaming a verb never touches the kernel model.
 * `kind` names the situation; the other fields are the names and numbers involved.
 */
export interface Reason {
  readonly kind: string;
  readonly [field: string]: string | number | boolean | null | undefined | readonly string[];
}

/**
 * The simulated kernel refused: a write(2)/read(2)/ioctl(2) returned -errno.
 * `op` says which system call, as the shell would report it ("write error").
 */
export class KernelError extends Error {
  readonly code: ErrnoName;
  readonly path: string | undefined;
  readonly op: 'read' | 'write' | 'open' | 'ioctl' | 'exec' | 'stat' | 'mkdir' | 'rmdir' | 'unlink' | 'symlink' | 'link' | 'rename';
  /** a hint with no command in it (e.g. "a VFIO group is used through ioctl(2)"); command advice comes from `reason` */
  readonly hint: string | undefined;
  /** the facts behind the refusal, for the CLI to turn into advice */
  readonly reason: Reason | undefined;
  /** kernel log lines the refused operation printed (shown with the error, since nothing is saved) */
  dmesg: string[] = [];
  constructor(
    code: ErrnoName,
    opts: { path?: string | undefined; op?: KernelError['op'] | undefined; hint?: string | undefined; reason?: Reason | undefined; message?: string | undefined } = {},
  ) {
    super(opts.message ?? errnoText(code));
    this.name = 'KernelError';
    this.code = code;
    this.path = opts.path;
    this.op = opts.op ?? 'write';
    this.hint = opts.hint;
    this.reason = opts.reason;
  }
  get errno(): number {
    return errnoNumber(this.code);
  }


}

/** Wrong command line. Exit status 2. */
export class UsageError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UsageError';
    this.hint = hint;
  }
}

/** The state file cannot be used (corrupt, newer, locked too long…). Exit status 4. */
export class StateError extends Error {
  readonly path: string;
  readonly hint: string | undefined;
  constructor(path: string, message: string, hint?: string) {
    super(message);
    this.name = 'StateError';
    this.path = path;
    this.hint = hint;
  }
}
