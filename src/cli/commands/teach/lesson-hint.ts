/** What `lesson hint` tries before it answers: the step's own commands, on a copy of the lesson machine. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunContext } from '../../command.js';
import { readState } from '../../../state/state-file.js';
import type { Step } from '../../../teach/scenario.js';
import { explainRefusal } from '../../../teach/refusals.js';
import type { Step as ExplainStep } from '../../sys.js';

/** The step's command that would be refused on the lesson machine as it is, and why in lesson terms. */
export interface WouldBeRefused {
  command: string;
  code: string;
  why: string;
}

/**
 * The shell lines / ioctls the step's commands stand for, from a run on a throw-away copy
 * of the lesson machine; and the first of them that would be refused there, explained.
 */
export async function realCommands(rc: RunContext, scratch: string, step: Step): Promise<{ steps: ExplainStep[]; refused: WouldBeRefused | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-hint-'));
  try {
    const copy = path.join(dir, 'state.json');
    if (fs.existsSync(scratch)) fs.copyFileSync(scratch, copy);
    const steps: ExplainStep[] = [];
    for (const c of step.commands) {
      const r = await rc.runCaptured(['--state', copy, '--json', '--explain', '-q', ...c.split(' ')]);
      if (r.exit !== 0) {
        const e = (JSON.parse(r.stderr.trim().split('\n').pop() ?? '{}') as { error?: { code?: string; message?: string; path?: string } }).error ?? {};
        const code = e.code ?? 'error';
        const m = readState(copy);
        const why = m ? explainRefusal(step, { command: c.split(' ')[0], code, path: e.path, message: e.message }, m) : (e.message ?? '');
        return { steps, refused: { command: c, code, why } };
      }
      steps.push(...((JSON.parse(r.stdout) as { explain?: ExplainStep[] }).explain ?? []));
    }
    return { steps, refused: null };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
