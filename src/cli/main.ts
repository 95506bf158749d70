/**
 * vfioctl entry point: the program and its global options (commander); the definitions
 * the command line needs (src/cli/commands/index.ts) are loaded and handed to the runner
 * (src/cli/runner.ts), which runs and renders them and maps errors to exit statuses.
 */
import { Command, CommanderError } from 'commander';
import { type Context, processContext } from './context.js';
import { colorWanted, makeStyle, explainText, EXIT, type Style } from './output.js';
import { invocation, register, loadFor, reportError, commandWords, type Invocation } from './runner.js';
import type { GlobalOpts } from './session.js';
import type { Step } from './sys.js';

const VERSION = '0.1.0';

export interface Out {
  ctx: Context;
  g: GlobalOpts;
  st: Style;
  /** print a result: JSON document (with the explanation as a field) or human text (after the explanation) */
  emit(data: Record<string, unknown>, text: string, steps?: readonly Step[]): void;
  note(text: string): void;
  /** run another vfioctl command in this process, its output captured (demos, lesson hints; no import of main from the commands) */
  runCaptured(argv: string[], env?: Context['env']): Promise<Captured>;
}

const EXIT_HELP = `
Exit status:
  0   success
  1   the simulated kernel refused (errno shown, e.g. ENODEV, EBUSY, ENOENT)
  2   usage error
  3   bad device-tree file (file:line:column)
  4   state file unreadable, corrupt, locked too long or from a newer vfioctl
  70  internal error (a bug in vfioctl)
  74  the output could not be written (standard output on a full device, EIO…);
      the command itself ran and what it changed was saved

State file: --state FILE, else $VFIOCTL_STATE, else $XDG_STATE_HOME/vfioctl/state.json,
else ~/.local/state/vfioctl/state.json. With none yet, the bundled default machine boots.`;

/** The program: name, description, the global options, exit statuses in --help, errors through the context. */
function globalOptions(program: Command, argv: readonly string[], rawCtx: Context): Command {
  return program
    .name('vfioctl')
    .description('Simulate how Linux hands a platform device to user space through VFIO:\ndriver_override, unbind, bind/drivers_probe, IOMMU groups, VFIO info and reset.')
    .version(VERSION, '--version', 'print the version')
    .option('--state <file>', 'state file (the simulated machine)')
    .option('--json', 'print one JSON document on stdout (errors as JSON on stderr)')
    .option('--explain', 'also print the shell lines / ioctls a real system needs for this step, with the reason for each')
    .option('--no-color', 'no colour (also NO_COLOR)')
    .option('-q, --quiet', 'no notes on stderr')
    .option('--dry-run', 'run the command but do not save the machine')
    .addHelpText('after', EXIT_HELP)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => rawCtx.stdout.write(s),
      writeErr: (s) => rawCtx.stderr.write(s),
      outputError: (s, write) => {
        if (argv.includes('--json')) rawCtx.stderr.write(JSON.stringify({ error: { code: 'USAGE', message: s.trim().replace(/^error: /, '') } }) + '\n');
        else write(s.replace(/^error: /, 'vfioctl: '));
      },
    });

}

/** Every command on a commander program (completion and its tests read it). */
export async function allCommands(program: Command, inv: Invocation, action: LegacyAction): Promise<void> {
  const { COMMANDS } = await import('./commands/index.js');
  for (const e of COMMANDS) register(program, (await e.load()).default, inv);
  const { registerCommands } = await import('./commands/legacy.js');
  registerCommands(program, action);
}

/** The whole program, its actions doing nothing (for tests of what completion reads from it). */
export async function programForCompletion(ctx: Context): Promise<Command> {
  const program = new Command();
  globalOptions(program, [], ctx);
  await allCommands(program, invocation(ctx, () => program.opts() as GlobalOpts), () => async () => {});
  return program;
}

