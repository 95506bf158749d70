/**
 * The teaching and machine commands as definitions (load, lesson, demo, export, graph,
 * completion, __complete), through main() in-process: usage errors raised by options()
 * before the state is read, the JSON documents they print, the completion kinds their
 * definitions carry into the scripts, and the lesson check the runner makes after a
 * command (its order after the command's own error, and which commands it skips).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempState, tempDir, run, ok, stateBytes } from './helpers.js';
import { expectRefused } from './refuse.js';
import { readProgress } from '../src/state/lessons.js';

/** a state file the runner would refuse with exit 4 if it read it */
function corruptState(t: TestContext): string {
  const s = tempState();
  t.after(() => rmSync(path.dirname(s), { recursive: true, force: true }));
  writeFileSync(s, '{"format": "vfioctl-st');
  return s;
}

test('graph --only: a usage error (exit 2) is raised before the state is read', async (t) => {
  const s = corruptState(t);
  const before = stateBytes(s);
  const e = await expectRefused(s, 2, 'USAGE', ['graph', '--only', 'devices']);
  assert.equal(e.message, '--only takes vfio, groups or group N, not "devices"');
  assert.equal((await expectRefused(s, 2, 'USAGE', ['graph', '--only', 'group', 'two'])).message, '--only group takes an IOMMU group number, not "two"');
  await expectRefused(s, 2, 'USAGE', ['graph', '--only', 'group', '1', '2']);
  // the same file with good words: now it is read, and refused as unreadable
  const r = await run(s, 'graph', '--only', 'vfio');
  assert.equal(r.code, 4, r.stderr);
  assert.deepEqual(stateBytes(s), before, 'nothing rewrote the corrupt file');
});

test('graph --only group N: a group the machine does not have is a usage error once the machine is read; nothing is saved', async () => {
  const s = tempState();
  await ok(s, '-q', 'status');
  const e = await expectRefused(s, 2, 'USAGE', ['graph', '--only', 'group', '99']);
  assert.match(e.message, /^no IOMMU group 99 on this machine \(groups: \d/);
  const doc = JSON.parse(await ok(s, '--json', 'graph', '--only', 'group', '0', '--format', 'mermaid')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), ['format', 'graph']);
  assert.equal(doc['format'], 'mermaid');
});

test('demo --pace: a usage error (exit 2) before anything runs or is shown; the state is never read', async (t) => {
  const s = corruptState(t);
  const before = stateBytes(s);
  for (const pace of ['-1', '1.5', '60001', 'fast']) {
    const r = await run(s, 'demo', 'passthrough', '--pace', pace);
    assert.equal(r.code, 2, `--pace ${pace}: ${r.stderr}`);
    assert.equal(r.stdout, '', `--pace ${pace}: no command was streamed`);
    assert.match(r.stderr, new RegExp(`^vfioctl: --pace takes milliseconds from 0 to 60000, not "${pace.replace('.', '\\.')}"`));
  }
  // a demo runs on its own scratch machine: the user's (corrupt) file does not stop it
  const r = await run(s, 'demo', 'passthrough', '--pace', '0');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\$ vfioctl /m);
  assert.deepEqual(stateBytes(s), before);
});

test('demo --json: nothing is streamed, stdout is the one document', async () => {
  const s = tempState();
  const r = await run(s, '--json', 'demo', 'passthrough');
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { demo: string; title: string; commands: { command: string; exit: number; stdout: string; stderr: string }[] };
  assert.deepEqual(Object.keys(doc), ['demo', 'title', 'commands']);
  assert.ok(doc.commands.length > 3);
  assert.deepEqual(Object.keys(doc.commands[0]!), ['command', 'exit', 'stdout', 'stderr']);
  assert.equal(stateBytes(s), null, 'the user\'s machine was never booted');
});

