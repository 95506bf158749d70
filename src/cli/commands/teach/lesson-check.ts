/**
 * What a lesson in progress asks of every other command: `load` (anything that would
 * replace the machine) is refused while one is in progress, and after each command the
 * runner (src/cli/runner.ts) has the lesson judge where the command left the learner.
 */
import type { Context } from '../../context.js';
import { mainStatePath, lockTimeoutMs, lessonInProgress, type GlobalOpts } from '../../session.js';
import { readState } from '../../../state/state-file.js';
import { setActiveLesson, scratchPath, readProgress, updateProgress } from '../../../state/lessons.js';
import { findScenario } from '../../../teach/lessons/index.js';
import { follow, freshProgress, stepLine } from '../../../teach/lesson.js';
import { UsageError, KernelError } from '../../../base/errors.js';
import { colorWanted, makeStyle, type Style } from '../../output.js';

/**
 * `load` while a lesson is in progress would throw the lesson's machine away under it:
 * refused, naming the two ways on.
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
 * `error`: what the command threw (null when it succeeded); `command`: its first word.
 */
export async function afterCommand(ctx: Context, g: GlobalOpts, main: string, lesson: string, error: unknown, command: string): Promise<void> {
  const s = findScenario(lesson);
  if (!s) return;
  const m = readState(scratchPath(main, lesson));
  if (!m) return;
  const refused = error instanceof KernelError ? { command, code: error.code, path: error.path, op: error.op, message: error.message } : undefined;
  const { p, notes } = await updateProgress(main, lockTimeoutMs(ctx), (progress) => {
    const p = progress.get(s.name) ?? freshProgress(m);
    const notes = follow(s, p, m, { command, refused, failed: error !== null && error !== undefined && !refused });
    progress.set(s.name, p);
    return { p, notes };
  });
  if (p.done) setActiveLesson(main, null);
  const st: Style = await makeStyle(colorWanted(ctx, g.color === false, 'stderr'));
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
  if (lines.length && !g.json && !g.quiet) ctx.stderr.write(lines.join('\n') + '\n');
}
