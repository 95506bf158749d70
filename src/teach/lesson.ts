/**
 * Following a learner through a lesson: which step they are on, judged from the machine's
 * state alone (never from what they typed), after every command they run. Steps go forward
 * when the machine shows them done, and back when the learner undoes one a later step still
 * needs (Step.keep). What to tell the learner comes out as notes; the CLI words and colours them.
 */
import type { Machine } from '../base/machine.js';
import type { LessonProgress } from '../state/lessons.js';
import type { Refused, Scenario, Step } from './scenario.js';
import { explainRefusal } from './refusals.js';
import { commonMistakes } from './mistakes.js';

export function freshProgress(m: Machine): LessonProgress {
  return { step: 0, done: false, since: m.clockUs, clock: m.clockUs };
}

export function currentStep(s: Scenario, p: LessonProgress): Step | undefined {
  return s.steps[p.step];
}

export const stepLine = (s: Scenario, i: number): string => `step ${i + 1}/${s.steps.length}: ${s.steps[i]!.goal}`;

/** the step's commands as the learner types them */
export const typed = (st: Step): string => st.commands.map((c) => `vfioctl ${c}`).join('; then ');

/**
 * Earlier steps the machine no longer shows done although the current step (or one it
 * falls back to) needs them, earliest first. Going back to one can uncover another that
 * it needs in turn (the host driver rebound: the probe is undone, and so is the override
 * the probe needs), so the walk repeats from each step it falls back to.
 */
export function undoneSteps(s: Scenario, p: LessonProgress, m: Machine): number[] {
  const undone: number[] = [];
  let at = p.step;
  for (;;) {
    let back = -1;
    for (let j = 0; j < at; j++) {
      const st = s.steps[j]!;
      if ((st.keep ?? 0) >= at - j && !st.done(m, p.since)) {
        back = j;
        break;
      }
    }
    if (back < 0) return undone.sort((a, b) => a - b);
    undone.push(back);
    at = back;
  }
}

export interface Check {
  /** indexes of the steps the last command completed */
  completed: number[];
  /** steps the last command undid (earliest first); the lesson went back to the first */
  undone: number[];
  /** the last command changed the machine */
  changed: boolean;
}

/** Go back to the earliest undone step, then forward past every step the machine shows done, in order. */
export function checkSteps(s: Scenario, p: LessonProgress, m: Machine): Check {
  const changed = m.clockUs !== p.clock;
  const undone = p.done ? [] : undoneSteps(s, p, m);
  if (undone.length) {
    p.step = undone[0]!;
    p.since = m.clockUs;
  }
  const completed: number[] = [];
  while (p.step < s.steps.length && s.steps[p.step]!.done(m, p.since)) {
    completed.push(p.step);
    p.step++;
    p.since = m.clockUs;
  }
  p.done = p.step >= s.steps.length;
  p.clock = m.clockUs;
  return { completed, undone, changed };
}

export type NoteKind = 'done' | 'undone' | 'refused' | 'careful' | 'not-yet' | 'next' | 'complete';
export interface Note {
  kind: NoteKind;
  text: string;
}

/** What the learner's last command was, as far as the lesson cares. */
export interface LastCommand {
  /** the vfioctl verb (`bind`, `open`, `sysfs`…) */
  command: string;
  /** the kernel refused it (nothing was saved) */
  refused?: Refused | undefined;
  /** it failed for another reason (usage, state file): nothing to judge */
  failed?: boolean | undefined;
}

/**
 * Judge the lesson machine after the learner's command: update `p` and say what happened,
 * in order: steps completed, steps undone (and how to get back), a refusal in lesson terms,
 * mistakes the kernel accepted, and what to do next.
 */
export function follow(s: Scenario, p: LessonProgress, m: Machine, last: LastCommand): Note[] {
  // a refusal is read in the terms of the step the learner was on when they typed it, even when its side effects completed that step
  const typedAt = s.steps[p.step];
  const { completed, undone, changed } = checkSteps(s, p, m);
  const notes: Note[] = [];
  if (undone.length) {
    const names = undone.map((i) => `step ${i + 1}/${s.steps.length} (${s.steps[i]!.goal})`);
    const back = s.steps[undone[0]!]!;
    notes.push({
      kind: 'undone',
      text: `that undid ${names.join(' and ')}, which the lesson still needs, so it goes back to step ${undone[0]! + 1}. To get back: ${typed(back)}`,
    });
  }
  for (const i of completed) notes.push({ kind: 'done', text: stepLine(s, i) });
  if (last.refused) notes.push({ kind: 'refused', text: explainRefusal(undone.length ? s.steps[undone[0]!] : typedAt, last.refused, m) });
  if (p.done) {
    notes.push({ kind: 'complete', text: s.outro });
    return notes;
  }
  const step = s.steps[p.step]!;
  if (!last.refused && changed) {
    for (const careful of [s.watch?.(m, p.step), ...commonMistakes(m)]) if (careful) notes.push({ kind: 'careful', text: careful });
    const why = completed.length === 0 && undone.length === 0 ? step.notYet?.(m) : null;
    if (why) notes.push({ kind: 'not-yet', text: why });
  }
  if (completed.length || undone.length || last.refused || last.failed || changed) notes.push({ kind: 'next', text: stepLine(s, p.step) });
  return notes;
}
