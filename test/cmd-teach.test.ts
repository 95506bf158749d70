/**
 * Teaching: lessons followed by state, typical mistakes explained, demos and their
 * shell-script twins matching one golden file, --explain on every command.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { REPO, tempState, run, stateBytes, golden } from './helpers.js';
import { assertRefusedState } from './refuse.js';
import { SCENARIOS } from '../src/teach/lessons/index.js';
import { demoScript, demoLibScript } from '../src/teach/script.js';
import { readProgress, activeLesson, scratchPath } from '../src/state/lessons.js';

const args = (line: string): string[] => line.split(' ');

/** a state file in a temporary directory removed when the test ends */
function scratchState(t: TestContext): string {
  const state = tempState();
  t.after(() => rmSync(path.dirname(state), { recursive: true, force: true }));
  return state;
}

test('every lesson can be followed to its end by typing its commands; each step is recognised from the state after its own commands', async (t) => {
  for (const s of SCENARIOS) {
    const state = scratchState(t);
    assert.equal((await run(state, 'status')).code, 0); // the learner's own machine exists
    const mine = stateBytes(state);
    const started = await run(state, 'lesson', s.name);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(activeLesson(state), s.name);
    for (const [i, step] of s.steps.entries()) {
      assert.equal(readProgress(state).get(s.name)?.step, i, `${s.name}: before step ${i + 1} (${step.goal})`);
      for (const c of step.commands) {
        const r = await run(state, ...args(c));
        assert.equal(r.code, 0, `${s.name} step ${i + 1}: vfioctl ${c}\n${r.stderr}`);
      }
      const p = readProgress(state).get(s.name)!;
      assert.equal(p.step, i + 1, `${s.name}: step ${i + 1} (${step.goal}) not recognised after its commands`);
    }
    assert.equal(readProgress(state).get(s.name)?.done, true);
    assert.equal(activeLesson(state), null, 'a finished lesson hands the learner back their machine');
    assert.deepEqual(stateBytes(state), mine, `${s.name}: the learner's own state file was touched`);
  }
});

test('lesson: list, start, hint, stop, resume, restart', async (t) => {
  const state = scratchState(t);
  const list = await run(state, 'lesson');
  assert.equal(list.code, 0);
  for (const s of SCENARIOS) assert.match(list.stdout, new RegExp(`${s.letter}\\s+${s.name}\\s.*not started`));
  assert.equal(existsSync(state), false, 'listing lessons boots nothing');

  assert.equal((await run(state, 'lesson', 'a')).code, 0);
  await run(state, 'modprobe', 'vfio-platform');
  const hint = await run(state, 'lesson', 'hint');
  assert.equal(hint.code, 0, hint.stderr);
  assert.match(hint.stdout, /Step 2\/9: Set driver_override of fff51000\.ethernet/);
  assert.match(hint.stdout, /type: vfioctl override fff51000\.ethernet vfio-platform/);
  assert.match(hint.stdout, /on a real system:\n {4}echo vfio-platform > \/sys\/bus\/platform\/devices\/fff51000\.ethernet\/driver_override/);
  const hintJson = JSON.parse((await run(state, '--json', 'lesson', 'hint')).stdout) as { step: number; realSystem: { command: string }[] };
  assert.equal(hintJson.step, 2);
  assert.equal(readProgress(state).get('passthrough')?.step, 1, 'a hint changes nothing');

  const stop = await run(state, 'lesson', 'stop');
  assert.match(stop.stdout, /Left lesson passthrough/);
  assert.equal(activeLesson(state), null);
  const own = await run(state, '--json', 'lsmod');
  assert.deepEqual((JSON.parse(own.stdout) as { modules: unknown[] }).modules, [], 'after stop, commands act on the learner\'s machine (vfio-platform was loaded only on the lesson machine)');

  const resumed = await run(state, 'lesson', 'passthrough');
  assert.match(resumed.stdout, /Resuming lesson a: passthrough/);
  assert.match(resumed.stdout, /Step 2\/9/);
  const restarted = await run(state, 'lesson', 'passthrough', '--restart');
  assert.match(restarted.stdout, /Step 1\/9/);
  assert.equal(readProgress(state).get('passthrough')?.step, 0);
  const listed = await run(state, 'lesson');
  assert.match(listed.stdout, /In progress: passthrough, step 1\/9/);
});

