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
  /** a refused command explained in this step's terms */
  refusal?(code: string, m: Machine): string | null;
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
