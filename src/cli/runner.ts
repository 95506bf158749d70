/**
 * The one runner: every command definition (src/cli/command.ts) goes through the same
 * steps here — commander words → options() → session (src/cli/session.ts withMachine) →
 * run() → the kernel lines that command logged (by clock: lines stamped after the moment
 * run() began) → output (render() for humans, the data itself for --json, the real-system
 * lines for --explain) or the error (reportError) → while a lesson is in progress, the
 * lesson's verdict on where the command left the learner (commands/teach/lesson-check.ts).
 */
import { Command, Option, Argument } from 'commander';
import type { Context } from './context.js';
import type { GlobalOpts, Session } from './session.js';
import type { AnyCommand, ArgSpec, Captured, CommandEntry, FlagSpec, Parsed, RunContext, Stream } from './command.js';
import { HELP_GROUPS, PARENT_COMMANDS } from './command.js';
import { describeError, colorWanted, makeStyle, explainText, kernelLines, type Style } from './output.js';
import { KernelError } from '../base/errors.js';
import { logAfter } from '../klog/klog.js';
import type { Step } from './sys.js';

/**
 * One invocation's view of the output: --json collects the notes (anything the session
 * or a command writes to stderr) into the document, so stderr stays one JSON line.
 */
export interface Invocation {
  /** the caller's own context (real streams) */
  readonly raw: Context;
  /** what commands see: stderr goes to `notes` under --json */
  readonly ctx: Context;
  readonly notes: string[];
  g(): GlobalOpts;
  /** steps of the command that failed, for --explain on a refusal */
  failedSteps: Step[];
  /** the exit status of the command that ran (execute reports its error itself) */
  exit: number;
  /** every command (RunContext.commands) */
  readonly entries: readonly CommandEntry[];
  /** another command line in this process (RunContext.runCaptured; main.ts supplies it, so no command imports main) */
  readonly runCaptured: (argv: readonly string[], ctx: Context, env: Context['env']) => Promise<Captured>;
}

export function invocation(raw: Context, g: () => GlobalOpts, entries: readonly CommandEntry[], runCaptured: Invocation['runCaptured']): Invocation {
  const inv: Invocation = {
    raw,
    notes: [],
    g,
    failedSteps: [],
    exit: 0,
    entries,
    runCaptured,
    ctx: {
      ...raw,
      stderr: {
        write(s) {
          if (!g().json) return raw.stderr.write(s);
          for (const line of s.split('\n')) if (line.trim()) inv.notes.push(line.replace(/^vfioctl: /, ''));
        },
      },
    },
  };
  return inv;
}

function example(text: string): string {
  return `\nExample:\n${text.split('\n').map((l) => '  ' + l).join('\n')}\n`;
}

function argument(a: ArgSpec): Argument {
  const req = a.required ?? true;
  const label = `${a.name}${a.variadic ? '...' : ''}`;
  const arg = new Argument(req ? `<${label}>` : `[${label}]`, a.description);
  if (a.default !== undefined) arg.default(a.default);
  if (a.choices) arg.choices(a.choices);
  return arg;
}

export function option(f: FlagSpec): Option {
  const o = new Option(f.flags, f.description);
  if (f.default !== undefined) o.default(f.default);
  if (f.choices) o.choices(f.choices);
  return o;
}

/** The commander command a definition lives under (the program, or `sysfs`). */
function parentOf(program: Command, name: string): Command {
  let parent = program;
  for (const part of name.split(' ').slice(0, -1)) {
    let c = parent.commands.find((x) => x.name() === part);
    if (!c) {
      const meta = PARENT_COMMANDS[part];
      c = parent.command(part);
      if (meta) c.description(meta.summary).helpGroup(HELP_GROUPS[meta.group]);
    }
    parent = c;
  }
  return parent;
}

/** Add one definition to the commander program; its action runs it through `execute`. */
export function register(program: Command, def: AnyCommand, inv: Invocation): Command {
  const parent = parentOf(program, def.name);
  const c = parent.command(def.name.split(' ').at(-1)!, def.hidden ? { hidden: true } : {});
  c.description(def.summary);
  if (parent === program) c.helpGroup(HELP_GROUPS[def.group]);
  for (const a of def.args ?? []) c.addArgument(argument(a));
  for (const f of def.flags ?? []) c.addOption(option(f));
  if (def.passThroughOptions) c.allowUnknownOption();
  c.addHelpText('after', example(def.example) + (def.help ? `\n${def.help}\n` : ''));
  c.action(async (...xs: unknown[]) => {
    const cmd = xs[xs.length - 1] as Command;
    const parsed: Parsed = { args: cmd.processedArgs as Parsed['args'], flags: cmd.opts() };
    await execute(def, parsed, inv);
  });
  return c;
}

/** The words of argv that name the command (global options skipped): `['sysfs', 'cat']`, `['status']`. */
export function commandWords(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--state') {
      i++;
      continue;
    }
    if (a.startsWith('-')) {
      if (out.length) break;
      continue;
    }
    out.push(a);
    if (out.length === 2) break;
  }
  return out;
}

/**
 * The definitions this command line needs: the one it names (and its siblings under a
 * parent such as `sysfs`), or every one when it names none of them (help, completion,
 * a typo that wants a suggestion).
 */
export async function loadFor(entries: readonly CommandEntry[], argv: readonly string[]): Promise<AnyCommand[]> {
  const [first] = commandWords(argv);
  const chosen = first === undefined ? [] : entries.filter((e) => e.name === first || e.name.startsWith(first + ' '));
  const wanted = chosen.length ? chosen : entries;
  return Promise.all(wanted.map(async (e) => (await e.load()).default));
}

