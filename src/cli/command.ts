/**
 * The one shape every vfioctl command has (after the GitHub CLI's pkg/cmd/<noun>/<verb>):
 * a definition that says what the command line looks like (arguments and flags, each
 * with what Tab completes it to), an `options()` step that turns the parsed words into a
 * typed object and raises every usage error, whether the command needs the machine, a
 * `run()` that returns data and never prints, and a `render()` for humans. `--json`
 * prints the data `run()` returned. src/cli/runner.ts drives every definition the same
 * way: options → session → run → the kernel lines the command logged → output.
 */
import type { Context } from './context.js';
import type { GlobalOpts, Session } from './session.js';
import type { Style } from './output.js';
import type { Step } from './sys.js';

/** The sections of `vfioctl --help`, in the order they are shown. Add new ones at the end. */
export const HELP_GROUPS = {
  machine: 'Machine:',
  inspect: 'Inspect:',
  bind: 'Bind and unbind:',
  vfio: 'VFIO (modules, info, reset):',
  owners: 'User-space owners:',
  device: 'Behind the device fd:',
  fuse: 'Real files (FUSE):',
  teach: 'Teaching:',
} as const;
export type HelpGroup = keyof typeof HELP_GROUPS;

/**
 * What a word completes to when Tab is pressed. The names that live in the machine are
 * read from the state file at completion time (read-only); the others are fixed.
 * `{ words }` is a fixed list.
 */
export type Complete =
  | 'device'
  | 'driver'
  | 'module'
  | 'loaded-module'
  | 'owner'
  | 'group'
  | 'tree'
  | 'lesson'
  | 'demo'
  | 'sysfs'
  | 'file'
  | 'dir'
  | 'command'
  | 'none'
  | { readonly words: readonly string[] };

export interface ArgSpec {
  /** as shown in usage: `<device>` / `[driver]` */
  readonly name: string;
  readonly description?: string;
  /** default true */
  readonly required?: boolean;
  /** takes the rest of the words (`<device...>`) */
  readonly variadic?: boolean;
  readonly default?: string;
  /** commander checks the word against these; Tab completes to them */
  readonly choices?: readonly string[];
  readonly complete: Complete;
}

export interface FlagSpec {
  /** commander's syntax: `--driver <name>`, `-n`, `-I, --include <dir...>` */
  readonly flags: string;
  readonly description: string;
  readonly default?: string | boolean | readonly string[];
  readonly choices?: readonly string[];
  /** what a flag's value completes to (flags that take one); default 'none' */
  readonly complete?: Complete;
}

/** The words commander parsed for one command: positional arguments in order, then flags by camelCase name. */
export interface Parsed {
  readonly args: readonly (string | string[] | undefined)[];
  readonly flags: Readonly<Record<string, unknown>>;
}

export type MachineMode = 'none' | 'read' | 'write';

/** What `run()` gets besides its options and the session. */
export interface RunContext {
  readonly ctx: Context;
  readonly g: GlobalOpts;
  /** a note for the user: stderr for humans, the document's `notices` under --json; none with -q */
  note(text: string): void;
  /** real-system lines for --explain, for a command that has no session (machine 'none') */
  explain(...steps: Step[]): void;
}

export interface CommandDef<O = unknown, D extends object = object, M extends MachineMode = MachineMode> {
  /** `status`, or `sysfs write` for a subcommand */
  readonly name: string;
  readonly group: HelpGroup;
  /** one line for `--help` */
  readonly summary: string;
  /** shown under "Example:" in the command's --help; one command per line */
  readonly example: string;
  /** more text for the command's --help, after the example */
  readonly help?: string;
  readonly args?: readonly ArgSpec[];
  readonly flags?: readonly FlagSpec[];
  readonly hidden?: boolean;
  /** the words after the last argument's start go to it as they are, options included (`run -- CMD -x`): unknown options are kept */
  readonly passThroughOptions?: boolean;
  /** none: run() manages its own files; read: the machine, no lock, nothing saved; write: under the lock, saved */
  readonly machine: M;
  /**
   * Print (human) and add to the document (`dmesg`, --json) the kernel lines the command
   * logged. Default: true for machine 'write'.
   */
  readonly kernelLines?: boolean;
  /** words → typed options; every usage error (UsageError) is raised here, before the machine is touched */
  options(p: Parsed): O;
  /** do it; return data, never print. The runner saves the machine (write) when it returns. */
  run(rc: RunContext, opts: O, session: M extends 'none' ? null : Session): D | Promise<D>;
  /** the human view of run()'s data */
  render(data: D, style: Style): string;
}

// eslint-style `any`: a list holds definitions of every option and data type
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandDef<any, any, MachineMode>;

/** Identity with type inference: `export default defineCommand({ … })`. */
export function defineCommand<O, D extends object, M extends MachineMode>(def: CommandDef<O, D, M>): CommandDef<O, D, M> {
  return def;
}

/** One entry of commands/index.ts: the name (for finding it without loading the others) and its module. */
export interface CommandEntry {
  readonly name: string;
  load(): Promise<{ default: AnyCommand }>;
}

/** A positional word that must be there (commander has checked it) */
export function word(p: Parsed, i: number): string {
  const v = p.args[i];
  return typeof v === 'string' ? v : Array.isArray(v) ? v.join(' ') : '';
}

/** A positional word that may be missing */
export function optionalWord(p: Parsed, i: number): string | undefined {
  const v = p.args[i];
  return typeof v === 'string' ? v : undefined;
}

/** A variadic positional (`<device...>`) */
export function words(p: Parsed, i: number): string[] {
  const v = p.args[i];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
