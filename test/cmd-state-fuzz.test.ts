/**
 * A damaged state is refused whole (issue 14.5): valid JSON of the wrong shape, wrong
 * cross-references, control characters. The cases the hostile run found, each with the
 * JSON path of the fault; then a fuzzer that mutates valid states (of a machine in use)
 * and runs commands on them: every run ends with exit 0, 1 (a refusal of the kernel on a
 * state that is still valid) or 4, never 70, never a stack trace; exit 4 names the fault's
 * JSON path and leaves the file as it was. `npm run test:stress` runs 10 times as many.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, okRun } from './helpers.js';
import { rng, seedFromEnv, tempDir, removeTempDirs, STRESS } from './proc-helpers.js';

after(removeTempDirs);

type J = unknown;
type O = Record<string, J>;

/** A state of the default machine in use: vfio loaded, a device passed through and open. */
async function busyState(): Promise<string> {
  const p = path.join(tempDir('vfioctl-fuzz-'), 'state.json');
  for (const c of [['load', 'default'], ['modprobe', 'vfio-platform'], ['passthrough', 'fff51000.ethernet'], ['open', 'fff51000.ethernet', '--owner', 'qemu']]) await okRun(p, '-q', ...c);
  return readFileSync(p, 'utf8');
}

const VALID = await busyState();
const doc = (): O => JSON.parse(VALID) as O;
const m = (d: O): O => d['machine'] as O;
const arr = (d: O, k: string): O[] => m(d)[k] as O[];

/** named faults: what to break, and the path the message must name */
const CASES: [string, (d: O) => void, RegExp][] = [
  ['an owner without devices', (d) => void delete arr(d, 'owners')[0]!['devices'], /machine\.owners\[0\]\.devices is missing/],
  ['a module without holders', (d) => void delete arr(d, 'modules')[0]!['holders'], /machine\.modules\[0\]\.holders is missing/],
  ['a number in compatible', (d) => void ((arr(d, 'devices')[1]!['of'] as O)['compatible'] = [5]), /machine\.devices\[1\]\.of\.compatible\[0\] is a number \(5\), expected a string/],
  ['a string openCount', (d) => void ((arr(d, 'devices').find((x) => x['vfio'])!['vfio'] as O)['openCount'] = '1'), /machine\.devices\[\d+\]\.vfio\.openCount is a string/],
  ['an escape code in a driver name', (d) => void (arr(d, 'drivers')[0]!['name'] = 'x\u001b]0;pwned\u0007'), /machine\.drivers\[0\]\.name contains a control character \(U\+001b\)/],
  ['a device bound to a driver that does not exist', (d) => void (arr(d, 'devices')[1]!['driver'] = 'nosuch'), /machine\.devices\[1\]\.driver "nosuch" is no registered platform driver/],
  ['an owner holding a device that does not exist', (d) => void ((arr(d, 'owners')[0]!['devices'] as string[])[0] = 'ghost.dev'), /machine\.owners\[0\]\.devices\[0\] "ghost\.dev" is no device/],
  ['a group member that does not exist', (d) => void (arr(d, 'groups')[0] = { id: 0, devices: ['ghost.dev'] }), /machine\.(groups\[0\]\.devices\[0\] "ghost\.dev" is no device|devices\[\d+\]\.iommuGroup is 0, but that group does not list)/],
  ['two devices of one name', (d) => void (arr(d, 'devices')[2]!['name'] = arr(d, 'devices')[1]!['name']), /machine\.devices\[2\]\.name ".*" is the name of an earlier device too/],
  ['a group owned by nobody known', (d) => void (arr(d, 'groups').find((g) => typeof g === 'object' && g && g['owner'])!['owner'] = 'ghost'), /machine\.groups\[\d+\]\.owner "ghost" is no owner/],
];

