/**
 * A state file vfioctl cannot trust (corrupt, foreign, newer, unreadable, not a file) is
 * refused with exit 4 by read-only and mutating commands alike, in human and --json form:
 * the message says what is wrong and how to recover, and the file is left byte for byte
 * (nothing else appears next to it). `load --force` moves it aside, keeping it intact, and
 * starts a machine that has nothing of it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, chmodSync, readdirSync, lstatSync, copyFileSync, symlinkSync, truncateSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { serializeState } from '../src/state/store.js';
import { bootTree, run, REPO } from './helpers.js';
import { rng, tempDir, removeTempDirs, BIN } from './proc-helpers.js';

after(removeTempDirs);

const VALID = serializeState(bootTree('default'));
const doc = (): Record<string, unknown> => JSON.parse(VALID) as Record<string, unknown>;
const machine = (d: Record<string, unknown>): Record<string, unknown> => d['machine'] as Record<string, unknown>;
const json = (d: unknown): string => JSON.stringify(d);
const RECOVER = /load --force default.*moves this file aside to .*\.corrupt-<time>/;

interface Case {
  name: string;
  /** file contents, or a function that makes whatever stands at the path */
  make: string | Buffer | ((p: string) => void);
  message: RegExp;
  hint?: RegExp;
  root?: 'skip' | 'only';
  /** not a regular file: load --force refuses too (exit 4, this message) and moves nothing */
  noMove?: RegExp;
}

const random = rng(20251121);
const randomBytes = Buffer.from(Array.from({ length: 2048 }, () => random.int(256)));
const withNul = Buffer.from(VALID);
withNul[Math.floor(withNul.length / 2)] = 0;

