/** `sysfs ls [PATH]`: a directory of the simulated /sys, as `ls -l` shows it. */
import { defineCommand, word } from '../../command.js';
import type { VEntry } from '../../../sysfs/vfs.js';

export function lsText(entries: readonly VEntry[]): string {
  return entries
    .map((e) => {
      const mode = e.type + perm(e.mode);
      return `${mode} ${e.name}${e.type === 'l' ? ` -> ${e.target}` : ''}`;
    })
    .join('\n') + (entries.length ? '\n' : '');
}

function perm(mode: number): string {
  const bits = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? bits[i] : '-';
  return s;
}

export default defineCommand({
  name: 'sysfs ls',
  group: 'inspect',
  summary: 'list a directory (ls -l style)',
  example: 'vfioctl sysfs ls /sys/bus/platform/drivers/calxedaxgmac',
  args: [{ name: 'path', description: 'directory', required: false, default: '/sys/bus/platform', complete: 'sysfs' }],
  machine: 'read',
  options: (p) => ({ path: word(p, 0) }),
  run(_rc, o: { path: string }, { sys }) {
    return { path: o.path, entries: sys.ls(o.path, 'list the directory') };
  },
  render: (d: { entries: VEntry[] }) => lsText(d.entries),
});
