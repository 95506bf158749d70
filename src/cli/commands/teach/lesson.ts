/**
 * `lesson`: list the lessons, start/resume one, `hint`, `stop`. Machine 'none': the
 * lesson's scratch machine is replaced (start) through the session API's replace form
 * (src/state/session.ts replaceState), the progress file through its lock. The check
 * after every other command is lesson-check.ts; the hint's real-system lines, lesson-hint.ts.
 */
import * as fs from 'node:fs';
import { defineCommand, optionalWord, type RunContext } from '../../command.js';
import { mainStatePath, loadTree, lockTimeoutMs, sessionOptions } from '../../session.js';
import { replaceState } from '../../../state/session.js';
import { activeLesson, setActiveLesson, scratchPath, readProgress, updateProgress, type LessonProgress } from '../../../state/lessons.js';
import { SCENARIOS, findScenario } from '../../../teach/lessons/index.js';
import type { Scenario } from '../../../teach/scenario.js';
import { currentStep, freshProgress, stepLine } from '../../../teach/lesson.js';
import { UsageError } from '../../../base/errors.js';
import { table } from '../../output.js';
import { realCommands, type WouldBeRefused } from './lesson-hint.js';
import type { Step as ExplainStep } from '../../sys.js';

export type LessonOptions = { action: 'list' } | { action: 'hint' } | { action: 'stop' } | { action: 'start'; lesson: Scenario; restart: boolean };

interface ListData {
  lessons: { letter: string; name: string; title: string; steps: number; progress: string; active: boolean }[];
  active: string | null;
  /** the step of the lesson in progress (the text names it; not in the JSON document) */
  current?: string;
}
interface StartData { lesson: string; resumed: boolean; step: number; steps: number; goal: string; machine: string }
interface StopData {
  stopped: string | null;
  /** the learner's own state file (the text names it; not in the JSON document) */
  own?: string;
}
interface HintData {
  lesson: string;
  step: number;
  goal: string;
  why: string;
  hint: string;
  commands: string[];
  realSystem: ExplainStep[];
  more?: string;
  wouldBeRefused?: WouldBeRefused;
}
export type LessonData = ListData | StartData | StopData | HintData;

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

const NO_REAL_EQUIVALENT: ExplainStep = { command: '# (none)', why: 'lessons are vfioctl\'s own: a real system has nothing like them; vfioctl lesson hint shows the real commands of the current step' };

const capital = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1);

function list(main: string): ListData {
  const progress = readProgress(main);
  const active = activeLesson(main);
  const lessons = SCENARIOS.map((s) => ({ letter: s.letter, name: s.name, title: s.title, steps: s.steps.length, progress: progressLabel(s, progress.get(s.name)), active: s.name === active }));
  const s = active ? findScenario(active) : undefined;
  const p = s && progress.get(s.name);
  return { lessons, active, ...(s && p && !p.done ? { current: stepLine(s, p.step) } : {}) };
}

async function start(rc: RunContext, main: string, s: Scenario, restart: boolean): Promise<StartData> {
  const scratch = scratchPath(main, s.name);
  let p = readProgress(main).get(s.name);
  const resume = !restart && p !== undefined && !p.done && fs.existsSync(scratch);
  if (!resume) {
    // the tree the lesson names (src/teach/lessons/NAME.ts); the scratch machine is the lesson's own:
    // whatever was there is replaced (set aside if unusable)
    const { boot } = await import('../../../base/boot.js');
    const m = boot(await loadTree(rc.ctx, s.tree));
    await replaceState({ ...sessionOptions(rc.ctx, rc.g, scratch), dryRun: false }, m, { force: true });
    p = freshProgress(m);
    const fresh = p;
    await updateProgress(main, lockTimeoutMs(rc.ctx), (all) => void all.set(s.name, fresh));
  }
  setActiveLesson(main, s.name);
  const step = p!.step;
  return { lesson: s.name, resumed: resume, step: step + 1, steps: s.steps.length, goal: s.steps[step]!.goal, machine: scratch };
}

function stop(main: string): StopData {
  const active = activeLesson(main);
  setActiveLesson(main, null);
  return { stopped: active, own: main };
}

async function hint(rc: RunContext, main: string): Promise<HintData> {
  const active = activeLesson(main);
  if (!active) throw new UsageError('no lesson in progress', 'start one: vfioctl lesson passthrough (vfioctl lesson lists them)');
  const s = scenarioOrThrow(active);
  const p = readProgress(main).get(s.name) ?? { step: 0, done: false, since: 0, clock: 0 };
  const step = currentStep(s, p);
  if (!step) throw new UsageError(`lesson ${s.name} is already complete`, `start another: vfioctl lesson`);
  const { steps: real, refused } = await realCommands(rc, scratchPath(main, s.name), step);
  rc.explain(...real);
  return {
    lesson: s.name,
    step: p.step + 1,
    goal: step.goal,
    why: step.why,
    hint: step.hint,
    commands: step.commands.map((c) => `vfioctl ${c}`),
    realSystem: real,
    ...(step.aside ? { more: step.aside } : {}),
    ...(refused ? { wouldBeRefused: refused } : {}),
  };
}