test('the JSON documents of lesson, lesson stop and export keep their fields (nothing render() alone needs)', async (t) => {
  const s = tempState();
  t.after(() => rmSync(path.dirname(s), { recursive: true, force: true }));
  const list = JSON.parse(await ok(s, '--json', 'lesson')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(list), ['lessons', 'active']);
  await ok(s, '-q', 'lesson', 'passthrough');
  const during = JSON.parse(await ok(s, '--json', 'lesson')) as { active: string };
  assert.equal(during.active, 'passthrough');
  assert.match(await ok(s, 'lesson'), /^In progress: passthrough, step 1\/\d+: /m);
  assert.deepEqual(JSON.parse(await ok(s, '--json', 'lesson', 'stop')), { stopped: 'passthrough' });
  assert.match(await ok(s, 'lesson', 'stop'), /^No lesson in progress\.$/m);
  const dir = path.join(tempDir(), 'out');
  const doc = JSON.parse(await ok(s, '--json', 'export', dir)) as Record<string, unknown>;
  // (the first command on the user's own machine boots it: the note of that is in `notices`)
  assert.deepEqual(Object.keys(doc).filter((k) => k !== 'notices'), ['dir', 'files', 'links', 'dirs', 'devNodes']);
  assert.equal(doc['dir'], dir);
  assert.match(await ok(s, 'export', '--force', dir), /^exported .+ to .+: \d+ directories, \d+ files, \d+ symbolic links$/m);
});

test('completion: the scripts carry the kinds the definitions give (bind\'s device, load -I, run\'s program, lesson names)', async () => {
  const s = tempState();
  const bash = await ok(s, 'completion', 'bash');
  assert.match(bash, /^ {4}'bind'\) subs=''; opts='--driver --group -h --help'; valopts='--driver --group'; args='devices'; argsv=1 ;;$/m);
  assert.match(bash, /^ {4}'bind\|--driver'\) kind='drivers' ;;$/m);
  assert.match(bash, /^ {4}'load\|-I'\|'load\|--include'\) kind='dirs' ;;$/m);
  assert.match(bash, /^ {4}'graph\|--only'\) kind='=vfio,groups,group' ;;$/m);
  assert.match(bash, /^ {4}'run'\) .*args='files'; argsv=1 ;;$/m, 'the program after run -- completes as a file, not as a vfioctl command');
  assert.match(bash, /^ {4}'lesson'\) .*args='=passthrough,[^']*,hint,stop'/m);
  assert.match(bash, /^ {4}'help'\) subs=''; opts=''; valopts=''; args='=status,[^']*,completion,help'/m);
  assert.match(bash, /\*'\|--state'\) kind='files' ;;/, 'the program\'s own --state, after any command');
  assert.equal(stateBytes(s), null);
});

test('the lesson check runs after a subcommand (sysfs write) and after a refusal, below its error; not after completion', async (t) => {
  const s = tempState();
  t.after(() => rmSync(path.dirname(s), { recursive: true, force: true }));
  await ok(s, '-q', 'lesson', 'passthrough');
  await ok(s, 'modprobe', 'vfio-platform');
  assert.equal(readProgress(s).get('passthrough')?.step, 1);
  const w = await run(s, 'sysfs', 'write', '/sys/bus/platform/devices/fff51000.ethernet/driver_override', 'vfio-platform');
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stderr, /^lesson passthrough: ✓ /m, 'the learner\'s step through the raw sysfs write is noticed');
  assert.equal(readProgress(s).get('passthrough')?.step, 2);

  const refused = await run(s, 'open', 'fff51000.ethernet', '--owner', 'qemu');
  assert.equal(refused.code, 1);
  const err = refused.stderr.indexOf('vfioctl: ');
  const lesson = refused.stderr.indexOf('lesson passthrough: refused');
  assert.ok(err >= 0 && lesson > err, `the lesson's reading comes after the error:\n${refused.stderr}`);

  const usage = await run(s, 'unbind', '--group', 'x');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^lesson passthrough: /m, 'a usage error raised by options() is followed too');

  const progress = JSON.stringify([...readProgress(s)]);
  const c = await run(s, 'completion', 'bash');
  assert.equal(c.code, 0);
  assert.equal(c.stderr, '', 'completion is not followed by the lesson');
  const q = await run(s, '__complete', 'devices');
  assert.equal(q.stderr, '');
  assert.equal(JSON.stringify([...readProgress(s)]), progress);
});
