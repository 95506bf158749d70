/**
 * Lessons follow the learner (issue 13.2), through main() in-process: a refusal is
 * explained for the call that was refused, a step the learner undoes is noticed at once
 * and the step counter goes back with it, and `lesson hint` never sends the learner to a
 * command that cannot work where the machine now is.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { tempState, run, stateBytes } from './helpers.js';
import { assertRefusedState } from './refuse.js';
import { readProgress, scratchPath } from '../src/state/lessons.js';
import { readState } from '../src/state/store.js';

/** a learner's state file in a temporary directory removed after the test */
function learner(t: TestContext): string {
  const state = tempState();
  t.after(() => rmSync(path.dirname(state), { recursive: true, force: true }));
  return state;
}

async function type(state: string, ...commands: string[]): Promise<void> {
  for (const c of commands) {
    const r = await run(state, ...c.split(' '));
    assert.equal(r.code, 0, `vfioctl ${c}\n${r.stderr}`);
  }
}

const stepOf = (state: string, lesson: string): number | undefined => readProgress(state).get(lesson)?.step;

test('an open refused with ENODEV or EBUSY is explained as an open, not as a bind', async (t) => {
  const state = learner(t);
  await type(state, 'lesson passthrough', 'modprobe vfio-platform');
  const scratch = scratchPath(state, 'passthrough');

  const before = stateBytes(scratch);
  const enodev = await run(state, 'open', 'fff51000.ethernet', '--owner', 'qemu');
  assert.equal(enodev.code, 1);
  assert.match(enodev.stderr, /ENODEV/);
  assert.match(enodev.stderr, /lesson passthrough: refused: only a device bound to a VFIO driver \(vfio-platform\) has a VFIO device fd/);
  assert.doesNotMatch(enodev.stderr, /does not match this device|already bound/);
  assertRefusedState('a refused open', 1, scratch, before);
  assert.deepEqual(readState(scratch)!.owners, [], 'the refused open left no owner behind');
  assert.equal(stepOf(state, 'passthrough'), 1);

  await type(state, 'override fff51000.ethernet vfio-platform', 'unbind fff51000.ethernet', 'probe fff51000.ethernet', 'open fff51000.ethernet --owner qemu');
  const held = stateBytes(scratch);
  const ebusy = await run(state, 'open', 'fff51000.ethernet', '--owner', 'other');
  assert.equal(ebusy.code, 1);
  assert.match(ebusy.stderr, /EBUSY/);
  assert.match(ebusy.stderr, /lesson passthrough: refused: the IOMMU group is already held by another owner/);
  assert.doesNotMatch(ebusy.stderr, /already bound|unbind it first/, 'EBUSY from open is not the bind reading');
  assertRefusedState('an open of a held group', 1, scratch, held);
  assert.deepEqual(readState(scratch)!.owners.map((o) => o.name), ['qemu'], 'qemu still holds the group, alone');
  assert.equal(stepOf(state, 'passthrough'), 5, 'the open step stays done');

  // the bind reading still applies to bind
  const bind = await run(state, 'bind', 'fff51000.ethernet');
  assert.equal(bind.code, 1);
  assert.match(bind.stderr, /EBUSY/);
  assert.match(bind.stderr, /refused: the device is already bound/);
});

