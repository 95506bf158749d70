/**
 * The state file under concurrent and crashing vfioctl processes (the real bin/vfioctl in
 * child processes). Short versions run in `npm test`; `npm run test:stress`
 * (VFIOCTL_STRESS=1) runs the long ones: 8 processes × 50 commands, 200 kill -9.
 * The random choices are seeded: the seed is printed, VFIOCTL_STRESS_SEED=<seed> repeats a run.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { parseState, readState } from '../src/state/store.js';
import { findDevice, type Machine } from '../src/base/machine.js';
import { run } from './helpers.js';
import { STRESS, BIN, devName, rng, seedFromEnv, start, vfioctl, killChildren, tempDir, removeTempDirs, type Exit, generatedMachine as machine } from './proc-helpers.js';

after(() => {
  killChildren();
  removeTempDirs();
});

const SEED = seedFromEnv();


/** what vfioctl processes left next to the state: lock, temp and break files */
function leftovers(p: string): string[] {
  const base = path.basename(p);
  return readdirSync(path.dirname(p)).filter((f) => f.startsWith(base + '.'));
}

const machineOf = (p: string): Machine => readState(p)!;

// ---- concurrency ----

/**
 * What a command does to one device that no other process touches: the model the final
 * state and every exit status are checked against.
 */
interface DevModel {
  driver: string | null;
  override: string | null;
}
type PrivateOp = 'override bench-dev' | 'override nosuch' | 'override --clear' | 'unbind' | 'probe';
const PRIVATE_OPS: readonly PrivateOp[] = ['override bench-dev', 'override nosuch', 'override --clear', 'unbind', 'probe'];

function argvOf(op: PrivateOp, dev: string): string[] {
  const [cmd, arg] = op.split(' ') as [string, string | undefined];
  return arg ? [cmd, dev, arg] : [cmd, dev];
}

/** apply op to the model; the exit status the kernel gives (1: unbind of an unbound device, ENOENT) */
function apply(s: DevModel, op: PrivateOp): number {
  switch (op) {
    case 'override bench-dev':
      s.override = 'bench-dev';
      return 0;
    case 'override nosuch':
      s.override = 'nosuch'; // names no driver: a later probe binds nothing
      return 0;
    case 'override --clear':
      s.override = null;
      return 0;
    case 'unbind':
      if (!s.driver) return 1;
      s.driver = null;
      return 0;
    case 'probe':
      if (!s.driver && (s.override === null || s.override === 'bench-dev')) s.driver = 'bench-dev';
      return 0;
  }
}

interface Planned {
  argv: string[];
  /** private: the exit status the model predicts */
  want?: number;
  shared?: 'unbind-once' | 'bind-unbind' | 'override-last';
  value?: string;
}

