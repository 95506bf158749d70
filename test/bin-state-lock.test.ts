/**
 * The state lock under the real bin/vfioctl (issue 14.1, 14.3, 14.4): a lock held too long,
 * what killed processes leave, files in the way that are not vfioctl's, writers in separate
 * PID namespaces, and the lock-file fallback used where flock(1) is missing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, readdirSync, existsSync, symlinkSync, statSync, chmodSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { readState } from '../src/state/state-file.js';
import { serializeState } from '../src/state/codec.js';
import { findDevice } from '../src/base/machine.js';
import { bootTree } from './helpers.js';
import { STRESS, BIN, devName, start, vfioctl, killChildren, removeTempDirs, deadPid, generatedMachine as machine } from './proc-helpers.js';

after(() => {
  killChildren();
  removeTempDirs();
});


const leftovers = (p: string): string[] => readdirSync(path.dirname(p)).filter((f) => f.startsWith(path.basename(p) + '.')).sort();
const myNs = (): string => readlinkSync('/proc/self/ns/pid');
const bootId = (): string => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const lockText = (pid: number, pidns = myNs(), boot = bootId()): string => `vfioctl-lock 1\npid=${pid}\npidns=${pidns}\nboot=${boot}\nstart=\nhost=test\ntoken=0123456789ab\n`;
const hasFlock = spawnSync('flock', ['--version']).status === 0;
const canUnshare = spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0;

test('a lock held too long: exit 4 naming the holder, nothing changed, readers not blocked; once the holder dies the next command takes it', { skip: !hasFlock && 'flock(1) is not installed' }, async () => {
  const p = await machine(2);
  writeFileSync(`${p}.lock`, '');
  // a holder of the kernel lock (flock -o: only the flock process holds it), named in the lock file as vfioctl would
  const holder = start('flock', ['-x', '-o', `${p}.lock`, 'sleep', '60']);
  const pid = holder.child.pid!;
  for (let i = 0; i < 100 && spawnSync('flock', ['-n', `${p}.lock`, 'true']).status === 0; i++) await new Promise((r) => setTimeout(r, 20));
  writeFileSync(`${p}.lock`, lockText(pid));
  const before = readFileSync(p);
  const env = { VFIOCTL_LOCK_TIMEOUT: '0.5' };
  const t0 = Date.now();
  const human = await vfioctl(p, ['override', devName(0), 'vfio-platform'], env);
  assert.equal(human.code, 4, human.stderr);
  assert.ok(Date.now() - t0 < 5000, 'the timeout was not honoured');
  assert.match(human.stderr, new RegExp(`^vfioctl: ${p}: state file is locked by pid ${pid} \\(lock ${p}\\.lock\\), which still holds it after 0\\.5 s\\nhint: nothing was changed; .*VFIOCTL_LOCK_TIMEOUT`));
  const j = await vfioctl(p, ['--json', 'unbind', devName(0)], env);
  assert.equal(j.code, 4);
  const e = (JSON.parse(j.stderr) as { error: { code: string; message: string } }).error;
  assert.equal(e.code, 'STATE');
  assert.match(e.message, new RegExp(`locked by pid ${pid} `));
  assert.deepEqual(readFileSync(p), before);
  assert.equal(readFileSync(`${p}.lock`, 'utf8'), lockText(pid), 'the lock file of a live holder was changed');
  assert.equal((await vfioctl(p, ['status'])).code, 0, 'a read-only command waited for the lock');

  holder.child.kill('SIGKILL');
  await holder.done;
  const r = await vfioctl(p, ['override', devName(0), 'vfio-platform']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`^vfioctl: removed a stale lock left by pid ${pid}, which no longer runs$`, 'm'));
  assert.deepEqual(leftovers(p), []);
});

test('what killed writers leave is cleaned up by the next write, recognised by its content; files that only look like ours are kept', async () => {
  const p = await machine(2);
  const dir = path.dirname(p);
  const dead = await deadPid();
  writeFileSync(`${p}.lock`, lockText(dead));
  writeFileSync(`${p}.tmp.0123456789ab`, '{"format":"vfioctl-state","vers'); // killed while writing
  writeFileSync(`${p}.tmp.0123456789ac`, ''); // killed before its first write
  writeFileSync(`${p}.tmp.aaaaaaaaaaaa`, 'a file of the user that happens to have such a name');
  writeFileSync(`${p}.tmp.12`, serializeState(bootTree('default'))); // a machine saved as box.tmp.<N>
  writeFileSync(path.join(dir, 'other.json.tmp.0123456789ab'), '{"format":"vfioctl-state"'); // another state's
  const r = await vfioctl(p, ['probe', devName(0)]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftovers(p), ['state.json.tmp.12', 'state.json.tmp.aaaaaaaaaaaa']);
  assert.ok(existsSync(path.join(dir, 'other.json.tmp.0123456789ab')));
});

test('files in the way that are not vfioctl\'s: a machine saved as box.json.lock, a FIFO or a dangling link as the lock: exit 4 at once, left as they are', async () => {
  const p = await machine(2);
  const before = readFileSync(p);
  const lock = `${p}.lock`;
  const saved = serializeState(bootTree('highbank'));
  const cases: [string, () => void, RegExp][] = [
    ['a machine saved as state.json.lock', () => writeFileSync(lock, saved), /is a file that vfioctl did not write/],
    ['a FIFO', () => void spawnSync('mkfifo', [lock]), /is a FIFO \(named pipe\), not a vfioctl lock file/],
    ['a dangling symbolic link', () => symlinkSync(path.join(path.dirname(p), 'nowhere'), lock), /is a symbolic link, not a vfioctl lock file/],
    ['a link to a file of the user', () => symlinkSync(p + '.user', lock), /is a symbolic link/],
  ];
  writeFileSync(p + '.user', 'precious');
  for (const [name, make, message] of cases) {
    make();
    const t0 = Date.now();
    const r = await vfioctl(p, ['override', devName(0), 'vfio-platform'], { VFIOCTL_LOCK_TIMEOUT: '30' });
    assert.equal(r.code, 4, `${name}: ${r.stderr}`);
    assert.ok(Date.now() - t0 < 10_000, `${name}: waited or spun instead of refusing`);
    assert.match(r.stderr, message, name);
    assert.deepEqual(readFileSync(p), before, name);
    if (name.startsWith('a machine')) assert.equal(readFileSync(lock, 'utf8'), saved, 'the machine saved under the lock name was changed');
    spawnSync('rm', ['-f', lock]);
  }
  assert.equal(readFileSync(p + '.user', 'utf8'), 'precious');
});

test('a write keeps the state file\'s mode (0600 stays 0600); a lesson directory per state file name (box.json and box)', async () => {
  const p = await machine(2);
  chmodSync(p, 0o600);
  assert.equal((await vfioctl(p, ['override', devName(0), 'vfio-platform'])).code, 0);
  assert.equal(statSync(p).mode & 0o777, 0o600);
  chmodSync(p, 0o640);
  assert.equal((await vfioctl(p, ['unbind', devName(0)])).code, 0);
  assert.equal(statSync(p).mode & 0o777, 0o640);
  const { lessonDir } = await import('../src/state/lessons.js');
  assert.notEqual(lessonDir('/x/box.json'), lessonDir('/x/box'));
});

/** writers each in a PID namespace of its own (all of them pid 2 or so there), sharing one state file */
async function namespaceWriters(t: { diagnostic(s: string): void }, env: Record<string, string>): Promise<void> {
  const W = STRESS ? 6 : 3;
  const M = STRESS ? 20 : 5;
  const p = await machine(W + 1);
  const m0 = readState(p)!;
  const shared = devName(W);
  const script = (w: number): string =>
    Array.from({ length: M }, (_, j) => `"$0" "$1" --state "$2" -q override ${devName(w)} v${w}-${j} && "$0" "$1" --state "$2" -q override ${shared} w${w}-${j} || exit 1`).join('\n');
  const runs = await Promise.all(
    Array.from({ length: W }, (_, w) => start('unshare', ['--pid', '--fork', 'sh', '-c', script(w), process.execPath, BIN, p], { VFIOCTL_LOCK_TIMEOUT: '120', ...env }).done),
  );
  for (const [w, r] of runs.entries()) assert.equal(r.code, 0, `writer ${w}: ${r.stderr}`);
  const m1 = readState(p)!;
  for (let w = 0; w < W; w++) assert.equal(findDevice(m1, devName(w))!.driverOverride, `v${w}-${M - 1}`, `writer ${w}'s last update was lost`);
  // every command advanced the clock by one second and its log lines: none was lost
  const added = m1.log.length - m0.log.length;
  assert.equal(m1.clockUs - m0.clockUs, 2 * W * M * 1_000_000 + added * 41, 'an update was lost');
  assert.deepEqual(leftovers(p), []);
  t.diagnostic(`${W} namespaces × ${2 * M} commands, none lost`);
}

