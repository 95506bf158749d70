/**
 * The runner (src/cli/runner.ts): kernel lines taken by clock (past the log ring's size),
 * --json keeping stderr one document (the first-run note goes into it), --explain on a
 * refusal, definitions loaded only for the command named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readState, writeState } from '../src/state/store.js';
import { LOG_RING_LINES } from '../src/klog/klog.js';
import { COMMANDS } from '../src/cli/commands/index.js';
import { loadFor, commandWords } from '../src/cli/runner.js';
import { booted, run, okRun, tempState, stateBytes } from './helpers.js';

/** fill the machine's log up to where the next line trims the ring */
function fillLog(state: string): void {
  const m = readState(state)!;
  while (m.log.length < LOG_RING_LINES + 256) {
    m.clockUs += 41;
    m.log.push({ t: m.clockUs, level: 6, text: `filler ${m.log.length}` });
  }
  writeState(state, m);
}

test('a command past the log ring still shows and returns the kernel lines it logged', async () => {
  const fresh = await booted();
  const want = JSON.parse((await okRun(fresh, '--json', 'modprobe', 'vfio-platform')).stdout).dmesg as string[];
  assert.ok(want.length > 0, 'modprobe logs lines');

  const s = await booted();
  fillLog(s);
  const r = await okRun(s, '--json', 'modprobe', 'vfio-platform');
  assert.deepEqual(JSON.parse(r.stdout).dmesg, want, 'the same lines as on a short log');
  const m = readState(s)!;
  assert.ok(m.log.length <= LOG_RING_LINES + 256, 'the ring was trimmed');
  for (let i = 1; i < m.log.length; i++) assert.ok(m.log[i]!.t > m.log[i - 1]!.t, 'timestamps strictly increase');
});

test('a refusal past the log ring carries the kernel lines of its failed probe', async () => {
  const s = await booted();
  await okRun(s, '-q', 'modprobe', 'vfio-platform');
  await okRun(s, '-q', 'override', 'fff52000.dma', 'vfio-platform');
  await okRun(s, '-q', 'unbind', 'fff52000.dma');
  fillLog(s);
  const r = await run(s, '--json', 'bind', 'fff52000.dma');
  assert.equal(r.code, 1, r.stderr);
  const err = JSON.parse(r.stderr.trim()).error as { code: string; dmesg?: string[] };
  assert.deepEqual(err.dmesg, [
    'vfio-platform fff52000.dma: VFIO: No reset function found for device fff52000.dma',
    'vfio-platform fff52000.dma: probe with driver vfio-platform failed with error -2',
  ], r.stderr);
  const human = await run(s, 'bind', 'fff52000.dma');
  assert.equal(human.code, 1);
  assert.match(human.stderr, /^kernel: /m, 'the kernel lines are printed with the error');
});

test('--json on a first run: the "booted the default machine" note is in the document, stderr stays empty', async () => {
  const s = tempState();
  const r = await run(s, '--json', 'override', 'fff51000.ethernet', 'vfio-platform');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'nothing on stderr');
  const doc = JSON.parse(r.stdout) as { notices?: string[]; driverOverride: string };
  assert.equal(doc.driverOverride, 'vfio-platform');
  assert.equal(doc.notices?.length, 1);
  assert.match(doc.notices![0]!, /booted the bundled default machine/);
  // the second command has nothing to say
  const again = await okRun(s, '--json', 'status');
  assert.equal(JSON.parse(again.stdout).notices, undefined);
});

test('--json refused on a first run: stderr is exactly one JSON error document, with the note inside', async () => {
  const s = tempState();
  const r = await run(s, '--json', 'bind', 'fff51000.ethernet');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  const err = JSON.parse(lines[0]!).error as { code: string; notices?: string[] };
  assert.equal(err.code, 'ENOENT');
  assert.match(err.notices?.[0] ?? '', /booted the bundled default machine/);
});

test('--explain on a refused command prints the real-system lines, the refused one marked', async () => {
  const s = await booted();
  const before = stateBytes(s);
  const r = await run(s, '--explain', 'bind', 'fff51000.ethernet');
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^# on a real system \(the kernel refused/m);
  assert.match(r.stdout, /^echo fff51000\.ethernet > \/sys\/bus\/platform\/drivers\/vfio-platform\/bind .*ENOENT: REFUSED by the kernel$/m);
  assert.match(r.stderr, /\(ENOENT\)/);
  const j = await run(s, '--json', '--explain', 'bind', 'fff51000.ethernet');
  assert.equal(j.stdout, '');
  const err = JSON.parse(j.stderr.trim()).error as { explain?: { command: string; result?: string }[] };
  assert.equal(err.explain?.at(-1)?.result, 'ENOENT');
  assert.ok(before !== null);
});

test('only the definition the command line names is loaded; help and unknown words load them all', async () => {
  assert.deepEqual(commandWords(['--state', 'x.json', '--json', 'sysfs', 'cat', '/sys']), ['sysfs', 'cat']);
  assert.deepEqual(commandWords(['-q', 'status', '--json']), ['status']);
  assert.deepEqual((await loadFor(COMMANDS, ['--json', 'status'])).map((d) => d.name), ['status']);
  assert.ok((await loadFor(COMMANDS, ['sysfs', 'cat', '/sys'])).every((d) => d.name.startsWith('sysfs ')));
  assert.equal((await loadFor(COMMANDS, ['--help'])).length, COMMANDS.length);
  assert.equal((await loadFor(COMMANDS, ['stauts'])).length, COMMANDS.length);
  for (const e of COMMANDS) assert.equal((await e.load()).default.name, e.name, 'index names match the definitions');
});