test('clearing the override after step 2 is noticed at once: the lesson says which step it undid, goes back, and hint shows that step', async (t) => {
  const state = learner(t);
  await type(state, 'lesson passthrough', 'modprobe vfio-platform', 'override fff51000.ethernet vfio-platform', 'unbind fff51000.ethernet');
  assert.equal(stepOf(state, 'passthrough'), 3, 'on the probe step');

  const clear = await run(state, 'override', 'fff51000.ethernet', '--clear');
  assert.equal(clear.code, 0);
  assert.match(clear.stderr, /lesson passthrough: back: that undid step 2\/9 \(Set driver_override of fff51000\.ethernet to vfio-platform\), which the lesson still needs, so it goes back to step 2\. To get back: vfioctl override fff51000\.ethernet vfio-platform/);
  assert.match(clear.stderr, /lesson passthrough: step 2\/9: Set driver_override/);
  assert.equal(stepOf(state, 'passthrough'), 1, 'the step counter went back');
  const listed = await run(state, 'lesson');
  assert.match(listed.stdout, /passthrough\s.*step 2\/9 \(in progress\)/);

  const hint = await run(state, 'lesson', 'hint');
  assert.match(hint.stdout, /^Step 2\/9: Set driver_override/);
  assert.match(hint.stdout, /type: vfioctl override fff51000\.ethernet vfio-platform/);
  assert.doesNotMatch(hint.stdout, /would be refused/);

  const again = await run(state, 'override', 'fff51000.ethernet', 'vfio-platform');
  assert.match(again.stderr, /✓ step 2\/9/);
  assert.match(again.stderr, /✓ step 3\/9/, 'the unbind still holds, so it counts at once');
  assert.match(again.stderr, /next, step 4\/9: Probe/);
  assert.equal(stepOf(state, 'passthrough'), 3);
});

test('giving the device back to its host driver in the middle is noticed, and the way back never loops', async (t) => {
  const state = learner(t);
  await type(state, 'lesson passthrough', 'modprobe vfio-platform', 'override fff51000.ethernet vfio-platform', 'unbind fff51000.ethernet', 'probe fff51000.ethernet');
  assert.equal(stepOf(state, 'passthrough'), 4, 'on the open step');

  // clearing the override of a bound device changes nothing the open step needs
  const clear = await run(state, 'override', 'fff51000.ethernet', '--clear');
  assert.doesNotMatch(clear.stderr, /back:/);
  assert.equal(stepOf(state, 'passthrough'), 4);

  const unbind = await run(state, 'unbind', 'fff51000.ethernet');
  assert.match(unbind.stderr, /back: that undid step 2\/9 \(Set driver_override[^)]*\) and step 4\/9 \(Probe fff51000\.ethernet so that vfio-platform binds it\)[^\n]*goes back to step 2\. To get back: vfioctl override fff51000\.ethernet vfio-platform/);
  assert.equal(stepOf(state, 'passthrough'), 1);

  const host = await run(state, 'probe', 'fff51000.ethernet');
  assert.equal(host.code, 0);
  assert.match(host.stdout, /bound to calxedaxgmac/);
  assert.equal(stepOf(state, 'passthrough'), 1, 'still on the override step');
  const hint = await run(state, 'lesson', 'hint');
  assert.match(hint.stdout, /type: vfioctl override fff51000\.ethernet vfio-platform/);

  const o = await run(state, 'override', 'fff51000.ethernet', 'vfio-platform');
  assert.match(o.stderr, /✓ step 2\/9/);
  assert.match(o.stderr, /next, step 3\/9: Unbind fff51000\.ethernet from its host driver calxedaxgmac/, 'the host driver is back, so the unbind step is due again');
  await type(state, 'unbind fff51000.ethernet', 'probe fff51000.ethernet');
  assert.equal(stepOf(state, 'passthrough'), 4);
});

test('lesson hint says when the step\'s own command would be refused now, and names the ways out', async (t) => {
  const state = learner(t);
  await type(state, 'lesson passthrough', 'modprobe vfio-platform', 'override fff51000.ethernet vfio-platform', 'unbind fff51000.ethernet', 'probe fff51000.ethernet',
    'open fff51000.ethernet --owner qemu', 'close fff51000.ethernet', 'override fff51000.ethernet --clear');
  assert.equal(stepOf(state, 'passthrough'), 7, 'on the unbind-from-vfio-platform step');
  await type(state, 'open fff51000.ethernet --owner qemu');
  const hint = await run(state, 'lesson', 'hint');
  assert.equal(hint.code, 0, hint.stderr);
  assert.match(hint.stdout, /type: vfioctl unbind fff51000\.ethernet/);
  assert.match(hint.stdout, /but: on the lesson machine as it is now, vfioctl unbind fff51000\.ethernet would be refused \(EWOULDBLOCK\): the device is still open/);
  assert.match(hint.stdout, /vfioctl lesson passthrough --restart starts over; vfioctl lesson stop leaves the lesson/);
  const json = JSON.parse((await run(state, '--json', 'lesson', 'hint')).stdout) as { wouldBeRefused?: { code: string } };
  assert.equal(json.wouldBeRefused?.code, 'EWOULDBLOCK');
  assert.equal(stepOf(state, 'passthrough'), 7, 'a hint changes nothing');
});

