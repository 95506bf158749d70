/**
 * `run [--no-dev] [--trace FILE] [--] CMD…`: CMD runs unmodified with /sys (and /dev/vfio,
 * /proc/modules, modprobe/rmmod/lsmod/dmesg) replaced by the simulated machine, in a private
 * mount namespace, over FUSE (src/fuse/namespace.ts); vfioctl exits with CMD's status.
 */
import * as path from 'node:path';
import { defineCommand, words } from '../../command.js';
import { activeStatePath, lockTimeoutMs } from '../../session.js';
import { UsageError } from '../../../base/errors.js';
import { CommandFailed } from '../../output.js';
import { BIN, servedState, uid } from './shared.js';

export interface RunOptions {
  cmd: string[];
  noDev: boolean;
  trace: string | undefined;
}

export default defineCommand({
  name: 'run',
  group: 'fuse',
  summary: "run CMD with /sys, /dev/vfio and modprobe replaced by the simulated machine (FUSE, private mount namespace); exits with CMD's status",
  example: 'vfioctl run -- driverctl -b platform list-devices\nvfioctl run --explain -- ./bind-vfio.sh fff51000.ethernet\nvfioctl run --trace trace.txt -- sh -c "echo vfio-platform > /sys/bus/platform/devices/fff51000.ethernet/driver_override"',
  help:
    'Put -- before CMD when CMD has options of its own. As root the namespace is a mount namespace;\n' +
    'as an ordinary user a user namespace too (then /dev/vfio is left out). --explain prints every\n' +
    'sysfs access CMD made, in order, with the kernel\'s answer, after CMD ends. Nothing on the host\n' +
    'changes; stat -f /sys inside says fuseblk: FUSE cannot pass for sysfs.',
  args: [{ name: 'cmd', variadic: true, description: 'the command and its arguments', complete: 'command' }],
  flags: [
    { flags: '--no-dev', description: 'leave /dev alone (no /dev/vfio group nodes)' },
    { flags: '--trace <file>', description: "write every sysfs access CMD made, in order, with the kernel's answer, to FILE", complete: 'file' },
  ],
  passThroughOptions: true,
  machine: 'none',
  options(p): RunOptions {
    const cmd = words(p, 0);
    if (cmd.length === 0) throw new UsageError('run needs a command', 'vfioctl run -- driverctl -b platform list-devices');
    return { cmd, noDev: p.flags['dev'] === false, trace: typeof p.flags['trace'] === 'string' ? p.flags['trace'] : undefined };
  },
  async run(rc, o: RunOptions) {
    const ns = await import('../../../fuse/namespace.js');
    const inside = rc.ctx.env[ns.ENV_INSIDE] !== undefined;
    const statePath = inside ? activeStatePath(rc.ctx, rc.g) : await servedState(rc);
    const traceFile = o.trace === undefined ? undefined : path.resolve(rc.ctx.cwd, o.trace);
    const opts = {
      statePath,
      cmd: o.cmd,
      noDev: o.noDev,
      explain: rc.g.explain === true,
      traceFile,
      quiet: rc.g.quiet === true,
      lockTimeoutMs: lockTimeoutMs(rc.ctx),
      node: process.execPath,
      bin: BIN,
      env: rc.ctx.env,
      stderr: (s: string) => rc.ctx.stderr.write(s),
    };
    let status: number;
    if (inside) {
      try {
        status = await ns.runInside(opts);
      } catch (e) {
        if (e instanceof ns.SetupError) throw new CommandFailed(`run: ${e.message}`, 1);
        throw e;
      }
    } else {
      const missing = ns.runMissing(uid());
      if (missing) throw new CommandFailed(`run: cannot serve the simulated /sys here: ${missing}`, 1);
      if (statePath === '/sys' || statePath.startsWith('/sys/')) throw new UsageError(`the state file ${statePath} is under /sys, which run replaces`, 'keep the state file elsewhere (--state FILE)');
      const inner = ['--state', statePath, ...(rc.g.quiet ? ['-q'] : []), ...(rc.g.explain ? ['--explain'] : []), 'run', ...(o.noDev ? ['--no-dev'] : []), ...(traceFile ? ['--trace', traceFile] : []), '--', ...o.cmd];
      try {
        status = await ns.runOutside(opts, inner);
      } catch (e) {
        if (e instanceof ns.SetupError) throw new CommandFailed(`run: ${e.message}`, 1);
        throw e;
      }
    }
    if (status !== 0) throw new CommandFailed('', status);
    return { status };
  },
  // CMD printed what it had to say
  render: () => '',
});
