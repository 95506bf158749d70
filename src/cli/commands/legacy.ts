/** Every command: its flags, help example, and the wiring to its run/render functions. */
import { type Command, Option, Argument } from 'commander';
import type { Out } from '../main.js';
import { withMachineLogged as withMachine } from '../runner.js';

type Action = (fn: (o: Out, ...args: never[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

function example(cmd: Command, text: string): Command {
  return cmd.addHelpText('after', `\nExample:\n${text.split('\n').map((l) => '  ' + l).join('\n')}\n`);
}

export function registerCommands(program: Command, action: Action): void {
  const grp = (c: Command, group: string): Command => c.helpGroup(group);
  const MACHINE = 'Machine:';
  const TEACH = 'Teaching:';

  // ---- machine ----
  example(
    grp(program.command('load').argument('<tree>', 'bundled tree name (default, highbank, p4080, …) or a .yaml/.dts/.dtb file').description('boot a machine from a device tree (replaces the current one)'), MACHINE)
      .option('--force', 'replace a machine that has open VFIO devices, or a corrupt state file')
      .option('--legacy', 'print the older kernels\' messages (≈v4.11–v6.1 vfio-platform, "probe of … failed")')
      .option('-I, --include <dir...>', 'include directory for cpp/dtc (.dts input)')
      .action(action(async (o, tree: string, opts: { force?: boolean; legacy?: boolean; include?: string[] }) => {
        const { load } = await import('./load.js');
        await load(o, tree, opts);
      })),
    'vfioctl load highbank\nvfioctl load ./board.dts -I ./include\nvfioctl load /sys/firmware/fdt',
  );

  // ---- inspect ----
  // ---- teaching ----
  example(
    grp(program.command('lesson').argument('[name]', 'lesson to start or resume (name or letter), or: hint, stop').option('--restart', 'start the lesson over on a fresh machine').description('guided lessons you type yourself, each on its own scratch machine (no name: list them with progress)'), TEACH).action(
      action(async (o, name: string | undefined, opts: { restart?: boolean }) => {
        const { lessonCmd } = await import('./lesson.js');
        await lessonCmd(o, name, opts);
      }),
    ),
    'vfioctl lesson                # list lessons and progress\nvfioctl lesson passthrough    # start (or resume) lesson a\nvfioctl lesson hint           # the current step: hint, command, real-system lines\nvfioctl lesson stop           # back to your own machine',
  );
  example(
    grp(program.command('demo').argument('[name]', 'demo to run (no name: list them)').option('--pace <ms>', 'pause before each command, in milliseconds (default 700 on a terminal, 0 otherwise)').description('a lesson run for an audience: each command printed, run and answered, on a scratch machine'), TEACH).action(
      action(async (o, name: string | undefined, opts: { pace?: string }) => {
        const { demoCmd } = await import('./demo.js');
        await demoCmd(o, name, opts);
      }),
    ),
    'vfioctl demo passthrough --pace 1500\nvfioctl demo no-reset > no-reset.txt',
  );
  example(
    grp(program.command('export').argument('<dir>', 'directory to create (or an empty one)').description('write /sys and /dev/vfio as a real directory tree (for ls -l, cat, readlink, find)'), TEACH)
      .option('--force', 'replace the sys/ and dev/ of an earlier export in <dir> (nothing else in it is touched)')
      .action(action(async (o, dir: string, opts: { force?: boolean }) => {
        const { exportCmd } = await import('./export.js');
        await exportCmd(o, dir, opts);
      })),
    'vfioctl export /tmp/machine && readlink /tmp/machine/sys/bus/platform/devices/fff51000.ethernet/driver\nvfioctl export --force /tmp/machine   # again, after a change',
  );
  example(
    grp(program.command('graph').description('the machine as a picture: devices in IOMMU groups, drivers, owners (DOT or Mermaid)'), TEACH)
      .addOption(new Option('--format <format>', 'output language').choices(['dot', 'mermaid']).default('dot'))
      .option('--only <what...>', 'draw only: vfio (the groups and devices VFIO is involved with), groups (devices in IOMMU groups), group N')
      .action(action(async (o, opts: { format: 'dot' | 'mermaid'; only?: string[] }) => {
        const { renderGraph, parseOnly } = await import('./graph.js');
        parseOnly(opts.only); // usage errors before the machine is read
        const { explainStatus } = await import('./inspect/status.js');
        const { explainGroups } = await import('./inspect/groups.js');
        await withMachine(o.ctx, o.g, 'read', ({ m, sys }) => {
          // a real system has no picture, but the same facts are read from the same files
          explainStatus(sys, m);
          explainGroups(sys, m);
          const text = renderGraph(m, opts.format, parseOnly(opts.only, m));
          o.emit({ format: opts.format, graph: text }, text, sys.steps);
        });
      })),
    'vfioctl graph | dot -Tsvg > machine.svg\nvfioctl graph --format mermaid > machine.mmd\nvfioctl graph --only vfio | dot -Tsvg > vfio.svg\nvfioctl graph --only group 2',
  );
  example(
    grp(program.command('completion').description('print a bash, zsh or fish completion script'), TEACH)
      .addHelpText('after', '\nDevice, owner, driver and module names are read from the machine when Tab is pressed\n(read-only: the state file of --state on the line, or $VFIOCTL_STATE, …); with no state file\nyet, the names of the bundled default machine are offered and nothing is written.')
      .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
      .action(action(async (o, shell: 'bash' | 'zsh' | 'fish') => {
        const { completionCmd } = await import('./completion.js');
        await completionCmd(o, program, shell);
      })),
    'source <(vfioctl completion bash)          # in ~/.bashrc\nsource <(vfioctl completion zsh)           # in ~/.zshrc, after compinit\nvfioctl completion fish > ~/.config/fish/completions/vfioctl.fish',
  );
  // for the completion scripts: names from the machine, read-only (never boots a state file)
  program.command('__complete', { hidden: true }).argument('<kind>').argument('[prefix]', 'what the word starts with (sysfs)', '').action(
    action(async (o, kind: string, prefix: string) => {
      const { completeCmd } = await import('./complete.js');
      await completeCmd(o, kind, prefix);
    }),
  );
}