function renderList(d: ListData): string {
  let text = 'Lessons: you type the commands; each lesson runs on its own scratch machine, yours is never touched.\n\n';
  text += table(d.lessons.map((r) => [`  ${r.letter}`, r.name, r.title, r.active ? `${r.progress} (in progress)` : r.progress]));
  if (d.current !== undefined) text += `\nIn progress: ${d.active}, ${d.current}\n  stuck? vfioctl lesson hint    leave it: vfioctl lesson stop\n`;
  else text += `\nStart one: vfioctl lesson passthrough   (or by letter: vfioctl lesson a)\n`;
  return text;
}

function renderStart(d: StartData): string {
  const s = findScenario(d.lesson)!;
  let text = d.resumed ? `Resuming lesson ${s.letter}: ${s.name}, ${s.title}\n` : `Lesson ${s.letter}: ${s.name}, ${s.title}\n\n${s.intro}\n`;
  text +=
    `\nThis lesson runs on its own machine (${d.machine}); your own machine is untouched.\n` +
    `Every vfioctl command you type acts on the lesson's machine until the lesson ends or you run: vfioctl lesson stop\n` +
    `After each command vfioctl tells you whether the step is done. Stuck? vfioctl lesson hint\n\n` +
    `${capital(stepLine(s, d.step - 1))}\n  why: ${s.steps[d.step - 1]!.why}\n`;
  return text;
}

function renderHint(d: HintData): string {
  const s = findScenario(d.lesson)!;
  let text = `${capital(stepLine(s, d.step - 1))}\n  why:  ${d.why}\n  hint: ${d.hint}\n`;
  if (d.more) text += `  more: ${d.more}\n`;
  text += `  type: ${d.commands.join('; then ')}\n`;
  if (d.wouldBeRefused) {
    const r = d.wouldBeRefused;
    // never send the learner round in circles: say that the step's own command would not work here
    text += `  but: on the lesson machine as it is now, vfioctl ${r.command} would be refused (${r.code}): ${r.why}\n`;
    text += `  if you are lost: vfioctl lesson ${s.name} --restart starts over; vfioctl lesson stop leaves the lesson\n`;
  }
  if (d.realSystem.length) text += `  on a real system:\n${d.realSystem.map((r) => `    ${r.command}\n`).join('')}`;
  return text;
}

export default defineCommand({
  name: 'lesson',
  group: 'teach',
  summary: 'guided lessons you type yourself, each on its own scratch machine (no name: list them with progress)',
  example: 'vfioctl lesson                # list lessons and progress\nvfioctl lesson passthrough    # start (or resume) lesson a\nvfioctl lesson hint           # the current step: hint, command, real-system lines\nvfioctl lesson stop           # back to your own machine',
  args: [{ name: 'name', description: 'lesson to start or resume (name or letter), or: hint, stop', required: false, complete: 'lesson' }],
  flags: [{ flags: '--restart', description: 'start the lesson over on a fresh machine' }],
  machine: 'none',
  lessonCheck: false,
  options(p): LessonOptions {
    const arg = optionalWord(p, 0);
    if (arg === undefined) return { action: 'list' };
    if (arg === 'hint' || arg === 'stop') return { action: arg };
    return { action: 'start', lesson: scenarioOrThrow(arg), restart: p.flags['restart'] === true };
  },
  async run(rc, o: LessonOptions): Promise<LessonData> {
    const main = mainStatePath(rc.ctx, rc.g);
    if (o.action === 'hint') return hint(rc, main);
    rc.explain(NO_REAL_EQUIVALENT);
    if (o.action === 'list') return list(main);
    if (o.action === 'stop') return stop(main);
    return start(rc, main, o.lesson, o.restart);
  },
  render(d: LessonData): string {
    if ('lessons' in d) return renderList(d);
    if ('stopped' in d) {
      return d.stopped ? `Left lesson ${d.stopped} (its progress is kept: vfioctl lesson ${d.stopped} resumes it). Commands act on your own machine again (${d.own}).\n` : 'No lesson in progress.\n';
    }
    if ('resumed' in d) return renderStart(d);
    return renderHint(d);
  },
  json(d: LessonData): object {
    if ('lessons' in d) return { lessons: d.lessons, active: d.active };
    if ('stopped' in d) return { stopped: d.stopped };
    return d;
  },
});
