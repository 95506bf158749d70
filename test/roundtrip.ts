/** Save and load a machine the way the state file does (one place to adapt if the state API changes). */
import type { Machine } from '../src/base/machine.js';
import { parseState, serializeState } from '../src/state/store.js';

export function roundTrip(m: Machine): Machine {
  return parseState('(in memory)', serializeState(m));
}
