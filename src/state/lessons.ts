/**
 * Where lessons keep their things, next to the learner's state file STATE:
 *   STATE.lessons/active         name of the lesson in progress (absent: none)
 *   STATE.lessons/<name>.json    the lesson's scratch machine (an ordinary state file)
 *   STATE.lessons/progress.json  step reached in each lesson
 * (STATE is the whole file name: `box.json` and `box` have separate lesson directories.)
 * The learner's own state file is never read or written by a lesson. The progress file
 * is changed under the same kind of lock as the state (lock.ts).
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { StateError } from '../base/errors.js';
import { writeFileAtomic } from './atomic.js';
import { readRegular } from './file.js';
import { locked } from './session.js';

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
/** the progress file is small: a few lines per lesson */
const PROGRESS_MAX_BYTES = 1024 * 1024;

export function lessonDir(statePath: string): string {
  return `${statePath}.lessons`;
}

export function scratchPath(statePath: string, lesson: string): string {
  return path.join(lessonDir(statePath), `${lesson}.json`);
}

/** The lesson in progress for this state file, or null. One failed open when there is none. */
export function activeLesson(statePath: string): string | null {
  let r;
  try {
    r = readRegular(path.join(lessonDir(statePath), 'active'), 64);
  } catch {
    return null;
  }
  if (!r.ok) return null;
  const t = r.data.toString('utf8').trim();
  return NAME.test(t) ? t : null;
}

export function setActiveLesson(statePath: string, lesson: string | null): void {
  const f = path.join(lessonDir(statePath), 'active');
  if (lesson === null) {
    const st = fs.lstatSync(f, { throwIfNoEntry: false });
    if (st && st.isFile()) fs.rmSync(f, { force: true });
  } else writeFileAtomic(f, lesson + '\n');
}

const progressFile = (statePath: string): string => path.join(lessonDir(statePath), 'progress.json');

export function readProgress(statePath: string): Map<string, LessonProgress> {
  const f = progressFile(statePath);
  const again = `remove ${f} to start the lessons afresh (your own machine is not affected)`;
  let r;
  try {
    r = readRegular(f, PROGRESS_MAX_BYTES);
  } catch (e) {
    throw new StateError(f, `cannot read lesson progress: ${(e as Error).message}`, again);
  }
  if (!r.ok) {
    if (r.why === 'missing') return new Map();
    throw new StateError(f, `cannot read lesson progress: ${r.why === 'too-big' ? 'the file is too big' : r.why === 'not-regular' ? `it is ${r.kind}` : r.why === 'symlink' ? 'it is a symbolic link' : 'permission denied'}`, again);
  }
  const out = new Map<string, LessonProgress>();
  let doc: unknown;
  try {
    doc = JSON.parse(r.data.toString('utf8'));
  } catch {
    throw new StateError(f, 'lesson progress is not valid JSON', again);
  }
  const lessons = (doc as { lessons?: unknown } | null)?.lessons;
  if (typeof lessons !== 'object' || lessons === null) throw new StateError(f, 'lesson progress has the wrong shape', again);
  for (const [k, v] of Object.entries(lessons)) {
    const p = v as Partial<LessonProgress>;
    if (!NAME.test(k) || typeof p.step !== 'number' || typeof p.done !== 'boolean') continue;
    out.set(k, { step: p.step, done: p.done, since: Number(p.since) || 0, clock: Number(p.clock) || 0 });
  }
  return out;
}

function writeProgress(statePath: string, all: Map<string, LessonProgress>): void {
  writeFileAtomic(progressFile(statePath), JSON.stringify({ lessons: Object.fromEntries(all) }, null, 2) + '\n');
}

/** Read, change and write the lesson progress under its lock. */
export async function updateProgress<T>(statePath: string, lockTimeoutMs: number, fn: (all: Map<string, LessonProgress>) => T | Promise<T>): Promise<T> {
  return locked({ path: progressFile(statePath), lockTimeoutMs }, async () => {
    const all = readProgress(statePath);
    const r = await fn(all);
    writeProgress(statePath, all);
    return r;
  });
}