test(`concurrent writers: ${STRESS ? 8 : 4} processes × ${STRESS ? 50 : 6} commands lose no update; a reader loop always gets whole JSON`, async (t) => {
  const W = STRESS ? 8 : 4;
  const M = STRESS ? 50 : 6;
  t.diagnostic(`seed ${SEED}`);
  const r = rng(SEED);
  // devices 0..W-1: one per process; W: every process unbinds it once (exactly one can);
  // W+1: bound and unbound by everyone; W+2: everyone writes driver_override (last writer wins)
  const once = devName(W);
  const flip = devName(W + 1);
  const last = devName(W + 2);
  const p = await machine(W + 3);
  const m0 = machineOf(p);

  const models: DevModel[] = [];
  const plans: Planned[][] = [];
  for (let w = 0; w < W; w++) {
    const model: DevModel = { driver: 'bench-dev', override: null };
    const plan: Planned[] = [];
    const onceAt = r.int(M);
    for (let j = 0; j < M; j++) {
      const x = r.next();
      if (j === onceAt) plan.push({ argv: ['unbind', once], shared: 'unbind-once' });
      else if (x < 0.6) {
        const op = r.pick(PRIVATE_OPS);
        plan.push({ argv: argvOf(op, devName(w)), want: apply(model, op) });
      } else if (x < 0.8) plan.push({ argv: r.next() < 0.5 ? ['probe', flip] : ['unbind', flip], shared: 'bind-unbind' });
      else {
        const value = `w${w}-${j}`;
        plan.push({ argv: ['override', last, value], shared: 'override-last', value });
      }
    }
    models.push(model);
    plans.push(plan);
  }

  // readers: the real binary in a loop, and this process reading the file directly
  let writing = true;
  const readerErrors: string[] = [];
  let reads = 0;
  const reader = (async () => {
    while (writing) {
      const res = await vfioctl(p, ['--json', 'status']);
      reads++;
      try {
        assert.equal(res.code, 0, res.stderr);
        assert.equal((JSON.parse(res.stdout) as { devices: unknown[] }).devices.length, m0.devices.length);
      } catch (e) {
        readerErrors.push(`status --json: ${(e as Error).message}`);
      }
    }
  })();
  let rawReads = 0;
  const raw = setInterval(() => {
    try {
      parseState(p, readFileSync(p));
      rawReads++;
    } catch (e) {
      readerErrors.push(`direct read: ${(e as Error).message}`);
    }
  }, 3);

  const results: Exit[][] = await Promise.all(
    plans.map(async (plan) => {
      const out: Exit[] = [];
      for (const step of plan) out.push(await vfioctl(p, ['-q', ...step.argv], { VFIOCTL_LOCK_TIMEOUT: '300' }));
      return out;
    }),
  );
  writing = false;
  await reader;
  clearInterval(raw);
  assert.deepEqual(readerErrors, []);
  t.diagnostic(`readers: ${reads} status --json, ${rawReads} direct reads, all whole`);

  const m1 = machineOf(p);
  let committed = 0;
  let onceWon = 0;
  let binds = 0;
  let unbinds = 0;
  const lastValues = new Set<string>();
  for (let w = 0; w < W; w++) {
    let lastValue: string | undefined;
    plans[w]!.forEach((step, j) => {
      const res = results[w]![j]!;
      const what = `process ${w} step ${j}: vfioctl ${step.argv.join(' ')}`;
      assert.ok(res.code === 0 || res.code === 1, `${what}: exit ${res.code} ${res.signal ?? ''}\n${res.stderr}`);
      if (res.code === 0 || res.code === 1) committed++; // a refusal saves the kernel's side effects (the clock) too
      if (step.want !== undefined) assert.equal(res.code, step.want, `${what}: the model says exit ${step.want}\n${res.stderr}`);
      if (step.shared === 'unbind-once' && res.code === 0) onceWon++;
      if (step.shared === 'bind-unbind') {
        if (step.argv[0] === 'probe') {
          assert.equal(res.code, 0, res.stderr);
          if (/: bound to bench-dev/.test(res.stdout)) binds++;
          else assert.match(res.stdout, /already bound/);
        } else if (res.code === 0) unbinds++;
      }
      if (step.shared === 'override-last') {
        assert.equal(res.code, 0, res.stderr);
        lastValue = step.value;
      }
    });
    if (lastValue) lastValues.add(lastValue);
    const dev = findDevice(m1, devName(w))!;
    assert.deepEqual({ driver: dev.driver, override: dev.driverOverride }, models[w], `device of process ${w}`);
  }
  // each command advanced the clock one second (refused ones too: SPEC §4): an update
  // lost by two processes writing over each other would leave the count short
  const added = m1.log.length - m0.log.length;
  assert.equal(m1.clockUs - m0.clockUs, committed * 1_000_000 + added * 41, `${committed} commands committed`);
  assert.equal(onceWon, 1, `unbind ${once}: exactly one process can unbind it`);
  assert.equal(findDevice(m1, once)!.driver, null);
  assert.equal(1 + binds - unbinds, findDevice(m1, flip)!.driver ? 1 : 0, `${flip}: ${binds} binds, ${unbinds} unbinds`);
  // the last override written is one process's last one (never a value some process overwrote itself)
  const final = findDevice(m1, last)!.driverOverride;
  if (lastValues.size === 0) assert.equal(final, null);
  else assert.ok(final !== null && lastValues.has(final), `${last}: ${final} is not one of ${[...lastValues].join(', ')}`);
  assert.deepEqual(leftovers(p), []);
  t.diagnostic(`${committed} of ${W * M} commands committed`);
});

// ---- locks: test/bin-state-lock.test.ts ----

// ---- crashes ----