const CASES: Case[] = [
  { name: 'empty file', make: '', message: /state file is empty/ },
  { name: 'truncated file', make: VALID.slice(0, Math.floor(VALID.length / 2)), message: /truncated/ },
  { name: 'random bytes', make: randomBytes, message: /not valid UTF-8|not valid JSON/ },
  { name: 'a NUL byte inside', make: withNul, message: /contains NUL bytes \(the first at character \d+\)/ },
  { name: 'only NUL bytes', make: Buffer.alloc(4096), message: /holds only NUL bytes \(4096\)/ },
  { name: 'a byte-order mark', make: '\ufeff' + VALID, message: /starts with a byte-order mark/ },
  { name: 'a JSON array', make: '[]', message: /the JSON document is an array, not an object/ },
  { name: 'a JSON string', make: '"state"', message: /the JSON document is a string \("state"\)/ },
  { name: 'JSON null', make: 'null', message: /the JSON document is null/ },
  { name: 'another program\'s JSON', make: json({ name: 'x', devices: [] }), message: /not a vfioctl state \(format is missing, expected "vfioctl-state"\)/ },
  { name: 'no machine', make: json({ format: 'vfioctl-state', version: 2 }), message: /has the wrong shape: it has no "machine"/ },
  { name: 'machine is an array', make: json({ ...doc(), machine: [] }), message: /wrong shape: machine is an array, expected an object/ },
  { name: 'devices not an array', make: json({ ...doc(), machine: { ...machine(doc()), devices: {} } }), message: /wrong shape: machine\.devices is an object, expected an array/ },
  {
    name: 'a device with a number for a name',
    make: (() => {
      const d = doc();
      (machine(d)['devices'] as Record<string, unknown>[])[3]!['name'] = 5;
      return json(d);
    })(),
    message: /wrong shape: machine\.devices\[3\]\.name is a number \(5\), expected a string/,
  },
  {
    name: 'a device without its of_node',
    make: (() => {
      const d = doc();
      delete (machine(d)['devices'] as Record<string, unknown>[])[0]!['of'];
      return json(d);
    })(),
    message: /wrong shape: machine\.devices\[0\]\.of is missing/,
  },
  { name: 'a group that is a string', make: json({ ...doc(), machine: { ...machine(doc()), groups: ['x'] } }), message: /wrong shape: machine\.groups\[0\] is a string/ },
  // the optional fields added later are checked too (a fuzz run found modules[].once unchecked: exit 70)
  ...(
    [
      ['modules', 'once', 5, /machine\.modules\[0\]\.once is a number \(5\), expected an array/],
      ['modulesAvailable', 'softdepPost', 'x', /machine\.modulesAvailable\[0\]\.softdepPost is a string \("x"\), expected an array/],
      ['groups', 'name', [], /machine\.groups\[0\]\.name is an array, expected a string/],
      ['devices', 'dmaCoherent', 1, /machine\.devices\[0\]\.dmaCoherent is a number \(1\), expected true or false/],
    ] as const
  ).map(([list, field, value, message]) => ({
    name: `${list}[0].${field} of the wrong type`,
    make: (() => {
      const d = doc();
      const items = machine(d)[list] as unknown[];
      if (list === 'modules' && items.length === 0) items.push({ name: 'vfio', params: {}, holders: [], builtin: false });
      if (list === 'groups' && items[0] === 0) items[0] = { devices: (machine(d)['devices'] as { name: string; iommuGroup?: number }[]).filter((x) => x.iommuGroup === 0).map((x) => x.name) };
      (items[0] as Record<string, unknown>)[field] = value;
      return json(d);
    })(),
    message,
  })),
  { name: 'a newer version', make: json({ ...doc(), version: 3 }), message: /written by a newer vfioctl \(format version 3; this one reads up to 2\)/, hint: /upgrade vfioctl.*another --state.*load --force default would move it aside/ },
  { name: 'a huge version number', make: VALID.replace('"version":2', '"version":1e300'), message: /no valid format version \(1e\+300;/ },
  { name: 'a version that is a string', make: json({ ...doc(), version: '2' }), message: /no valid format version \("2";/ },
  { name: 'version 0', make: json({ ...doc(), version: 0 }), message: /no valid format version \(0;/ },
  {
    name: 'a version 1 file missing a field',
    make: (() => {
      const d = JSON.parse(readFileSync(path.join(REPO, 'test', 'fixtures', 'state', 'v1-default.json'), 'utf8')) as Record<string, unknown>;
      delete (machine(d)['devices'] as Record<string, unknown>[])[2]!['bus'];
      return json(d);
    })(),
    message: /machine\.devices\[2\]\.bus is missing \(a value \(version 1 files store every field\)\)/,
  },
  { name: 'a directory in its place', make: (p) => mkdirSync(p), message: /state file is a directory/, hint: /move it away, or point --state at a file/, noMove: /is a directory, not a regular file: load --force moves only regular files aside/ },
  // issue 14.1/14.2: nothing blocks or grows without bound, and load --force renames no special file
  { name: 'a FIFO in its place', make: (p) => void spawnSync('mkfifo', [p]), message: /state file is a FIFO \(named pipe\), not a regular file/, hint: /nothing was read or changed; point --state at a regular file/, noMove: /is a FIFO \(named pipe\), not a regular file/ },
  { name: 'a character device in its place (like /dev/zero)', make: (p) => void spawnSync('mknod', [p, 'c', '1', '5']), message: /state file is a character device, not a regular file/, hint: /point --state at a regular file/, noMove: /is a character device, not a regular file/, root: 'only' },
  {
    name: 'a symbolic link to a valid state',
    make: (p) => {
      writeFileSync(`${p}.real`, VALID);
      symlinkSync(`${p}.real`, p);
    },
    message: /state file is a symbolic link \(to \S+state\.json\.real\); vfioctl neither reads nor writes a state file through a link/,
    hint: /point --state at the file itself \(--state \S+state\.json\.real\)/,
    noMove: /is a symbolic link, not a regular file/,
  },
  { name: 'a dangling symbolic link', make: (p) => symlinkSync('/nonexistent/x', p), message: /state file is a symbolic link \(to \/nonexistent\/x\)/, hint: /point --state at the file itself/, noMove: /is a symbolic link, not a regular file/ },
  {
    name: 'a file over the size limit (16 MiB, sparse)',
    make: (p) => {
      writeFileSync(p, VALID);
      truncateSync(p, 16 * 1024 * 1024 + 1);
    },
    message: /state file is too big: 16\.0 MiB, over the limit of 16\.0 MiB \(README "Limits on input"\)/,
  },
  {
    name: 'an unreadable file (chmod 000)',
    make: (p) => {
      writeFileSync(p, VALID);
      chmodSync(p, 0o000);
    },
    message: /not readable \(permission denied\)/,
    hint: /chmod u\+rw/,
    root: 'skip',
  },
];

/** what stands at p and next to it, to compare before and after */
function snapshot(p: string): string {
  const dir = path.dirname(p);
  const names = readdirSync(dir).sort();
  const st = lstatSync(p);
  let body: string;
  if (st.isDirectory()) body = `directory: ${readdirSync(p).join(',')}`;
  else if (st.isSymbolicLink()) body = `link to ${readlinkSync(p)}`;
  else if (!st.isFile()) body = `special file, rdev ${st.rdev}, ino ${st.ino}`; // reading a FIFO or /dev/zero would not end
  else {
    try {
      body = createHash('sha256').update(readFileSync(p)).digest('base64');
    } catch (e) {
      body = `unreadable (${(e as NodeJS.ErrnoException).code}), mode ${st.mode.toString(8)}, size ${st.size}`;
    }
  }
  return `${names.join(' ')}\n${st.mode.toString(8)} ${body}`;
}

for (const c of CASES) {
  test(`refused with exit 4, left untouched: ${c.name}`, async (t) => {
    if (c.root === 'skip' && process.getuid?.() === 0) {
      t.skip('running as root, which can read a chmod 000 file');
      return;
    }
    if (c.root === 'only' && process.getuid?.() !== 0) {
      t.skip('mknod needs root');
      return;
    }
    const p = path.join(tempDir('vfioctl-corrupt-'), 'state.json');
    if (typeof c.make === 'function') c.make(p);
    else writeFileSync(p, c.make);
    const before = snapshot(p);
    for (const argv of [['status'], ['override', 'fff51000.ethernet', 'vfio-platform']]) {
      const human = await run(p, ...argv);
      assert.equal(human.code, 4, `${argv[0]}: exit ${human.code}\n${human.stderr}`);
      assert.equal(human.stdout, '');
      const [first, hint, ...more] = human.stderr.trimEnd().split('\n');
      assert.equal(more.length, 0, human.stderr);
      assert.ok(first!.startsWith(`vfioctl: ${p}: `), first);
      assert.match(first!, c.message);
      assert.match(hint!, /^hint: /);
      assert.match(hint!, c.hint ?? RECOVER);
      assert.equal(snapshot(p), before, `${argv[0]} changed the state file or left something next to it`);

      const j = await run(p, '--json', ...argv);
      assert.equal(j.code, 4);
      assert.equal(j.stdout, '');
      const e = (JSON.parse(j.stderr) as { error: { code: string; message: string; path: string; hint: string } }).error;
      assert.equal(e.code, 'STATE');
      assert.equal(e.path, p);
      assert.match(e.message, c.message);
      assert.match(e.hint, c.hint ?? RECOVER);
      assert.equal(snapshot(p), before);
    }

    if (c.noMove) {
      // not a regular file: load --force renames nothing (as root, --state /dev/null load --force once moved /dev/null)
      const r = await run(p, 'load', '--force', 'default');
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, c.noMove);
      assert.equal(snapshot(p), before, 'load --force moved or changed what is not a regular file');
      return;
    }
    // load --force moves it aside (kept as it was) and boots a machine with nothing of it
    const r = await run(p, 'load', '--force', 'default');
    assert.equal(r.code, 0, r.stderr);
    const moved = /moved it aside to (\S+)\n/.exec(r.stderr)?.[1];
    assert.ok(moved, `no "moved it aside" in: ${r.stderr}`);
    assert.match(moved, /\/state\.json\.corrupt-\d{8}T\d{6}Z(-\d+)?$/);
    if (c.root === 'skip') chmodSync(moved, 0o600);
    assert.equal(snapshot(moved).split('\n')[1], before.split('\n')[1], 'the moved file is not the file that was there');
    const fresh = path.join(tempDir('vfioctl-fresh-'), 'state.json');
    assert.equal((await run(fresh, '-q', 'load', 'default')).code, 0);
    assert.deepEqual(readFileSync(p), readFileSync(fresh), 'the new state is not a freshly loaded default machine');
    assert.equal((await run(p, 'status')).code, 0);
  });
}

test('load --force --json reports where the unusable file went; --dry-run moves nothing', async () => {
  const dir = tempDir('vfioctl-corrupt-');
  const p = path.join(dir, 'state.json');
  writeFileSync(p, '{"format":"vfioctl-state","version":2,"mach');
  const dry = await run(p, '--dry-run', 'load', '--force', 'default');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /--dry-run: it would be moved aside/);
  assert.deepEqual(readdirSync(dir), ['state.json']);
  const r = await run(p, '--json', 'load', '--force', 'default');
  assert.equal(r.code, 0, r.stderr);
  const moved = (JSON.parse(r.stdout) as { movedAside: string }).movedAside;
  assert.equal(readFileSync(moved, 'utf8'), '{"format":"vfioctl-state","version":2,"mach');
  // a second corrupt file in the same second does not replace the first one
  copyFileSync(moved, p);
  const again = await run(p, '--json', 'load', '--force', 'default');
  const moved2 = (JSON.parse(again.stdout) as { movedAside: string }).movedAside;
  assert.notEqual(moved2, moved);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.corrupt-')).length, 2);
  // without --force, load refuses like every other command
  writeFileSync(p, 'garbage');
  const refused = await run(p, 'load', 'default');
  assert.equal(refused.code, 4);
  assert.equal(readFileSync(p, 'utf8'), 'garbage');
});

test('a state that cannot be written: exit 4, the previous state kept, nothing left behind', async () => {
  const dir = tempDir('vfioctl-corrupt-');
  const p = path.join(dir, 'state.json');
  assert.equal((await run(p, '-q', 'load', 'default')).code, 0);
  const before = readFileSync(p);
  // a file-size limit below the state's size: write(2) fails with EFBIG (SIGXFSZ ignored)
  const r = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 2; exec "$0" "$@"`, process.execPath, BIN, '--state', p, 'override', 'fff51000.ethernet', 'vfio-platform'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NO_COLOR: '1' } });
  assert.equal(r.status, 4, r.stderr);
  assert.match(r.stderr, new RegExp(`^vfioctl: ${p}: cannot write the state file: .*EFBIG.*\nhint: nothing was changed: the previous state is still in place`));
  assert.deepEqual(readFileSync(p), before);
  assert.deepEqual(readdirSync(dir).sort(), ['state.json']);
});
