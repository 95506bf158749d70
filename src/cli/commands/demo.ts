/**
 * `demo NAME`: a scenario run for an audience: each command printed, then run on a
 * scratch machine in a temporary directory, with its output. On a terminal the
 * simulated waits show an ora spinner and `--pace` sets the rhythm.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Out, Captured } from '../main.js';
import { SCENARIOS, findScenario } from '../../teach/lessons/index.js';
import { demoLines } from '../../teach/script.js';
import { UsageError } from '../../base/errors.js';
import { table } from '../output.js';

/** what the kernel (or the simulated program) is busy with while a command of this verb runs */
const WAITS: Record<string, string> = {
  load: 'booting the machine from the device tree',
  modprobe: 'loading the module and its dependencies',
  rmmod: 'unloading the module',
  unbind: "the driver's remove() runs",
  probe: 'the bus probes the device',
  bind: 'the driver probes the device',
  passthrough: 'override, unbind, probe',
  restore: 'clear, unbind, probe',
  open: 'opening container, group and device',
  close: 'releasing the device',
  kill: 'the kernel tears the process down',
  start: 'the device starts DMA and interrupts',
  stop: 'quiescing the device',
};


export function parsePace(v: string | undefined, tty: boolean): number {
  if (v === undefined) return tty ? 700 : 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 60_000) throw new UsageError(`--pace takes milliseconds from 0 to 60000, not "${v}"`, 'e.g. --pace 1500 for a talk, --pace 0 for no pauses');
  return n;
}

export async function demoCmd(o: Out, name: string | undefined, opts: { pace?: string }): Promise<void> {
  const explain = o.g.explain ? [{ command: '# (none)', why: "demos are vfioctl's own; vfioctl --explain COMMAND shows the real system's lines for each command of the demo" }] : [];
  if (name === undefined) {
    const rows = SCENARIOS.map((s) => ({ name: s.name, title: s.title }));
    o.emit({ demos: rows }, 'Demos (each runs on a scratch machine; your own is not touched):\n\n' + table(rows.map((r) => ['  ' + r.name, r.title])) + '\nRun one: vfioctl demo passthrough --pace 1500\n', explain);
    return;
  }
  const s = findScenario(name);
  if (!s) throw new UsageError(`no demo named "${name}"`, `demos: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  const pace = parsePace(opts.pace, o.ctx.stdoutIsTTY);
  const live = !o.g.json;
  // a terminal that reports no width (some recorders) would make ora clear the screen line by line
  const spin = live && o.ctx.stdoutIsTTY && pace > 0 && (process.stdout.columns ?? 0) > 0;
  const ora = spin ? (await import('ora')).default : null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-demo-'));
  const ran: ({ command: string } & Captured)[] = [];
  try {
    for (const line of demoLines(s)) {
      if (line.kind === 'say') {
        if (live) o.ctx.stdout.write(o.st.bold(line.text) + '\n');
        continue;
      }
      if (live) o.ctx.stdout.write(o.st.cyan(`$ vfioctl ${line.text}`) + '\n');
      const wait = WAITS[line.text.split(' ')[0]!];
      if (ora && wait) {
        const sp = ora({ text: wait, stream: process.stdout }).start();
        await o.ctx.sleep(pace);
        sp.stop();
      } else if (pace) await o.ctx.sleep(pace);
      const r = { command: `vfioctl ${line.text}`, ...(await o.runCaptured(line.text.split(' '), { ...o.ctx.env, VFIOCTL_STATE: path.join(dir, 'state.json') })) };
      ran.push(r);
      if (live) o.ctx.stdout.write(r.stdout + r.stderr + (r.exit ? `[exit ${r.exit}]\n` : ''));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (!live) o.emit({ demo: s.name, title: s.title, commands: ran }, '', explain);
}
