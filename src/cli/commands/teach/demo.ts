/**
 * `demo NAME`: a scenario run for an audience: each command printed, then run on a
 * scratch machine in a temporary directory, with its output. On a terminal the
 * simulated waits show an ora spinner and `--pace` sets the rhythm.
 *
 * A demo cannot print only when it is over: the audience sees each command, the pause,
 * then its answer, before the next one runs. So run() streams through the one typed way
 * the runner gives for it (RunContext.stream, src/cli/command.ts) and returns the same
 * commands and outputs as data: under --json that data is the document and nothing is
 * streamed; for humans render() has nothing left to add.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defineCommand, optionalWord, type Captured } from '../../command.js';
import { SCENARIOS, findScenario } from '../../../teach/lessons/index.js';
import type { Scenario } from '../../../teach/scenario.js';
import { demoLines } from '../../../teach/script.js';
import { UsageError } from '../../../base/errors.js';
import { table } from '../../output.js';

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


/** `--pace` words → milliseconds; a usage error names the range. */
function parsePace(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 60_000) throw new UsageError(`--pace takes milliseconds from 0 to 60000, not "${v}"`, 'e.g. --pace 1500 for a talk, --pace 0 for no pauses');
  return n;
}

/** `pace` undefined: the default, 700 ms on a terminal, none otherwise */
export type DemoOptions = { demo: null } | { demo: Scenario; pace: number | undefined };

export type DemoData =
  | { demos: { name: string; title: string }[] }
  | { demo: string; title: string; commands: ({ command: string } & Captured)[] };

const NO_REAL_EQUIVALENT = { command: '# (none)', why: "demos are vfioctl's own; vfioctl --explain COMMAND shows the real system's lines for each command of the demo" };

export default defineCommand({
  name: 'demo',
  group: 'teach',
  summary: 'a lesson run for an audience: each command printed, run and answered, on a scratch machine',
  example: 'vfioctl demo passthrough --pace 1500\nvfioctl demo no-reset > no-reset.txt',
  args: [{ name: 'name', description: 'demo to run (no name: list them)', required: false, complete: 'demo' }],
  flags: [{ flags: '--pace <ms>', description: 'pause before each command, in milliseconds (default 700 on a terminal, 0 otherwise)', complete: 'none' }],
  machine: 'none',
  lessonCheck: false,
  options(p): DemoOptions {
    const name = optionalWord(p, 0);
    const pace = typeof p.flags['pace'] === 'string' ? p.flags['pace'] : undefined;
    if (name === undefined) return { demo: null };
    const s = findScenario(name);
    if (!s) throw new UsageError(`no demo named "${name}"`, `demos: ${SCENARIOS.map((x) => x.name).join(', ')}`);
    return { demo: s, pace: pace === undefined ? undefined : parsePace(pace) };
  },
  async run(rc, o: DemoOptions): Promise<DemoData> {
    if (o.demo === null) {
      rc.explain(NO_REAL_EQUIVALENT);
      return { demos: SCENARIOS.map((s) => ({ name: s.name, title: s.title })) };
    }
    const s = o.demo;
    const pace = o.pace ?? (rc.ctx.stdoutIsTTY ? 700 : 0);
    // as before: a demo streamed to a terminal has no --explain lines of its own (each command shows its own)
    if (!rc.stream.live) rc.explain(NO_REAL_EQUIVALENT);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-demo-'));
    const ran: ({ command: string } & Captured)[] = [];
    try {
      for (const line of demoLines(s)) {
        if (line.kind === 'say') {
          await rc.stream.write((st) => st.bold(line.text) + '\n');
          continue;
        }
        await rc.stream.write((st) => st.cyan(`$ vfioctl ${line.text}`) + '\n');
        await rc.stream.pause(pace, WAITS[line.text.split(' ')[0]!]);
        const r = { command: `vfioctl ${line.text}`, ...(await rc.runCaptured(line.text.split(' '), { ...rc.ctx.env, VFIOCTL_STATE: path.join(dir, 'state.json') })) };
        ran.push(r);
        await rc.stream.write(() => r.stdout + r.stderr + (r.exit ? `[exit ${r.exit}]\n` : ''));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return { demo: s.name, title: s.title, commands: ran };
  },
  render(d: DemoData): string {
    if ('demos' in d) return 'Demos (each runs on a scratch machine; your own is not touched):\n\n' + table(d.demos.map((r) => ['  ' + r.name, r.title])) + '\nRun one: vfioctl demo passthrough --pace 1500\n';
    return ''; // streamed as it ran
  },
});
