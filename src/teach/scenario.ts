/**
 * What a lesson is: a named list of steps on one machine (the tree it names), each
 * recognised from the machine's state. `lesson` asks the learner to type the steps,
 * `demo` and scripts/demo-*.sh run their commands narrated. The lessons themselves
 * live one per file in src/teach/lessons/ (see lessons/index.ts).
 */
import type { Machine } from '../base/machine.js';

export interface Step {
  /** what to achieve, in one line */
  goal: string;
  /** why the step exists: what a real system would do wrong without it */
  why: string;
  /** a nudge that does not give the command away */
  hint: string;
  /** the vfioctl commands that complete the step (the demo runs these) */
  commands: string[];
  /** commands the demo runs before `commands` to show the situation (read-only, or an expected refusal) */
  before?: string[];
  /** commands the demo runs after `commands` to show the effect */
  after?: string[];
  /** the machine shows the step done; `since` is the clock (µs) when the step began */
  done(m: Machine, since: number): boolean;
  /** after a command that changed the machine but did not complete the step: what the state shows, if worth saying */
  notYet?(m: Machine): string | null;
  /** a refused command explained in this step's terms (null: not about this step; the common readings apply) */
  refusal?(r: Refused, m: Machine): string | null;
  /**
   * How many of the following steps need the state this step reached: while the lesson is
   * on one of them and done() turns false again (the learner undid it), the lesson goes back
   * to this step and says so. 0 (the default) for steps whose result later steps may change.
   */
  keep?: number;
  /** more about the step than `why`, for `lesson hint` (e.g. why other tools do it in another order) */
  aside?: string;
}

/** A command the kernel refused, as the lesson sees it. */
export interface Refused {
  /** the vfioctl verb typed (`bind`, `open`, `sysfs`…), when the caller knows it */
  command?: string | undefined;
  /** errno name */
  code: string;
  /** the file or device node the refused call was on */
  path?: string | undefined;
  /** the system call that failed: write (a sysfs store), open, ioctl, exec (modprobe, rmmod, kill) */
  op?: string | undefined;
  /** the error's own text (`rmmod: ERROR: …`) */
  message?: string | undefined;
}

export interface Scenario {
  name: string;
  letter: string;
  title: string;
  /** the bundled tree (devicetrees/NAME.yaml) the lesson's machine boots from */
  tree: string;
  intro: string;
  steps: Step[];
  outro: string;
  /** a mistake worth pointing out whatever step the learner is on (`step`: index of the current one) */
  watch?(m: Machine, step: number): string | null;
}
