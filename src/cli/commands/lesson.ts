/**
 * `lesson`: list, start/resume, hint, stop; and the check that runs after every other
 * command while a lesson is in progress.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Out } from '../main.js';
import { mainStatePath, bootDefault, lockTimeoutMs } from '../session.js';
import { readState, writeState, acquireLock } from '../../state/store.js';
import { activeLesson, setActiveLesson, scratchPath, readProgress, writeProgress, type LessonProgress } from '../../state/lessons.js';
import { SCENARIOS, findScenario } from '../../teach/lessons/index.js';
import { commonMistakes } from '../../teach/mistakes.js';
import type { Scenario } from '../../teach/scenario.js';
import { checkSteps, currentStep, explainRefusal, freshProgress } from '../../teach/lesson.js';
import { UsageError, KernelError } from '../../base/errors.js';
import { colorWanted, makeStyle, table, type Style } from '../output.js';
import type { Step as ExplainStep } from '../sys.js';

const stepLine = (s: Scenario, i: number): string => `step ${i + 1}/${s.steps.length}: ${s.steps[i]!.goal}`;

function progressLabel(s: Scenario, p: LessonProgress | undefined): string {
  if (!p) return 'not started';
  if (p.done) return 'done';
  return `step ${p.step + 1}/${s.steps.length}`;
}

function scenarioOrThrow(name: string): Scenario {
  const s = findScenario(name);
  if (!s) throw new UsageError(`no lesson named "${name}"`, `lessons: ${SCENARIOS.map((x) => `${x.letter} ${x.name}`).join(', ')}; or: vfioctl lesson hint | stop`);
  return s;
}

function noRealEquivalent(o: Out): ExplainStep[] {
  return o.g.explain ? [{ command: '# (none)', why: 'lessons are vfioctl\'s own: a real system has nothing like them; vfioctl lesson hint shows the real commands of the current step' }] : [];
}

export async function lessonCmd(o: Out, arg: string | undefined, opts: { restart?: boolean }): Promise<void> {
  const main = mainStatePath(o.ctx, o.g);
  if (arg === undefined) return list(o, main);
  if (arg === 'hint') return hint(o, main);
  if (arg === 'stop') return stop(o, main);
  return start(o, main, scenarioOrThrow(arg), opts.restart ?? false);
}

function list(o: Out, main: string): void {
  const progress = readProgress(main);
  const active = activeLesson(main);
  const rows = SCENARIOS.map((s) => ({ letter: s.letter, name: s.name, title: s.title, steps: s.steps.length, progress: progressLabel(s, progress.get(s.name)), active: s.name === active }));
  let text = 'Lessons: you type the commands; each lesson runs on its own scratch machine, yours is never touched.\n\n';
  text += table(rows.map((r) => [`  ${r.letter}`, r.name, r.title, r.active ? `${r.progress} (in progress)` : r.progress]));
  const s = active ? findScenario(active) : undefined;
  const p = s && progress.get(s.name);
  if (s && p && !p.done) text += `\nIn progress: ${s.name}, ${stepLine(s, p.step)}\n  stuck? vfioctl lesson hint    leave it: vfioctl lesson stop\n`;
  else text += `\nStart one: vfioctl lesson passthrough   (or by letter: vfioctl lesson a)\n`;
  o.emit({ lessons: rows, active }, text, noRealEquivalent(o));
}

async function start(o: Out, main: string, s: Scenario, restart: boolean): Promise<void> {
  const progress = readProgress(main);
  const scratch = scratchPath(main, s.name);
  let p = progress.get(s.name);
  const resume = !restart && p !== undefined && !p.done && fs.existsSync(scratch);
  if (!resume) {
    const m = await bootDefault(o.ctx);
    const lock = acquireLock(scratch, lockTimeoutMs(o.ctx));
    try {
      writeState(scratch, m);
    } finally {
      lock.release();
    }
    p = freshProgress(m);
    progress.set(s.name, p);
    writeProgress(main, progress);
  }
  setActiveLesson(main, s.name);
  const cur = p!;
  let text = resume ? `Resuming lesson ${s.letter}: ${s.name}, ${s.title}\n` : `Lesson ${s.letter}: ${s.name}, ${s.title}\n\n${s.intro}\n`;
  text +=
    `\nThis lesson runs on its own machine (${scratch}); your own machine is untouched.\n` +
    `Every vfioctl command you type acts on the lesson's machine until the lesson ends or you run: vfioctl lesson stop\n` +
    `After each command vfioctl tells you whether the step is done. Stuck? vfioctl lesson hint\n\n` +
    `${capital(stepLine(s, cur.step))}\n  why: ${s.steps[cur.step]!.why}\n`;
  o.emit({ lesson: s.name, resumed: resume, step: cur.step + 1, steps: s.steps.length, goal: s.steps[cur.step]!.goal, machine: scratch }, text, noRealEquivalent(o));
}

function stop(o: Out, main: string): void {
  const active = activeLesson(main);
  setActiveLesson(main, null);
  o.emit(
    { stopped: active },
    active ? `Left lesson ${active} (its progress is kept: vfioctl lesson ${active} resumes it). Commands act on your own machine again (${main}).\n` : 'No lesson in progress.\n',
    noRealEquivalent(o),
  );
}

async function hint(o: Out, main: string): Promise<void> {
  const active = activeLesson(main);
  if (!active) throw new UsageError('no lesson in progress', 'start one: vfioctl lesson passthrough (vfioctl lesson lists them)');
  const s = scenarioOrThrow(active);
  const p = readProgress(main).get(s.name) ?? { step: 0, done: false, since: 0, clock: 0 };
  const step = currentStep(s, p);
  if (!step) throw new UsageError(`lesson ${s.name} is already complete`, `start another: vfioctl lesson`);
  const real = await realCommands(o, scratchPath(main, s.name), step.commands);
  let text = `${capital(stepLine(s, p.step))}\n  why:  ${step.why}\n  hint: ${step.hint}\n  type: ${step.commands.map((c) => `vfioctl ${c}`).join('; then ')}\n`;
  if (real.length) text += `  on a real system:\n${real.map((r) => `    ${r.command}\n`).join('')}`;
  o.emit({ lesson: s.name, step: p.step + 1, goal: step.goal, why: step.why, hint: step.hint, commands: step.commands.map((c) => `vfioctl ${c}`), realSystem: real }, text, real);
}

/** The shell lines / ioctls the step's commands stand for, from a run on a throw-away copy of the lesson machine. */
async function realCommands(o: Out, scratch: string, commands: readonly string[]): Promise<ExplainStep[]> {
  const { runCaptured } = await import('../main.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-hint-'));
  try {
    const copy = path.join(dir, 'state.json');
    if (fs.existsSync(scratch)) fs.copyFileSync(scratch, copy);
    const steps: ExplainStep[] = [];
    for (const c of commands) {
      const r = await runCaptured(['--state', copy, '--json', '--explain', '-q', ...c.split(' ')], o.ctx);
      if (r.exit !== 0) break;
      steps.push(...((JSON.parse(r.stdout) as { explain?: ExplainStep[] }).explain ?? []));
    }
    return steps;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const capital = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1);