/** options → session → run → kernel lines → output or the error → the lesson's verdict */
export async function execute(def: AnyCommand, parsed: Parsed, inv: Invocation): Promise<void> {
  let failure: unknown = null;
  try {
    await perform(def, parsed, inv);
  } catch (e) {
    failure = e;
    inv.exit = await reportError(e, inv);
  }
  if (def.lessonCheck !== false) await lessonCheck(inv, failure, def.name.split(' ')[0]!);
}

function stream(inv: Invocation, g: GlobalOpts): Stream {
  const ctx = inv.raw;
  return {
    live: !g.json,
    async write(text) {
      if (!g.json) ctx.stdout.write(text(await styleFor(ctx, g, 'stdout')));
    },
    async pause(ms, what) {
      if (ms <= 0) return;
      // a terminal that reports no width (some recorders) would make ora clear the screen line by line
      if (what !== undefined && !g.json && ctx.stdoutIsTTY && (process.stdout.columns ?? 0) > 0) {
        const ora = (await import('ora')).default;
        const sp = ora({ text: what, stream: process.stdout }).start();
        await ctx.sleep(ms);
        sp.stop();
      } else await ctx.sleep(ms);
    },
  };
}

async function perform(def: AnyCommand, parsed: Parsed, inv: Invocation): Promise<void> {
  const g = inv.g();
  const opts: unknown = def.options(parsed);
  const extra: Step[] = [];
  const rc: RunContext = {
    ctx: inv.ctx,
    g,
    note(text) {
      if (!g.quiet) inv.ctx.stderr.write(`vfioctl: ${text}\n`);
    },
    explain(...steps) {
      extra.push(...steps);
    },
    stream: stream(inv, g),
    runCaptured: (argv, env) => inv.runCaptured(argv, inv.ctx, env ?? inv.ctx.env),
    commands: () => Promise.all(inv.entries.map(async (e) => (await e.load()).default)),
  };
  const withKernelLines = def.kernelLines ?? def.machine === 'write';
  let session: Session | null = null;
  let dmesg: string[] = [];
  let data: object;
  try {
    if (def.machine === 'none') data = (await def.run(rc, opts, null)) as object;
    else {
      const { withMachine } = await import('./session.js');
      data = await withMachine(inv.ctx, g, def.machine, async (s) => {
        session = s;
        const since = s.m.clockUs;
        try {
          const d = (await def.run(rc, opts, s)) as object;
          dmesg = logAfter(s.m, since);
          return d;
        } catch (e) {
          if (e instanceof KernelError) e.dmesg = logAfter(s.m, since);
          throw e;
        }
      });
    }
  } catch (e) {
    inv.failedSteps = [...((session as Session | null)?.sys.steps ?? []), ...extra];
    throw e;
  }
  const steps = [...((session as Session | null)?.sys.steps ?? []), ...extra];
  const out = inv.raw.stdout;
  if (g.json) {
    const doc: Record<string, unknown> = { ...(def.json ? def.json(data) : data) };
    if (withKernelLines) doc['dmesg'] = dmesg;
    if (g.explain) doc['explain'] = steps;
    if (inv.notes.length) doc['notices'] = inv.notes;
    out.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  const st = await styleFor(inv.raw, g, 'stdout');
  if (g.explain) out.write(explainText(steps, st) + (steps.length ? '\n' : ''));
  out.write(def.render(data, st));
  if (withKernelLines && !g.quiet) out.write(kernelLines(dmesg));
}

export function styleFor(ctx: Context, g: GlobalOpts, stream: 'stdout' | 'stderr'): Promise<Style> {
  return makeStyle(!(g.json && stream === 'stdout') && colorWanted(ctx, g.color === false, stream));
}

/** A failed command: one JSON line on stderr (--json) or the error lines; returns the exit status. */
export async function reportError(e: unknown, inv: Invocation): Promise<number> {
  const g = inv.g();
  const ctx = inv.raw;
  const rep = describeError(e);
  if (ctx.env['VFIOCTL_DEBUG'] && e instanceof Error) ctx.stderr.write((e.stack ?? '') + '\n');
  // a status passed on (vfioctl run -- CMD): CMD said what it had to say
  if (rep.lines.length === 0) return rep.exit;
  const steps = g.explain ? inv.failedSteps : [];
  if (g.json) {
    const err: Record<string, unknown> = { ...rep.json };
    if (steps.length) err['explain'] = steps;
    if (inv.notes.length) err['notices'] = inv.notes;
    ctx.stderr.write(JSON.stringify({ error: err }) + '\n');
    return rep.exit;
  }
  if (steps.length) {
    const st = await styleFor(ctx, g, 'stdout');
    ctx.stdout.write(explainText(steps, st, { refused: true }) + '\n');
  }
  const st = await styleFor(ctx, g, 'stderr');
  ctx.stderr.write(rep.lines.map((l, i) => (i === 0 ? st.red('vfioctl: ') + l : l.startsWith('hint:') ? st.yellow('hint:') + l.slice(5) : l)).join('\n') + '\n');
  return rep.exit;
}

/**
 * While a lesson is in progress, after any command but the teaching ones: tell the learner
 * where the command left them (stderr; never under --json or -q) and save the progress.
 */
async function lessonCheck(inv: Invocation, failure: unknown, command: string): Promise<void> {
  const g = inv.g();
  const { mainStatePath, lessonInProgress } = await import('./session.js');
  const main = mainStatePath(inv.ctx, g);
  const lesson = lessonInProgress(inv.ctx, main);
  if (!lesson) return;
  try {
    const { afterCommand } = await import('./commands/teach/lesson-check.js');
    await afterCommand(inv.ctx, g, main, lesson, failure, command);
  } catch (e) {
    inv.ctx.stderr.write(`vfioctl: lesson ${lesson}: could not check progress: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}
