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

/** The sections of `vfioctl --help`; shown in the order their first command appears in commands/index.ts. */
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

/** Commands that only group subcommands (`vfioctl sysfs cat …`). */
export const PARENT_COMMANDS: Readonly<Record<string, { summary: string; group: HelpGroup }>> = {
  sysfs: { summary: 'the raw sysfs view: cat, write, ls (same paths, contents and errno as Linux)', group: 'inspect' },
};

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
  /** a program to run (`run -- CMD`): completed as a file path */
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

/** What one vfioctl command run in this process printed (`runCaptured`). */
export interface Captured {
  exit: number;
  stdout: string;
  stderr: string;
}

/**
 * Output that cannot wait for run() to return: `demo` shows each command, pauses on it
 * (at the audience's pace) and shows its answer before the next one runs. The one typed
 * way for a command to print while it runs; nothing else may. Under --json it writes
 * nothing (the data run() returns is the document); pauses still take their time.
 */
export interface Stream {
  /** false under --json: nothing written here is shown */
  readonly live: boolean;
  /** text for stdout now, styled as stdout is (colour only on a terminal) */
  write(text: (st: Style) => string): Promise<void>;
  /** wait `ms`; on a terminal that reports its width, with a spinner saying `what` */
  pause(ms: number, what?: string): Promise<void>;
}

/** What `run()` gets besides its options and the session. */
export interface RunContext {
  readonly ctx: Context;
  readonly g: GlobalOpts;
  /** a note for the user: stderr for humans, the document's `notices` under --json; none with -q */
  note(text: string): void;
  /** real-system lines for --explain, for a command that has no session (machine 'none') */
  explain(...steps: Step[]): void;
  /** streamed output (see Stream): `demo` only */
  readonly stream: Stream;
  /**
   * Another vfioctl command line run in this process, its output captured (demo runs its
   * script, lesson hint tries the step's commands); `env` replaces the context's.
   */
  runCaptured(argv: readonly string[], env?: Context['env']): Promise<Captured>;
  /** every command definition, in --help order (completion writes its scripts from them) */
  commands(): Promise<readonly AnyCommand[]>;
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
  /** false: a lesson in progress is not checked after this command (the teaching commands themselves); default true */
  readonly lessonCheck?: boolean;
  /** words → typed options; every usage error (UsageError) is raised here, before the machine is touched */
  options(p: Parsed): O;
  /** do it; return data, never print. The runner saves the machine (write) when it returns. */
  run(rc: RunContext, opts: O, session: M extends 'none' ? null : Session): D | Promise<D>;
  /** the human view of run()'s data */
  render(data: D, style: Style): string;
  /**
   * The --json document, where run()'s data also carries what only render() needs
   * (`lesson stop` names the learner's own state file in its text, not in its JSON).
   * Default: the data itself.
   */
  json?(data: D): object;
}

// eslint-style `any`: a list holds definitions of every option and data type
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandDef<any, any, MachineMode>;

/** Identity with type inference: `export default defineCommand({ … })`. */
export function defineCommand<O, D extends object, M extends MachineMode>(def: CommandDef<O, D, M>): CommandDef<O, D, M> {
  return def;
}

/** The program's own options (src/cli/main.ts puts them on the program; completion offers them everywhere). */
export const VERSION_FLAG: FlagSpec = { flags: '--version', description: 'print the version' };
export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { flags: '--state <file>', description: 'state file (the simulated machine)', complete: 'file' },
  { flags: '--json', description: 'print one JSON document on stdout (errors as JSON on stderr)' },
  { flags: '--explain', description: 'also print the shell lines / ioctls a real system needs for this step, with the reason for each' },
  { flags: '--no-color', description: 'no colour (also NO_COLOR)' },
  { flags: '-q, --quiet', description: 'no notes on stderr' },
  { flags: '--dry-run', description: 'run the command but do not save the machine' },
];

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
