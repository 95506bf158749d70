/** A refused in-process run: exit status, one JSON error line on stderr, nothing on stdout, state bytes unchanged. */
import assert from 'node:assert/strict';
import { run, stateBytes } from './helpers.js';

export interface ErrorDoc {
  code: string;
  errno?: number;
  message: string;
  path?: string;
  hint?: string;
}

export async function expectRefused(state: string, exit: number, code: string, argv: string[]): Promise<ErrorDoc> {
  const before = stateBytes(state);
  const r = await run(state, '--json', ...argv);
  const what = `vfioctl ${argv.join(' ')}`;
  assert.equal(r.code, exit, `${what}: exit ${r.code}\nstdout=${r.stdout}\nstderr=${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const err = (JSON.parse(last) as { error: ErrorDoc }).error;
  assert.equal(err.code, code, r.stderr);
  if (exit === 1) assert.equal(typeof err.errno, 'number', 'a refusal carries its errno');
  assert.deepEqual(stateBytes(state), before, `${what} changed the state file`);
  return err;
}
