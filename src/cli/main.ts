/**
 * vfioctl entry point: the program and its global options (commander); the definitions
 * the command line needs (src/cli/commands/index.ts) are loaded and handed to the runner
 * (src/cli/runner.ts), which runs and renders them and maps errors to exit statuses.
 */
import { Command, CommanderError } from 'commander';
import { type Context, processContext } from './context.js';
import { EXIT } from './output.js';
import { invocation, register, loadFor, reportError, commandWords, option } from './runner.js';
import { GLOBAL_FLAGS, VERSION_FLAG, type Captured } from './command.js';
import type { GlobalOpts } from './session.js';

const VERSION = '0.1.0';

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
  program
    .name('vfioctl')
    .description('Simulate how Linux hands a platform device to user space through VFIO:\ndriver_override, unbind, bind/drivers_probe, IOMMU groups, VFIO info and reset.')
    .version(VERSION, VERSION_FLAG.flags, VERSION_FLAG.description);
  for (const f of GLOBAL_FLAGS) program.addOption(option(f));
  return program
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

export async function main(argv: string[], rawCtx: Context): Promise<number> {
  let exit: number = EXIT.OK;
  if (commandWords(argv).length === 0 && argv.includes('--version') && !argv.includes('--help')) {
    rawCtx.stdout.write(VERSION + '\n');
    return EXIT.OK;
  }
  const program = new Command();
  const g = (): GlobalOpts => program.opts() as GlobalOpts;
  const { COMMANDS } = await import('./commands/index.js');
  const inv = invocation(rawCtx, g, COMMANDS, runCaptured);

  globalOptions(program, argv, rawCtx);
  for (const def of await loadFor(COMMANDS, argv)) register(program, def, inv);

  try {
    await program.parseAsync(argv, { from: 'user' });
    // a command's own error was reported by the runner (runner.ts execute)
    exit = inv.exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      if (e.code === 'commander.executeSubCommandAsync') return EXIT.OK;
      return EXIT.USAGE;
    }
    exit = await reportError(e, inv);
  }
  return exit;
}

export { processContext } from './context.js';

/** One vfioctl command run in this process with its output captured (demos, lesson hints). */
export async function runCaptured(argv: readonly string[], base: Context, env: Context['env'] = base.env): Promise<Captured> {
  const r: Captured = { exit: 0, stdout: '', stderr: '' };
  const ctx: Context = { ...base, env, stdout: { write: (t) => void (r.stdout += t) }, stderr: { write: (t) => void (r.stderr += t) } };
  r.exit = await main([...argv], ctx);
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
