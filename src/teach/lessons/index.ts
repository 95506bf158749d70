/**
 * The lessons, in the order `vfioctl lesson` lists them (letters a, b, c…).
 *
 * A new lesson goes in its own file in this folder: export one Scenario (its name, letter,
 * the bundled tree it boots, and its steps, built from ../steps.ts where they fit), add it
 * to the list below, run `npm run gen-demos` to write scripts/demo-NAME.sh, and run the
 * tests once with UPDATE_GOLDEN=1 to write test/golden/demo-NAME.txt (then read it).
 */
import type { Scenario } from '../scenario.js';
import { passthroughLesson } from './passthrough.js';
import { noResetLesson } from './no-reset.js';
import { groupsLesson } from './groups.js';
import { terminationLesson } from './termination.js';
import { genericResetLesson } from './generic-reset.js';
import { coherencyLesson } from './coherency.js';

export const SCENARIOS: readonly Scenario[] = [passthroughLesson, noResetLesson, groupsLesson, terminationLesson, genericResetLesson, coherencyLesson];

export function findScenario(nameOrLetter: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === nameOrLetter || s.letter === nameOrLetter);
}