test('writers in separate PID namespaces (unshare --pid --fork) lose no update: the kernel lock', { skip: (!canUnshare && 'unshare --pid --fork is not permitted here (needs root or user namespaces)') || (!hasFlock && 'flock(1) is not installed') }, async (t) => {
  await namespaceWriters(t, {});
});

test('writers in separate PID namespaces lose no update with the lock-file fallback too (holders in other namespaces are never judged dead)', { skip: !canUnshare && 'unshare --pid --fork is not permitted here (needs root or user namespaces)' }, async (t) => {
  await namespaceWriters(t, { VFIOCTL_LOCK_FALLBACK: '1' });
});

test('lock-file fallback: a dead holder of this namespace is recovered; one in another namespace, or of another boot, is waited for and named, never removed', async () => {
  const p = await machine(2);
  const env = { VFIOCTL_LOCK_FALLBACK: '1', VFIOCTL_LOCK_TIMEOUT: '0.4' };
  const dead = await deadPid();
  writeFileSync(`${p}.lock`, lockText(dead));
  const r = await vfioctl(p, ['override', devName(0), 'vfio-platform'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`removed a stale lock left by pid ${dead}, which no longer runs`));
  assert.deepEqual(leftovers(p), []);
  const before = readFileSync(p);
  for (const [text, named] of [
    [lockText(dead, 'pid:[1]'), /locked by pid \d+ in another PID namespace \(pid:\[1\]\)/],
    [lockText(dead, myNs(), '00000000-0000-0000-0000-000000000000'), /locked by pid \d+ on test \(another boot or host/],
  ] as const) {
    writeFileSync(`${p}.lock`, text);
    const t0 = Date.now();
    const x = await vfioctl(p, ['override', devName(0), 'nosuch'], env);
    assert.equal(x.code, 4, x.stderr);
    assert.ok(Date.now() - t0 >= 400, 'did not wait for the timeout');
    assert.match(x.stderr, named);
    assert.equal(readFileSync(`${p}.lock`, 'utf8'), text, 'a lock whose holder cannot be seen was touched');
    assert.deepEqual(readFileSync(p), before);
  }
  // a live holder in this namespace
  const live = start('sleep', ['60']);
  writeFileSync(`${p}.lock`, lockText(live.child.pid!));
  const y = await vfioctl(p, ['override', devName(0), 'nosuch'], env);
  assert.equal(y.code, 4);
  assert.match(y.stderr, new RegExp(`locked by pid ${live.child.pid} \\(lock`));
  live.child.kill('SIGKILL');
  await live.done;
  const z = await vfioctl(p, ['override', devName(0), 'nosuch'], env);
  assert.equal(z.code, 0, z.stderr);
});

test('a kernel lock held by a process that names no holder: exit 4 after the timeout, saying so', { skip: !hasFlock && 'flock(1) is not installed' }, async () => {
  const p = await machine(2);
  const holder = start('flock', ['-x', '-o', `${p}.lock`, 'sleep', '60']);
  for (let i = 0; i < 100 && spawnSync('flock', ['-n', `${p}.lock`, 'true']).status === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const r = await vfioctl(p, ['override', devName(0), 'vfio-platform'], { VFIOCTL_LOCK_TIMEOUT: '0.3' });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /state file is locked \(lock \S+\.lock\) by a process that does not name itself in the lock file, which still holds it after 0\.3 s\nhint: .*fuser/);
  holder.child.kill('SIGKILL');
  await holder.done;
  assert.equal((await vfioctl(p, ['override', devName(0), 'vfio-platform'])).code, 0);
});
