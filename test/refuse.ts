/** A refused in-process run: exit status, one JSON error line on stderr, nothing on stdout, and the state as the rule says. */
import assert from 'node:assert/strict';
import { run, stateBytes } from './helpers.js';
import { parseState } from '../src/state/codec.js';
import type { Machine } from '../src/base/machine.js';

export interface ErrorDoc {
  code: string;
  errno?: number;
  message: string;
  path?: string;
  hint?: string;
}

/** what a refused write must leave as it was: every binding, override, group and owner */
const attributes = (m: Machine): unknown => ({
  devices: m.devices.map((d) => [d.name, d.driver, d.driverOverride, d.iommuGroup, d.vfio]),
  groups: m.groups,
  owners: m.owners.map((o) => [o.name, o.alive, o.groups, o.devices]),
  buses: m.buses,
  options: m.options,
});

/**
 * The state after a refusal: exit 2/3/4 save nothing (byte for byte). Exit 1 (the kernel
 * refused) saves the kernel's side effects and nothing else (SPEC §4): the clock moved,
 * the old log lines are kept, no binding, override, group or owner changed.
 */
export function assertRefusedState(what: string, exit: number, p: string, before: Buffer | null, opts: { partial?: boolean } = {}): void {
  const after = stateBytes(p);
  if (exit !== 1 || before === null) {
    if (exit !== 1) assert.deepEqual(after, before, `${what} changed the state file`);
    return;
  }
  assert.ok(after, `${what} removed the state file`);
  if (after.equals(before)) return; // a read-only command: nothing to save
  const was = parseState(p, before);
  const now = parseState(p, after);
  assert.ok(now.clockUs > was.clockUs, `${what}: the refused command's clock was not saved`);
  // a command of several writes (passthrough, restore) keeps the ones the kernel took
  if (!opts.partial) assert.deepStrictEqual(attributes(now), attributes(was), `${what} changed more than the kernel's side effects`);
  const first = now.log[0]?.t ?? 0;
  const kept = was.log.filter((l) => l.t >= first);
  assert.deepStrictEqual(now.log.slice(0, kept.length), kept, `${what}: the old log lines are not kept`);
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
  assertRefusedState(what, exit, state, before);
  return err;
}

/** The error document of a refused `load` (exit 3): where in the tree file it went wrong. */
export interface TreeErrorDoc {
  code: string;
  message: string;
  file: string;
  line?: number;
  column?: number;
  offset?: number;
}

/**
 * `load FILE` under --json is refused as a bad tree: exit 3, nothing on stdout, no stack
 * trace, one TREE error document whose message matches, and the state file as it was.
 * Returns the document and the state's bytes before (for the caller's further runs).
 */
export async function loadRefused(state: string, file: string, message: RegExp): Promise<{ e: TreeErrorDoc; before: Buffer | null }> {
  const before = stateBytes(state);
  const r = await run(state, '--json', 'load', file);
  assert.equal(r.code, 3, `${file}: exit ${r.code}\n${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const e = (JSON.parse(r.stderr) as { error: TreeErrorDoc }).error;
  assert.equal(e.code, 'TREE');
  assert.match(e.message, message);
  assert.deepEqual(stateBytes(state), before, 'the state file is unchanged');
  return { e, before };
}