/**
 * After any other command while a lesson is in progress: judge the lesson machine,
 * say which steps are done and what is next, or explain a refusal in lesson terms.
 * Prints to stderr (never in --json or -q mode) and saves the progress.
 */
export async function afterCommand(o: Out, main: string, lesson: string, error: unknown): Promise<void> {
  const s = findScenario(lesson);
  if (!s) return;
  const m = readState(scratchPath(main, lesson));
  if (!m) return;
  const progress = readProgress(main);
  const p = progress.get(s.name) ?? freshProgress(m);
  const before = p.step;
  const { completed, changed } = checkSteps(s, p, m);
  progress.set(s.name, p);
  writeProgress(main, progress);
  const lines: string[] = [];
  const st: Style = await makeStyle(colorWanted(o.ctx, o.g.color === false, 'stderr'));
  const tag = st.cyan(`lesson ${s.name}:`);
  for (const i of completed) lines.push(`${tag} ${st.green('✓')} ${stepLine(s, i)}`);
  if (p.done) {
    setActiveLesson(main, null);
    lines.push(`${tag} ${st.green('complete.')} ${s.outro}`, `${tag} commands act on your own machine again (${main}).`);
  } else {
    const step = s.steps[p.step]!;
    if (error instanceof KernelError) {
      lines.push(`${tag} ${st.yellow('refused, and nothing changed:')} ${explainRefusal(step, error.code, error.path, m)}`);
    } else if (changed) {
      for (const careful of [s.watch?.(m, p.step), ...commonMistakes(m)]) if (careful) lines.push(`${tag} ${st.yellow('careful:')} ${careful}`);
      const why = completed.length === 0 ? step.notYet?.(m) : null;
      if (why) lines.push(`${tag} ${st.yellow('not yet:')} ${why}`);
    }
    if (completed.length || error || (changed && p.step === before)) lines.push(`${tag} ${completed.length ? 'next, ' : ''}${stepLine(s, p.step)}   (stuck? vfioctl lesson hint)`);
  }
  if (lines.length && !o.g.json && !o.g.quiet) o.ctx.stderr.write(lines.join('\n') + '\n');
}