test('lesson: typical mistakes are explained in lesson terms and name the fix', async (t) => {
  const state = scratchState(t);
  await run(state, 'lesson', 'passthrough');

  // bind before modprobe: refused, only the kernel's side effects saved, the lesson names modprobe
  const scratch = scratchPath(state, 'passthrough');
  const before = stateBytes(scratch);
  const bind = await run(state, 'bind', 'fff51000.ethernet');
  assert.equal(bind.code, 1);
  assert.match(bind.stderr, /ENOENT/);
  assert.match(bind.stderr, /lesson passthrough: refused: .*vfioctl modprobe vfio-platform/);
  assertRefusedState('bind', 1, scratch, before); // only the kernel's side effects are kept

  // unbind before override: it works, the lesson warns
  const unbind = await run(state, 'unbind', 'fff51000.ethernet');
  assert.equal(unbind.code, 0);
  assert.match(unbind.stderr, /careful: fff51000\.ethernet is unbound but driver_override is not set/);

  for (const c of ['modprobe vfio-platform', 'override fff51000.ethernet vfio-platform', 'probe fff51000.ethernet', 'open fff51000.ethernet --owner qemu', 'close fff51000.ethernet']) {
    assert.equal((await run(state, ...args(c))).code, 0, c);
  }
  // echo -n "" to clear the override: a zero-length write changes nothing
  const empty = await run(state, 'sysfs', 'write', '-n', '/sys/bus/platform/devices/fff51000.ethernet/driver_override', '');
  assert.equal(empty.code, 0);
  assert.equal(readProgress(state).get('passthrough')?.step, 6, 'the clear step is not done');
  assert.match(empty.stderr, /not yet: driver_override is still "vfio-platform": a zero-length write/);
  const cleared = await run(state, 'sysfs', 'write', '/sys/bus/platform/devices/fff51000.ethernet/driver_override', '');
  assert.match(cleared.stderr, /✓ step 7\/9/);
});

test('lesson groups: binding, then opening, a device of a non-viable group is explained', async (t) => {
  const state = scratchState(t);
  await run(state, 'lesson', 'groups');
  await run(state, 'modprobe', 'vfio-platform');
  const bound = await run(state, 'passthrough', 'fff60000.crypto');
  assert.match(bound.stderr, /careful: fff60000\.crypto is bound to vfio-platform, but IOMMU group 2 is not viable \(fff61000\.rng is bound to host driver acme-rng\)/);
  const scratch = scratchPath(state, 'groups');
  const before = stateBytes(scratch);
  const open = await run(state, 'open', 'fff60000.crypto');
  assert.equal(open.code, 1);
  assert.match(open.stderr, /EPERM/);
  assert.match(open.stderr, /lesson groups: refused: that is the point: group 2 is not viable \(fff61000\.rng is bound to host driver acme-rng\)/);
  assertRefusedState('open', 1, scratch, before);
  const json = await run(state, '--json', 'open', 'fff60000.crypto');
  assert.equal(json.code, 1);
  assert.doesNotMatch(json.stderr, /lesson/, 'no lesson chatter in --json mode: stderr is the JSON error');
  assert.equal((JSON.parse(json.stderr) as { error: { code: string } }).error.code, 'EPERM');
});

test('lesson: refusals of the lesson command itself', async (t) => {
  const state = scratchState(t);
  const unknown = await run(state, 'lesson', 'nosuch');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no lesson named "nosuch"/);
  assert.match(unknown.stderr, /a passthrough, b no-reset/);
  const hint = await run(state, '--json', 'lesson', 'hint');
  assert.equal(hint.code, 2);
  assert.match((JSON.parse(hint.stderr) as { error: { hint: string } }).error.hint, /vfioctl lesson passthrough/);
  assert.equal(existsSync(state), false);
  assert.equal(existsSync(path.dirname(scratchPath(state, 'x'))), false, 'a refused lesson command creates nothing');
});

const BIN = path.join(REPO, 'bin', 'vfioctl');

