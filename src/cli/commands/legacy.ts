/** Every command: its flags, help example, and the wiring to its run/render functions. */
import { type Command, Option, Argument } from 'commander';
import type { Out } from '../main.js';
import { withMachineLogged as withMachine } from '../runner.js';
import { UsageError } from '../../base/errors.js';
import { kernelLines } from '../output.js';

type Action = (fn: (o: Out, ...args: never[]) => Promise<void>) => (...args: unknown[]) => Promise<void>;

function example(cmd: Command, text: string): Command {
  return cmd.addHelpText('after', `\nExample:\n${text.split('\n').map((l) => '  ' + l).join('\n')}\n`);
}

export function registerCommands(program: Command, action: Action): void {
  const grp = (c: Command, group: string): Command => c.helpGroup(group);
  const INSPECT = 'Inspect:';
  const BIND = 'Bind and unbind:';
  const VFIO = 'VFIO (modules, info, reset):';
  const OWNERS = 'User-space owners:';
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
  example(
    grp(program.command('show').argument('<device>', 'device name, bus/name or device-tree path').description('one device in full, with its sysfs attributes'), INSPECT).action(
      action(async (o, dev: string) => {
        const { showData, showText, lookupDevice } = await import('./inspect.js');
        await withMachine(o.ctx, o.g, 'read', ({ m, sys }) => {
          const d = lookupDevice(m, dev);
          const data = showData(m, d, sys);
          o.emit(data, o.g.json ? '' : showText(m, d, data.sysfs, o.st), sys.steps);
        });
      }),
    ),
    'vfioctl show fff51000.ethernet',
  );
  example(
    grp(program.command('groups').description('IOMMU groups: members, viability (and why not), /dev/vfio/<N>'), INSPECT).action(
      action(async (o) => {
        const { groupsData, groupsText, explainGroups } = await import('./inspect.js');
        await withMachine(o.ctx, o.g, 'read', ({ m, sys }) => {
          explainGroups(sys, m);
          o.emit(groupsData(m), groupsText(m, o.st), sys.steps);
        });
      }),
    ),
    'vfioctl groups',
  );
  example(
    grp(program.command('dmesg').description('the kernel log of this machine').option('--level <n>', 'only lines at this printk level or more urgent (3 err, 4 warn, 6 info)'), INSPECT).action(
      action(async (o, opts: { level?: string }) => {
        const { dmesgLines, explainDmesg } = await import('./inspect.js');
        const level = opts.level === undefined ? undefined : Number(opts.level);
        if (level !== undefined && !Number.isInteger(level)) throw new UsageError(`--level takes a number 0-7, not "${opts.level}"`);
        await withMachine(o.ctx, o.g, 'read', ({ m, sys }) => {
          explainDmesg(sys, level);
          const lines = dmesgLines(m, level === undefined ? {} : { level });
          o.emit({ lines }, lines.map((l) => l + '\n').join(''), sys.steps);
        });
      }),
    ),
    'vfioctl dmesg | tail',
  );
  // ---- bind ----
  const binding = async (o: Out, fn: (b: typeof import('./binding.js'), s: import('../session.js').Session) => import('./binding.js').BindingResult): Promise<void> => {
    const b = await import('./binding.js');
    await withMachine(o.ctx, o.g, 'write', (s) => {
      const r = fn(b, s);
      const text = r.notes.map((n) => `${r.device}: ${n}\n`).join('') + kernelLines(r.dmesg);
      o.emit({ ...r }, text, s.sys.steps);
    });
  };
  example(
    grp(program.command('unbind').argument('<device>').description("write the device name to its driver's unbind file"), BIND).action(
      action(async (o, dev: string) => binding(o, (b, s) => b.unbind(s.m, s.sys, dev))),
    ),
    'vfioctl unbind fff51000.ethernet',
  );
  example(
    grp(program.command('probe').argument('<device>').description('write the device name to the bus drivers_probe file (succeeds even if the probe fails)'), BIND).action(
      action(async (o, dev: string) => binding(o, (b, s) => b.probe(s.m, s.sys, dev))),
    ),
    'vfioctl probe fff51000.ethernet',
  );
  example(
    grp(program.command('passthrough').argument('<device>').option('--driver <name>', 'VFIO driver (vfio-platform, or vfio-amba for AMBA devices)').description('the whole sequence: modprobe if needed, override, unbind, probe, verify'), BIND).action(
      action(async (o, dev: string, opts: { driver?: string }) => {
        const { passthrough } = await import('./sequence.js');
        await passthrough(o, dev, opts.driver);
      }),
    ),
    'vfioctl passthrough fff51000.ethernet',
  );
  example(
    grp(program.command('restore').argument('<device>').description('back to the host driver: clear override, unbind, probe'), BIND).action(
      action(async (o, dev: string) => {
        const { restore } = await import('./sequence.js');
        await restore(o, dev);
      }),
    ),
    'vfioctl restore fff51000.ethernet',
  );

  // ---- vfio ----
  for (const [name, desc] of [
    ['info', 'VFIO_DEVICE_GET_INFO: flags, number of regions and IRQs'],
    ['regions', 'VFIO_DEVICE_GET_REGION_INFO for each region: offset, size, flags'],
    ['irqs', 'VFIO_DEVICE_GET_IRQ_INFO for each IRQ index: count, flags'],
  ] as const) {
    example(
      grp(program.command(name).argument('<device>').option('--owner <name>', 'ask through the device fd this owner holds (else a short-lived process opens and closes the device: a reset each way)').description(desc), VFIO).action(
        action(async (o, dev: string, opts: { owner?: string }) => {
          const v = await import('./vfio.js');
          await v.infoCmd(o, name, dev, opts.owner);
        }),
      ),
      `vfioctl ${name} fff51000.ethernet`,
    );
  }
  example(
    grp(program.command('reset').argument('<device>').option('--owner <name>', 'owner issuing the ioctl').description('VFIO_DEVICE_RESET (EINVAL without a reset function)'), VFIO).action(
      action(async (o, dev: string, opts: { owner?: string }) => {
        const v = await import('./vfio.js');
        await v.ownerCmd(o, 'reset', dev, opts.owner);
      }),
    ),
    'vfioctl reset fff51000.ethernet',
  );

  // ---- owners ----
  example(
    grp(program.command('open').argument('<device>').option('--owner <name>', 'name of the simulated user-space program', 'vfio-user').description('a user-space owner opens the group and device: the container/group/device-fd ioctl sequence'), OWNERS).action(
      action(async (o, dev: string, opts: { owner: string }) => {
        const v = await import('./vfio.js');
        await v.ownerCmd(o, 'open', dev, opts.owner);
      }),
    ),
    'vfioctl open fff51000.ethernet --owner qemu',
  );
  example(
    grp(program.command('close').argument('<device>').option('--owner <name>', 'owner closing it (default: the one holding it)').description('the owner closes the device fd (reset on last close)'), OWNERS).action(
      action(async (o, dev: string, opts: { owner?: string }) => {
        const v = await import('./vfio.js');
        await v.ownerCmd(o, 'close', dev, opts.owner);
      }),
    ),
    'vfioctl close fff51000.ethernet',
  );
  example(
    grp(program.command('kill').argument('<owner>').description('the owner dies abnormally: the kernel releases every fd it held'), OWNERS).action(
      action(async (o, owner: string) => {
        const v = await import('./vfio.js');
        await v.killCmd(o, owner);
      }),
    ),
    'vfioctl kill qemu',
  );
  example(
    grp(program.command('start').argument('<device>').option('--owner <name>', 'owner programming it').description('the owner programs the device to run: DMA into its IOVA window, IRQs'), OWNERS).action(
      action(async (o, dev: string, opts: { owner?: string }) => {
        const v = await import('./vfio.js');
        await v.ownerCmd(o, 'start', dev, opts.owner);
      }),
    ),
    'vfioctl start fff51000.ethernet',
  );
  example(
    grp(program.command('stop').argument('<device>').option('--owner <name>', 'owner quiescing it').description('the owner quiesces the device'), OWNERS).action(
      action(async (o, dev: string, opts: { owner?: string }) => {
        const v = await import('./vfio.js');
        await v.ownerCmd(o, 'stop', dev, opts.owner);
      }),
    ),
    'vfioctl stop fff51000.ethernet',
  );
  example(
    grp(program.command('unmask').argument('<device>').argument('[index]', 'IRQ index', '0').option('--owner <name>', 'owner').description('VFIO_DEVICE_SET_IRQS ACTION_UNMASK on a level IRQ the handler automasked'), OWNERS).action(
      action(async (o, dev: string, index: string, opts: { owner?: string }) => {
        const v = await import('./vfio.js');
        await v.ownerCmd(o, 'unmask', dev, opts.owner, Number(index));
      }),
    ),
    'vfioctl unmask fff51000.ethernet 0',
  );
  example(
    grp(program.command('policy').argument('<name>', 'generic-reset | dma-exec').argument('<on|off>').description('opt into a what-if that is NOT in mainline Linux (generic reset-controller reset, DMA EXEC mapping flag)'), VFIO).action(
      action(async (o, name: string, onoff: string) => {
        const v = await import('./vfio.js');
        await v.policyCmd(o, name, onoff);
      }),
    ),
    'vfioctl policy generic-reset on',
  );

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
        const { explainStatus, explainGroups } = await import('./inspect.js');
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
      const { completeCmd } = await import('./completion.js');
      await completeCmd(o, kind, prefix);
    }),
  );
}