export type LegacyAction = (fn: (o: Out, ...args: never[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

export async function main(argv: string[], rawCtx: Context): Promise<number> {
  let exit: number = EXIT.OK;
  if (commandWords(argv).length === 0 && argv.includes('--version') && !argv.includes('--help')) {
    rawCtx.stdout.write(VERSION + '\n');
    return EXIT.OK;
  }
  const program = new Command();
  const g = (): GlobalOpts => program.opts() as GlobalOpts;
  const inv = invocation(rawCtx, g);
  const ctx = inv.ctx;
  let out: Out | null = null;
  const getOut = async (): Promise<Out> => {
    if (out) return out;
    const opts = g();
    const st = await makeStyle(!opts.json && colorWanted(ctx, opts.color === false, 'stdout'));
    out = {
      ctx,
      g: opts,
      st,
      emit(data, text, steps = []) {
        if (opts.json) {
          const doc: Record<string, unknown> = opts.explain ? { ...data, explain: steps } : { ...data };
          if (inv.notes.length) doc['notices'] = inv.notes;
          ctx.stdout.write(JSON.stringify(doc, null, 2) + '\n');
          return;
        }
        if (opts.explain) ctx.stdout.write(explainText(steps, st) + (steps.length ? '\n' : ''));
        if (!opts.quiet || text.length) ctx.stdout.write(text);
      },
      note(text) {
        if (!opts.quiet) ctx.stderr.write(`vfioctl: ${text}\n`);
      },
      runCaptured: (argv, env) => runCaptured(argv, ctx, env ?? ctx.env),
    };
    return out;
  };
  const action = (fn: (o: Out, ...args: never[]) => Promise<void>) =>
    async (...args: unknown[]): Promise<void> => {
      const o = await getOut();
      await (fn as (o: Out, ...a: unknown[]) => Promise<void>)(o, ...args);
    };

  globalOptions(program, argv, rawCtx);

  const { COMMANDS } = await import('./commands/index.js');
  for (const def of await loadFor(COMMANDS, argv)) register(program, def, inv);
  // commands not yet converted to definitions
  const { registerCommands } = await import('./commands/legacy.js');
  registerCommands(program, action);
  const ran = { top: null as string | null };
  program.hook('preAction', (_p, cmd) => {
    let c = cmd;
    while (c.parent && c.parent !== program) c = c.parent;
    ran.top = c.name();
  });

  let failure: unknown = null;
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    failure = e;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      if (e.code === 'commander.executeSubCommandAsync') return EXIT.OK;
      return EXIT.USAGE;
    }
    exit = await reportError(e, inv);
  }
  if (ran.top !== null && !NO_LESSON_CHECK.has(ran.top)) await lessonCheck(await getOut(), failure, ran.top);
  return exit;
}

/** commands after which a lesson in progress is not checked */
const NO_LESSON_CHECK = new Set(['lesson', 'demo', 'completion', '__complete']);

/** While a lesson is in progress, tell the learner where the last command left them. */
async function lessonCheck(o: Out, failure: unknown, command: string): Promise<void> {
  const { mainStatePath, lessonInProgress } = await import('./session.js');
  const main = mainStatePath(o.ctx, o.g);
  const lesson = lessonInProgress(o.ctx, main);
  if (!lesson) return;
  try {
    const { afterCommand } = await import('./commands/lesson.js');
    await afterCommand(o, main, lesson, failure, command);
  } catch (e) {
    o.ctx.stderr.write(`vfioctl: lesson ${lesson}: could not check progress: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

export interface Captured {
  exit: number;
  stdout: string;
  stderr: string;
}

/** One vfioctl command run in this process with its output captured (demos, lesson hints). */
export { processContext } from './context.js';

export async function runCaptured(argv: string[], base: Context, env: Context['env'] = base.env): Promise<Captured> {
  const r: Captured = { exit: 0, stdout: '', stderr: '' };
  const ctx: Context = { ...base, env, stdout: { write: (t) => void (r.stdout += t) }, stderr: { write: (t) => void (r.stderr += t) } };
  r.exit = await main(argv, ctx);
  return r;
}

export async function run(): Promise<void> {
  const ctx = processContext();
  try {
    process.exitCode = await main(process.argv.slice(2), ctx);
  } catch (e) {
    process.stderr.write(`vfioctl: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = EXIT.INTERNAL;
  }
  // stdout is written with write(2) (context.ts): an error has been seen by now
  const { outputFailure } = await import('./context.js');
  const e = outputFailure.stdout;
  if (e) {
    process.stderr.write(`vfioctl: cannot write to standard output: ${e.code ?? 'error'}${e.syscall ? ` (${e.syscall})` : ''}: ${e.message.replace(/^[A-Z]+: /, '').replace(/, write$/, '')}; the command itself ran, and what it changed was saved\n`);
    if (!process.exitCode) process.exitCode = EXIT.OUTPUT;
  }
}
