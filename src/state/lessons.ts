/**
 * Where lessons keep their things, next to the learner's state file STATE.json:
 *   STATE.lessons/active         name of the lesson in progress (absent: none)
 *   STATE.lessons/<name>.json    the lesson's scratch machine (an ordinary state file)
 *   STATE.lessons/progress.json  step reached in each lesson
 * The learner's own state file is never read or written by a lesson.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StateError } from '../base/errors.js';
import { writeFileAtomic } from './store.js';

export interface LessonProgress {
  /** index of the current step (== number of steps when done) */
  step: number;
  done: boolean;
  /** machine clock (µs) when the current step began: kernel lines after it count for it */
  since: number;
  /** machine clock at the last check: a change means the last command changed the machine */
  clock: number;
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

export function lessonDir(statePath: string): string {
  const base = path.basename(statePath).replace(/\.json$/, '');
  return path.join(path.dirname(statePath), `${base}.lessons`);
}

export function scratchPath(statePath: string, lesson: string): string {
  return path.join(lessonDir(statePath), `${lesson}.json`);
}

/** The lesson in progress for this state file, or null. One failed open when there is none. */
export function activeLesson(statePath: string): string | null {
  let t: string;
  try {
    t = fs.readFileSync(path.join(lessonDir(statePath), 'active'), 'utf8').trim();
  } catch {
    return null;
  }
  return NAME.test(t) ? t : null;
}

export function setActiveLesson(statePath: string, lesson: string | null): void {
  const f = path.join(lessonDir(statePath), 'active');
  if (lesson === null) fs.rmSync(f, { force: true });
  else writeFileAtomic(f, lesson + '\n');
}

const progressFile = (statePath: string): string => path.join(lessonDir(statePath), 'progress.json');

export function readProgress(statePath: string): Map<string, LessonProgress> {
  const f = progressFile(statePath);
  let text: string;
  try {
    text = fs.readFileSync(f, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new StateError(f, `cannot read lesson progress: ${(e as Error).message}`, `remove ${f} to start the lessons afresh`);
  }
  const out = new Map<string, LessonProgress>();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new StateError(f, 'lesson progress is not valid JSON', `remove ${f} to start the lessons afresh (your own machine is not affected)`);
  }
  const lessons = (doc as { lessons?: unknown } | null)?.lessons;
  if (typeof lessons !== 'object' || lessons === null) throw new StateError(f, 'lesson progress has the wrong shape', `remove ${f} to start the lessons afresh`);
  for (const [k, v] of Object.entries(lessons)) {
    const p = v as Partial<LessonProgress>;
    if (!NAME.test(k) || typeof p.step !== 'number' || typeof p.done !== 'boolean') continue;
    out.set(k, { step: p.step, done: p.done, since: Number(p.since) || 0, clock: Number(p.clock) || 0 });
  }
  return out;
}

export function writeProgress(statePath: string, all: Map<string, LessonProgress>): void {
  writeFileAtomic(progressFile(statePath), JSON.stringify({ lessons: Object.fromEntries(all) }, null, 2) + '\n');
}
