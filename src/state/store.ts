/**
 * The state layer's former single module, kept as an index for code written against it
 * (tests). New code imports the file of the job it needs: path.ts, codec.ts,
 * state-file.ts, lock.ts, session.ts.
 */
export { statePath, type StateEnv } from './path.js';
export { parseState, serializeState, STATE_FORMAT, STATE_VERSION } from './codec.js';
export { readState, writeState, STATE_MAX_BYTES } from './state-file.js';
