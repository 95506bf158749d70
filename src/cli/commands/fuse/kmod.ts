/** `__kmod modprobe|rmmod|lsmod|dmesg ARGS…` (hidden): what the shims of `vfioctl run` call; kmod's output and status. */
import { defineCommand, word, words } from '../../command.js';
import { activeStatePath, lockTimeoutMs } from '../../session.js';
import { UsageError } from '../../../base/errors.js';
import { CommandFailed } from '../../output.js';

export default defineCommand({
  name: '__kmod',
  group: 'fuse',
  summary: 'the modprobe/rmmod/lsmod/dmesg shims of vfioctl run',
  example: 'vfioctl __kmod modprobe -- -q vfio-platform reset_required=0',
  args: [
    { name: 'tool', complete: { words: ['modprobe', 'rmmod', 'lsmod', 'dmesg'] } },
    { name: 'args', variadic: true, required: false, complete: 'none' },
  ],
  hidden: true,
  passThroughOptions: true,
  machine: 'none',
  options: (p) => ({ tool: word(p, 0), args: words(p, 1) }),
  async run(rc, o: { tool: string; args: string[] }) {
    const { kmod, KMOD_TOOLS } = await import('../../../fuse/kmod.js');
    if (!(KMOD_TOOLS as readonly string[]).includes(o.tool)) throw new UsageError(`__kmod: unknown tool ${o.tool}`);
    const r = await kmod(o.tool as (typeof KMOD_TOOLS)[number], o.args, { statePath: activeStatePath(rc.ctx, rc.g), lockTimeoutMs: lockTimeoutMs(rc.ctx) });
    rc.ctx.stdout.write(r.stdout);
    rc.ctx.stderr.write(r.stderr);
    if (r.status !== 0) throw new CommandFailed('', r.status);
    return {};
  },
  render: () => '',
});
