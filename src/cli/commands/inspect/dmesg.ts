/** `dmesg`: the kernel log of this machine, printed as util-linux dmesg prints it. */
import { defineCommand } from '../../command.js';
import type { Machine } from '../../../base/machine.js';
import { UsageError } from '../../../base/errors.js';
import { formatTimestamp } from '../../../klog/klog.js';

/** printk level names as util-linux dmesg spells them, by number */
export const LEVEL_NAMES = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'] as const;

export interface DmesgOptions {
  /** the levels to print (util-linux --level LIST); undefined: all */
  levels?: number[];
  /** -t: no timestamps */
  noTime: boolean;
  /** -x: facility and level before each line */
  decode: boolean;
}

/** `err,warn` or `3,4`: each item one level, by name (any case) or number, as util-linux parse_level does */
export function parseLevels(list: string): number[] {
  const out: number[] = [];
  for (const item of list.split(',')) {
    const w = item.trim().toLowerCase();
    const n = /^[0-9]+$/.test(w) ? Number(w) : LEVEL_NAMES.indexOf(w as (typeof LEVEL_NAMES)[number]);
    if (!(n >= 0 && n < LEVEL_NAMES.length)) {
      throw new UsageError(`unknown level '${item}'`, `levels: ${LEVEL_NAMES.map((x, i) => `${x} (${i})`).join(', ')}; several: --level err,warn`);
    }
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

export function dmesgLines(m: Machine, o: Partial<DmesgOptions> = {}): string[] {
  return m.log
    .filter((l) => o.levels === undefined || o.levels.includes(l.level))
    .map((l) => `${o.decode ? `${'kern'.padEnd(6)}:${(LEVEL_NAMES[l.level] ?? String(l.level)).padEnd(6)}: ` : ''}${o.noTime ? '' : formatTimestamp(l.t) + ' '}${l.text}`);
}

export default defineCommand({
  name: 'dmesg',
  group: 'inspect',
  summary: 'the kernel log of this machine',
  example: 'vfioctl dmesg | tail\nvfioctl dmesg --level err,warn',
  flags: [
    { flags: '-l, --level <list>', description: `only these levels, by name or number: ${LEVEL_NAMES.map((x, i) => `${x} ${i}`).join(', ')} (e.g. err,warn)`, complete: { words: LEVEL_NAMES } },
    { flags: '-t, --notime', description: 'no timestamps' },
    { flags: '-x, --decode', description: 'print the facility and level of each line' },
  ],
  machine: 'read',
  options(p): DmesgOptions {
    const level = p.flags['level'];
    return {
      ...(typeof level === 'string' ? { levels: parseLevels(level) } : {}),
      noTime: p.flags['notime'] === true,
      decode: p.flags['decode'] === true,
    };
  },
  run(_rc, o: DmesgOptions, { m, sys }) {
    const flags = [...(o.levels ? [`--level=${o.levels.map((n) => LEVEL_NAMES[n]).join(',')}`] : []), ...(o.noTime ? ['-t'] : []), ...(o.decode ? ['-x'] : [])];
    sys.record(['dmesg', ...flags].join(' '), o.levels ? `only messages at level ${o.levels.map((n) => LEVEL_NAMES[n]).join(', ')}` : 'the kernel log: probe failures and VFIO messages appear only here');
    return { lines: dmesgLines(m, o) };
  },
  render: (d: { lines: string[] }) => d.lines.map((l) => l + '\n').join(''),
});
