/**
 * `lesson`: list, start/resume, hint, stop; and the check that runs after every other
 * command while a lesson is in progress.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Out } from '../main.js';
import { mainStatePath, loadTree, lockTimeoutMs, lessonInProgress, sessionOptions, type GlobalOpts } from '../session.js';
import type { Context } from '../context.js';
import { readState } from '../../state/state-file.js';
import { replaceState } from '../../state/session.js';
import { activeLesson, setActiveLesson, scratchPath, readProgress, updateProgress, type LessonProgress } from '../../state/lessons.js';
import { SCENARIOS, findScenario } from '../../teach/lessons/index.js';
import type { Scenario, Step } from '../../teach/scenario.js';
import { currentStep, follow, freshProgress, stepLine, typed } from '../../teach/lesson.js';
import { explainRefusal } from '../../teach/refusals.js';
import { UsageError, KernelError } from '../../base/errors.js';
import { colorWanted, makeStyle, table, type Style } from '../output.js';
import type { Step as ExplainStep } from '../sys.js';

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
  const scratch = scratchPath(main, s.name);
  let p = readProgress(main).get(s.name);
  const resume = !restart && p !== undefined && !p.done && fs.existsSync(scratch);
  if (!resume) {
    // the tree the lesson names (src/teach/lessons/NAME.ts); the scratch machine is the lesson's own:
    // whatever was there is replaced (set aside if unusable)
    const { boot } = await import('../../base/boot.js');
    const m = boot(await loadTree(o.ctx, s.tree));
    await replaceState({ ...sessionOptions(o.ctx, o.g, scratch), dryRun: false }, m, { force: true });
    p = freshProgress(m);
    const fresh = p;
    await updateProgress(main, lockTimeoutMs(o.ctx), (all) => void all.set(s.name, fresh));
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
  const { steps: real, refused } = await realCommands(o, scratchPath(main, s.name), step);
  let text = `${capital(stepLine(s, p.step))}\n  why:  ${step.why}\n  hint: ${step.hint}\n`;
  if (step.aside) text += `  more: ${step.aside}\n`;
  text += `  type: ${typed(step)}\n`;
  if (refused) {
    // never send the learner round in circles: say that the step's own command would not work here
    text += `  but: on the lesson machine as it is now, vfioctl ${refused.command} would be refused (${refused.code}): ${refused.why}\n`;
    text += `  if you are lost: vfioctl lesson ${s.name} --restart starts over; vfioctl lesson stop leaves the lesson\n`;
  }
  if (real.length) text += `  on a real system:\n${real.map((r) => `    ${r.command}\n`).join('')}`;
  const data: Record<string, unknown> = { lesson: s.name, step: p.step + 1, goal: step.goal, why: step.why, hint: step.hint, commands: step.commands.map((c) => `vfioctl ${c}`), realSystem: real };
  if (step.aside) data['more'] = step.aside;
  if (refused) data['wouldBeRefused'] = refused;
  o.emit(data, text, real);
}

/**
 * The shell lines / ioctls the step's commands stand for, from a run on a throw-away copy
 * of the lesson machine; and the first of them that would be refused there, explained.
 */
async function realCommands(o: Out, scratch: string, step: Step): Promise<{ steps: ExplainStep[]; refused: { command: string; code: string; why: string } | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-hint-'));
  try {
    const copy = path.join(dir, 'state.json');
    if (fs.existsSync(scratch)) fs.copyFileSync(scratch, copy);
    const steps: ExplainStep[] = [];
    for (const c of step.commands) {
      const r = await o.runCaptured(['--state', copy, '--json', '--explain', '-q', ...c.split(' ')]);
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

const capital = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1);

/**
 * `load` (anything that would replace the machine) while a lesson is in progress would
 * throw the lesson's machine away under it: refused, naming the two ways on.
 */
export function refuseDuringLesson(ctx: Context, g: GlobalOpts, command: string): void {
  const main = mainStatePath(ctx, g);
  const lesson = lessonInProgress(ctx, main);
  if (!lesson) return;
  const s = findScenario(lesson);
  const p = s && readProgress(main).get(s.name);
  const where = s && p && !p.done ? `, ${stepLine(s, p.step)}` : '';
  throw new UsageError(
    `lesson ${lesson} is in progress${where}: vfioctl ${command} would replace the lesson's machine, so it was not run`,
    `to start the lesson over on a fresh machine: vfioctl lesson ${lesson} --restart; to leave the lesson and ${command.split(' ')[0]} on your own machine: vfioctl lesson stop, then vfioctl ${command}`,
  );
}

/**
 * After any other command while a lesson is in progress: judge the lesson machine (the
 * steps it completed or undid, a refusal in lesson terms, what is next: src/teach/lesson.ts
 * follow), print that to stderr (never in --json or -q mode) and save the progress.
 */
export async function afterCommand(o: Out, main: string, lesson: string, error: unknown, command?: string): Promise<void> {
  const s = findScenario(lesson);
  if (!s) return;
  const m = readState(scratchPath(main, lesson));
  if (!m) return;
  const refused = error instanceof KernelError ? { command, code: error.code, path: error.path, op: error.op, message: error.message } : undefined;
  const { p, notes } = await updateProgress(main, lockTimeoutMs(o.ctx), (progress) => {
    const p = progress.get(s.name) ?? freshProgress(m);
    const notes = follow(s, p, m, { command: command ?? '', refused, failed: error !== null && error !== undefined && !refused });
    progress.set(s.name, p);
    return { p, notes };
  });
  if (p.done) setActiveLesson(main, null);
  const st: Style = await makeStyle(colorWanted(o.ctx, o.g.color === false, 'stderr'));
  const tag = st.cyan(`lesson ${s.name}:`);
  const progressed = notes.some((n) => n.kind === 'done');
  const lines = notes.map((n): string => {
    switch (n.kind) {
      case 'done': return `${tag} ${st.green('✓')} ${n.text}`;
      case 'undone': return `${tag} ${st.yellow('back:')} ${n.text}`;
      case 'refused': return `${tag} ${st.yellow('refused:')} ${n.text}`;
      case 'careful': return `${tag} ${st.yellow('careful:')} ${n.text}`;
      case 'not-yet': return `${tag} ${st.yellow('not yet:')} ${n.text}`;
      case 'complete': return `${tag} ${st.green('complete.')} ${n.text}\n${tag} commands act on your own machine again (${main}).`;
      case 'next': return `${tag} ${progressed ? 'next, ' : ''}${n.text}   (stuck? vfioctl lesson hint)`;
    }
  });
  if (lines.length && !o.g.json && !o.g.quiet) o.ctx.stderr.write(lines.join('\n') + '\n');
}