test(`kill -9 at random moments (${STRESS ? 200 : 20} times): the state is always the one before or after the command, and the next command recovers`, async (t) => {
  const K = STRESS ? 200 : 20;
  const N = STRESS ? 500 : 200;
  t.diagnostic(`seed ${SEED}, ${N} devices`);
  const r = rng(SEED ^ 0x5eed);
  const p = await machine(N);
  const dir = path.dirname(p);
  const scratch = path.join(tempDir(), 'state.json');
  const ops: readonly PrivateOp[] = PRIVATE_OPS;

  /** what the command makes of the current state: run in this process on a copy */
  async function expected(argv: string[]): Promise<{ code: number; after: Buffer }> {
    copyFileSync(p, scratch);
    const res = await run(scratch, '-q', ...argv);
    assert.ok(res.code === 0 || res.code === 1, res.stderr);
    return { code: res.code, after: readFileSync(scratch) };
  }
  const randomArgv = (): string[] => argvOf(r.pick(ops), devName(r.int(N)));
  /** a command that succeeds whatever the state (so that it writes, and cleans up) */
  const writingArgv = (): string[] => argvOf(r.pick(['override bench-dev', 'override --clear', 'probe'] as const), devName(r.int(N)));

  /** run to completion; check the exit status and the state it leaves */
  async function complete(argv: string[], staleFrom: number | null): Promise<number> {
    const { code, after: want } = await expected(argv);
    const t0 = Date.now();
    const res = await vfioctl(p, argv);
    const ms = Date.now() - t0;
    assert.equal(res.code, code, `${argv.join(' ')}: ${res.stderr}`);
    assert.deepEqual(readFileSync(p), want, `${argv.join(' ')}: not the state the command makes`);
    if (staleFrom !== null) assert.match(res.stderr, new RegExp(`^vfioctl: removed a stale lock left by pid ${staleFrom}, which no longer runs$`, 'm'));
    else assert.doesNotMatch(res.stderr, /stale lock/);
    if (code === 0) assert.deepEqual(leftovers(p), [], 'leftovers of killed processes after a successful write');
    return ms;
  }

  // how long a command takes, to spread the kills over its whole run
  const took: number[] = [];
  for (let i = 0; i < 3; i++) took.push(await complete(writingArgv(), null));
  const typical = took.sort((a, b) => a - b)[1]!;
  t.diagnostic(`a command takes about ${typical} ms here; kills land between 0 and ${Math.round(typical * 1.1)} ms`);

  const seen = { finished: 0, killedBefore: 0, killedAfter: 0, staleLocks: 0, tempLeft: 0 };
  for (let i = 0; i < K; i++) {
    const argv = randomArgv();
    const before = readFileSync(p);
    const { code, after: want } = await expected(argv);
    const proc = start(process.execPath, [BIN, '--state', p, '-q', ...argv]);
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), r.next() * typical * 1.1);
    const res = await proc.done;
    clearTimeout(timer);
    const now = readFileSync(p);
    parseState(p, now); // never torn
    const isBefore = now.equals(before);
    const isAfter = now.equals(want);
    assert.ok(isBefore || isAfter, `kill ${i} (${argv.join(' ')}, pid ${res.pid}): the state is neither the one before nor the one after`);
    if (res.signal === null) {
      seen.finished++;
      assert.equal(res.code, code, res.stderr);
      assert.ok(isAfter);
    } else if (isAfter && !isBefore) seen.killedAfter++;
    else seen.killedBefore++;
    // only the killed process can have left anything, and only its own
    let staleFrom: number | null = null;
    for (const f of leftovers(p)) {
      assert.match(f, /^state\.json\.(lock|tmp\.[0-9a-f]{12})$/, `unexpected ${f} after kill ${i}`);
      if (f === 'state.json.lock') {
        // the killed process's lock file (the kernel released the lock itself): empty if killed before it wrote its name
        const text = readFileSync(path.join(dir, f), 'utf8');
        if (text !== '') {
          assert.ok(text.startsWith(`vfioctl-lock 1\npid=${res.pid}\n`), text);
          staleFrom = res.pid;
        }
        seen.staleLocks++;
      } else seen.tempLeft++;
    }
    // whatever was left, the next command recovers it and its write removes the rest
    if (leftovers(p).length || i === K - 1) await complete(writingArgv(), staleFrom);
  }
  t.diagnostic(JSON.stringify(seen));
  assert.deepEqual(leftovers(p), []);
  if (STRESS) {
    // with 200 kills spread over the whole run, some must land while the lock is held and
    // some before the new state is in place (otherwise the test did not test much)
    assert.ok(seen.staleLocks > 0 && seen.killedBefore > 0, JSON.stringify(seen));
  }
});