for (const [name, breakIt, message] of CASES) {
  test(`refused whole, exit 4 with the path of the fault: ${name}`, async () => {
    const d = doc();
    breakIt(d);
    const p = path.join(tempDir('vfioctl-fuzz-'), 'state.json');
    const text = JSON.stringify(d);
    writeFileSync(p, text);
    for (const argv of [['status'], ['dmesg'], ['override', 'fff52000.dma', 'vfio-platform'], ['close', 'fff51000.ethernet', '--owner', 'qemu']]) {
      const r = await run(p, '--json', ...argv);
      assert.equal(r.code, 4, `${argv.join(' ')}: ${r.stderr}`);
      const e = (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'STATE');
      assert.match(e.message, message, argv.join(' '));
      assert.equal(readFileSync(p, 'utf8'), text, `${argv.join(' ')} rewrote a damaged state`);
    }
  });
}

/** every [container, key] in the document */
function slots(x: J, out: [O | J[], string | number][] = []): [O | J[], string | number][] {
  if (Array.isArray(x)) x.forEach((v, i) => (out.push([x, i]), slots(v, out)));
  else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) out.push([x as O, k]), slots(v, out);
  return out;
}

const VALUES: J[] = [null, 0, -1, 1.5, 1e300, '', 'x', 'nosuch', '\u001b[2J', '\u0000', true, false, [], {}, [1], { a: 1 }, '../..', 'a/b'];

test(`fuzz: ${STRESS ? 3000 : 300} mutated states: exit 0, 1 or 4, never 70; exit 4 names a path and leaves the file`, { timeout: 600_000 }, async (t) => {
  const seed = seedFromEnv();
  t.diagnostic(`seed ${seed} (VFIOCTL_STRESS_SEED=${seed} repeats it)`);
  const r = rng(seed);
  const N = STRESS ? 3000 : 300;
  const p = path.join(tempDir('vfioctl-fuzz-'), 'state.json');
  const COMMANDS = [['status'], ['--json', 'status'], ['dmesg'], ['groups'], ['lsmod'], ['show', 'fff51000.ethernet'], ['override', 'fff52000.dma', 'vfio-platform'], ['passthrough', 'fff52000.dma'], ['close', 'fff51000.ethernet', '--owner', 'qemu'], ['restore', 'fff51000.ethernet'], ['sysfs', 'ls', '/sys/kernel/iommu_groups'], ['info', 'fff51000.ethernet']];
  const seen = { 0: 0, 1: 0, 4: 0 } as Record<number, number>;
  for (let i = 0; i < N; i++) {
    const d = doc();
    for (let k = 1 + r.int(3); k > 0; k--) {
      const all = slots(d);
      const [c, key] = all[r.int(all.length)]!;
      const how = r.int(4);
      if (how === 0 && !Array.isArray(c)) delete (c as O)[key as string];
      else if (how === 1 && Array.isArray(c)) c.splice(key as number, 1);
      else (c as O)[key as string] = structuredClone(r.pick(VALUES));
    }
    const text = JSON.stringify(d);
    writeFileSync(p, text);
    const argv = r.pick(COMMANDS);
    const res = await run(p, '-q', ...argv);
    const what = `mutation ${i} (seed ${seed}), vfioctl ${argv.join(' ')}`;
    assert.ok(res.code === 0 || res.code === 1 || res.code === 4, `${what}: exit ${res.code}\n${res.stderr}`);
    assert.doesNotMatch(res.stderr, /\n\s+at /, `${what}: a stack trace`);
    if (res.code === 4) {
      assert.match(res.stderr, /state file (has the wrong shape: (machine|irqController|it has no)|is not a vfioctl state|has no valid format version|was written by a newer)/, what);
      assert.equal(readFileSync(p, 'utf8'), text, `${what}: a refused state was rewritten`);
    }
    seen[res.code] = (seen[res.code] ?? 0) + 1;
  }
  t.diagnostic(`exits: ${JSON.stringify(seen)}`);
  assert.ok(seen[4]! > N / 2, 'most mutations should be faults');
});
