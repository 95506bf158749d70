/** `umount DIR`: unmount what `vfioctl mount` mounted; its server then ends. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defineCommand, word } from '../../command.js';
import { CommandFailed } from '../../output.js';

export default defineCommand({
  name: 'umount',
  group: 'fuse',
  summary: 'unmount a vfioctl mount; its server ends',
  example: 'vfioctl umount /tmp/sys',
  args: [{ name: 'dir', description: 'where vfioctl mount mounted it', complete: 'dir' }],
  machine: 'none',
  options: (p) => ({ dir: word(p, 0) }),
  async run(rc, o: { dir: string }) {
    const dir = path.resolve(rc.ctx.cwd, o.dir);
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
    if (!mounts.some((f) => f[1] === dir && f[2] === 'fuse.vfioctl')) throw new CommandFailed(`umount: ${dir} is not a vfioctl mount`, 1, 'vfioctl mounts are listed by: grep fuse.vfioctl /proc/self/mounts');
    const { runTool } = await import('../../../fuse/server.js');
    const r = await runTool('umount', [dir]);
    if (r.status !== 0) throw new CommandFailed(`umount: ${r.stderr || `umount exited with status ${r.status}`}`, 1, 'a process still uses it (its cwd or an open file); umount -l detaches it anyway');
    return { dir };
  },
  render: (d: { dir: string }) => `unmounted ${d.dir}; its server ends\n`,
});