test('the override step explains why driverctl unbinds first and what the race is', async (t) => {
  const state = learner(t);
  await type(state, 'lesson passthrough', 'modprobe vfio-platform');
  const hint = await run(state, 'lesson', 'hint');
  assert.match(hint.stdout, /more: Override first, or unbind first\? Both orders work on a quiet machine and both are in use: driverctl set-override/);
  assert.match(hint.stdout, /The difference is a race/);
  const unbind = await run(state, 'unbind', 'fff51000.ethernet');
  assert.match(unbind.stderr, /careful: fff51000\.ethernet is unbound but driver_override is not set: unbinding first is the order driverctl uses, and it is a race/);
});

test('load during a lesson is refused and names lesson NAME --restart and lesson stop; neither machine changes', async (t) => {
  const state = learner(t);
  await type(state, 'status', 'lesson passthrough', 'modprobe vfio-platform');
  const mine = stateBytes(state);
  const scratch = scratchPath(state, 'passthrough');
  const lessonMachine = stateBytes(scratch);
  const r = await run(state, 'load', 'highbank');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /vfioctl: lesson passthrough is in progress, step 2\/9: Set driver_override[^\n]*: vfioctl load highbank would replace the lesson's machine, so it was not run/);
  assert.match(r.stderr, /hint: to start the lesson over on a fresh machine: vfioctl lesson passthrough --restart; to leave the lesson and load on your own machine: vfioctl lesson stop, then vfioctl load highbank/);
  assert.deepEqual(stateBytes(scratch), lessonMachine, 'the lesson machine is as it was');
  assert.deepEqual(stateBytes(state), mine, 'the learner\'s own machine is as it was');
  assert.equal(stepOf(state, 'passthrough'), 1);
  const json = await run(state, '--json', 'load', 'default', '--force');
  assert.equal(json.code, 2);
  const doc = JSON.parse(json.stderr) as { error: { code: string; hint: string } };
  assert.equal(doc.error.code, 'USAGE');
  assert.match(doc.error.hint, /vfioctl lesson passthrough --restart/);

  await type(state, 'lesson stop');
  const own = await run(state, 'load', 'highbank');
  assert.equal(own.code, 0, own.stderr);
  assert.deepEqual(stateBytes(scratch), lessonMachine, 'after lesson stop, load acts on the learner\'s machine');
});

test('lesson coherency: a bind refused with EINVAL by the coherency check is read as the step\'s own refusal, and its -22 line (kept, as on Linux) completes the step', async (t) => {
  const state = learner(t);
  await type(state, 'lesson coherency', 'modprobe vfio-platform', 'override fff90000.video vfio-platform', 'unbind fff90000.video');
  assert.equal(stepOf(state, 'coherency'), 3);
  const bind = await run(state, 'bind', 'fff90000.video');
  assert.equal(bind.code, 1);
  assert.match(bind.stderr, /EINVAL/);
  assert.match(bind.stderr, /lesson coherency: ✓ step 4\/6: Probe fff90000\.video and watch VFIO refuse it with -22\nlesson coherency: refused: that is the refusal this step is about: bind returns the probe's error, EINVAL, because the IOMMU cannot enforce cache coherency/);
  assert.match(bind.stderr, /next, step 5\/6: Compare: pass fff51000\.ethernet through/);
  const video = readState(scratchPath(state, 'coherency'))!.devices.find((d) => d.name === 'fff90000.video')!;
  assert.equal(video.driver, null, 'still unbound');
  assert.equal(video.driverOverride, 'vfio-platform');
  assert.equal(stepOf(state, 'coherency'), 4);
});