for (const s of SCENARIOS) {
  test(`demo ${s.name}: vfioctl demo and scripts/demo-${s.name}.sh print the golden transcript`, async (t) => {
    const script = path.join(REPO, 'scripts', `demo-${s.name}.sh`);
    assert.equal(readFileSync(script, 'utf8'), demoScript(s), `scripts/demo-${s.name}.sh is stale: npm run gen-demos`);
    assert.equal(readFileSync(path.join(REPO, 'scripts', 'lib-demo.sh'), 'utf8'), demoLibScript(), 'scripts/lib-demo.sh is stale: npm run gen-demos');
    const state = scratchState(t);
    const r = await run(state, 'demo', s.name);
    assert.equal(r.code, 0, r.stderr);
    golden(`demo-${s.name}`, r.stdout);
    assert.equal(existsSync(state), false, 'a demo never touches the user\'s machine');
    const sh = spawnSync('sh', [script], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: path.dirname(state), VFIOCTL: BIN } });
    assert.equal(sh.status, 0, sh.stderr);
    assert.equal(sh.stdout, r.stdout, `scripts/demo-${s.name}.sh and vfioctl demo ${s.name} differ`);
  });
}

test('demo: list, --json, bad name and bad --pace', async (t) => {
  const state = scratchState(t);
  const list = await run(state, 'demo');
  for (const s of SCENARIOS) assert.match(list.stdout, new RegExp(`^  ${s.name}\\s`, 'm'));
  const json = await run(state, '--json', 'demo', 'groups');
  const doc = JSON.parse(json.stdout) as { demo: string; commands: { command: string; exit: number }[] };
  assert.equal(doc.demo, 'groups');
  assert.deepEqual(doc.commands.filter((c) => c.exit !== 0).map((c) => `${c.command} → ${c.exit}`), ['vfioctl open fff60000.crypto --owner app → 1'], 'the one expected refusal of the groups demo');
  const bad = await run(state, 'demo', 'nosuch');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /demos: passthrough, no-reset/);
  const pace = await run(state, 'demo', 'groups', '--pace', 'fast');
  assert.equal(pace.code, 2);
  assert.match(pace.stderr, /--pace takes milliseconds/);
  assert.equal(existsSync(state), false);
});

test('the scripts directory holds exactly one demo script per scenario', () => {
  const demos = readdirSync(path.join(REPO, 'scripts')).filter((f) => f.startsWith('demo-')).sort();
  assert.deepEqual(demos, SCENARIOS.map((s) => `demo-${s.name}.sh`).sort());
});

test('--explain works on every command: the JSON document carries a non-empty explanation', async (t) => {
  const state = scratchState(t);
  const cmds = [
    'status', 'groups', 'dmesg', 'lsmod', 'show fff51000.ethernet', 'sysfs cat /sys/bus/platform/drivers_autoprobe', 'sysfs ls /sys/bus/platform',
    'modprobe vfio-platform', 'override fff52000.dma vfio-platform', 'unbind fff52000.dma', 'probe fff52000.dma', 'override fff52000.dma --clear',
    'bind fff52000.dma --driver acme-dma', 'passthrough fff51000.ethernet', 'info fff51000.ethernet', 'regions fff51000.ethernet', 'irqs fff51000.ethernet',
    'open fff51000.ethernet --owner qemu', 'start fff51000.ethernet', 'unmask fff51000.ethernet 0', 'reset fff51000.ethernet', 'stop fff51000.ethernet',
    'close fff51000.ethernet', 'restore fff51000.ethernet', 'policy generic-reset off', 'graph', 'graph --format mermaid', 'completion bash', 'rmmod vfio-platform', 'load default', 'lesson', 'demo',
  ];
  cmds.push(`export ${path.join(path.dirname(state), 'export')}`);
  for (const c of cmds) {
    const r = await run(state, '--json', '--explain', ...args(c));
    assert.equal(r.code, 0, `${c}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout) as { explain?: { command: string; why: string }[] };
    assert.ok(Array.isArray(doc.explain) && doc.explain.length > 0, `--explain ${c} gave no explanation`);
    for (const e of doc.explain) assert.ok(e.command && e.why, `${c}: every step has a command and a reason`);
  }
  for (const c of ['passthrough fff51000.ethernet', 'open fff51000.ethernet --owner vm']) assert.equal((await run(state, ...args(c))).code, 0, c);
  const kill = await run(state, '--explain', 'kill', 'vm');
  assert.equal(kill.code, 0);
  assert.match(kill.stdout, /^# .*\nkill -9 \d+/m);
});
